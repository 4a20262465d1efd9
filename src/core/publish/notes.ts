/**
 * Release notes from a changelog.
 *
 *   changelogSection(text, version) -> string | undefined   // the body under the heading naming `version`
 *   readReleaseNotes(dir, version) -> Promise<string | undefined>   // from <dir>/CHANGELOG.md
 *
 * A heading names a version when the version appears as a whole word in it, with or without a
 * leading "v" or brackets: "## 1.4.0", "## [1.4.0] - 2026-11-25", "### v1.4.0 (beta)". The section
 * runs to the next heading of the same or a higher level.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fsReason, OtaError } from '../errors';

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function changelogSection(text: string, version: string): string | undefined {
  const lines = text.split(/\r?\n/);
  const names = new RegExp(`(^|[\\s\\[(v])${escape(version)}(?=$|[\\s\\]),:])`);
  let level = 0;
  let start = -1;
  for (let i = 0; i < lines.length; i++) {
    const h = /^(#{1,6})\s+(.*)$/.exec(lines[i]);
    if (!h) continue;
    if (start >= 0 && h[1].length <= level) return trimmed(lines.slice(start, i));
    if (start < 0 && names.test(h[2])) {
      level = h[1].length;
      start = i + 1;
    }
  }
  return start >= 0 ? trimmed(lines.slice(start)) : undefined;
}

function trimmed(lines: string[]): string | undefined {
  const body = lines.join('\n').trim();
  return body || undefined;
}

export async function readReleaseNotes(dir: string, version: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, 'CHANGELOG.md'), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined; // caller falls back
    throw new OtaError('unreadable', `cannot read CHANGELOG.md: ${fsReason(err)}`);
  }
  return changelogSection(text, version);
}

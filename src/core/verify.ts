// Checks a tree against a manifest and names every difference.
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { fsReason, OtaError } from './errors';
import { hashFiles } from './hash';
import type { Manifest } from './manifest-types';
import { listProjectFiles, type WalkOptions } from './walk';

export interface ChangedFile {
  path: string;
  /** What differs, e.g. "size 10 != 12" or "sha256". */
  reason: string;
}

export interface VerifyReport {
  ok: boolean;
  /** In the manifest, not in the tree. */
  missing: string[];
  /** In the tree (after .otaignore and globs), not in the manifest. */
  extra: string[];
  changed: ChangedFile[];
  /** Files whose size and both hashes match. */
  matched: number;
}

async function exists(abs: string): Promise<boolean> {
  try {
    await lstat(abs);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new OtaError('unreadable', `cannot read ${abs}: ${fsReason(err)}`, {
      cause: err,
    });
  }
}

/** Compares `dir` with `manifest`: every listed file by size, git SHA-1 and SHA-256, and any file not listed. */
export async function verifyTree(
  manifest: Manifest,
  dir: string,
  opts: WalkOptions = {},
): Promise<VerifyReport> {
  const listed = new Set(manifest.files.map((f) => f.path));
  let present: string[] = [];
  try {
    present = (await listProjectFiles(dir, opts)).map((f) => f.path);
  } catch (err) {
    if (!(err instanceof OtaError && err.code === 'empty_project')) throw err;
  }
  const extra = present.filter((p) => !listed.has(p));
  const missing: string[] = [];
  const changed: ChangedFile[] = [];
  const found: typeof manifest.files = [];
  for (const f of manifest.files) {
    if (await exists(join(dir, f.path))) found.push(f);
    else missing.push(f.path);
  }
  const hashes = await hashFiles(found.map((f) => join(dir, f.path)));
  let matched = 0;
  found.forEach((f, i) => {
    const h = hashes[i];
    const diffs: string[] = [];
    if (h.size !== f.size) diffs.push(`size ${h.size} != ${f.size}`);
    if (h.sha1 !== f.sha1) diffs.push('sha1');
    if (h.sha256 !== f.sha256) diffs.push('sha256');
    if (diffs.length) changed.push({ path: f.path, reason: diffs.join(', ') });
    else matched++;
  });
  return { ok: !missing.length && !extra.length && !changed.length, missing, extra, changed, matched };
}

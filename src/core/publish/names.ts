/**
 * The names a release is published under, per host, and the one rule for each: what a static
 * host (and `ota serve`) will serve, and what GitHub keeps as an asset name. A release with a name
 * its host cannot serve is refused before anything is published, naming the file and why; a board
 * would otherwise fail on it mid-update with a 404.
 *
 *   assetName(path) -> string                   // "lib/x.py" -> "lib__x.py" (device/ota/github.py mirrors it)
 *   servableSegment(segment) -> boolean         // the static-host rule, shared with serve.ts
 *   checkHostNames(host, release) -> void       // throws 'unservable-name' listing every problem
 */
import { OtaError } from '../errors';

export type Host = 'folder' | 'github';

/** GitHub stores release assets flat: a release path's folders are joined with `__`. */
export function assetName(path: string): string {
  return path.split('/').join('__');
}

/**
 * A path segment a static host serves. Hidden names (leading `.`) are refused by `ota serve` and by
 * the default configuration of most web servers and static hosts (nginx, Apache, GitHub Pages).
 */
export function servableSegment(segment: string): boolean {
  return !segment.startsWith('.') && !segment.includes('\\') && !segment.includes('\0');
}

/**
 * Characters GitHub keeps in an asset name. GitHub renames names with other characters (a space,
 * `~`, `:`, `(`, `+`, non-ASCII letters become `.`) and with a leading or trailing period, and boards
 * ask for the exact name, so such a file would be missing from the release as boards see it.
 */
const GITHUB_NAME = /^[A-Za-z0-9_-](?:[A-Za-z0-9._-]*[A-Za-z0-9_-])?$/;
/** Longest asset name accepted here: the common file-name limit (NAME_MAX) of the machines downloading it. */
const GITHUB_NAME_MAX = 255;

export interface ReleaseNames {
  /** Release file paths. */
  files: string[];
  /** The bundle's file name, when published. */
  bundle?: string;
  /** The firmware image's file name, when published. */
  firmware?: string;
  signed: boolean;
}

/** Every published name of the release on `host`, with what it is. */
function published(host: Host, r: ReleaseNames): { name: string; what: string }[] {
  return [
    { name: 'manifest.json', what: 'the release manifest' },
    ...(r.signed ? [{ name: 'manifest.json.sig', what: 'the manifest signature' }] : []),
    ...r.files.map((p) => ({ name: host === 'github' ? assetName(p) : p, what: p })),
    ...(r.bundle ? [{ name: r.bundle, what: 'the bundle' }] : []),
    ...(r.firmware ? [{ name: r.firmware, what: 'the firmware image' }] : []),
  ];
}

/** One line per name the host cannot serve, naming the file and why. */
export function hostProblems(host: Host, r: ReleaseNames): string[] {
  const problems: string[] = [];
  const seen = new Map<string, string>();
  for (const { name, what } of published(host, r)) {
    // GitHub keeps one asset per name compared without case (a second upload is "already_exists").
    const key = host === 'github' ? name.toLowerCase() : name;
    const other = seen.get(key);
    if (other !== undefined) {
      problems.push(
        host === 'github'
          ? `${what} and ${other} would both be the asset "${name}" (folders become __, case is ignored): rename one`
          : `${what} and ${other} would both be published as ${name}: rename one`,
      );
      continue;
    }
    seen.set(key, what);
    if (host === 'folder') {
      const hidden = name.split('/').find((s) => !servableSegment(s));
      if (hidden !== undefined) {
        problems.push(
          `${what}: "${hidden}" is a hidden name, which \`ota serve\` and most static hosts do not serve (404); rename it or add it to .otaignore`,
        );
      }
    } else if (name.length > GITHUB_NAME_MAX) {
      problems.push(`${what}: asset name "${name}" is longer than ${GITHUB_NAME_MAX} characters`);
    } else if (!GITHUB_NAME.test(name)) {
      problems.push(
        `${what}: GitHub would rename the asset "${name}" (it keeps only A-Z a-z 0-9 . _ - and no leading or trailing .), so boards could not find it; rename it`,
      );
    }
  }
  return problems;
}

/** Refuses a release with any name its host cannot serve, listing every one. */
export function checkHostNames(host: Host, r: ReleaseNames): void {
  const problems = hostProblems(host, r);
  if (problems.length === 0) return;
  const where = host === 'github' ? 'GitHub Releases' : 'a static host';
  throw new OtaError('unservable-name', `cannot publish to ${where}:\n  ${problems.join('\n  ')}`);
}

// Which files make up a release: the app, nothing else. Everything under the project root except
// what an .otaignore (at the root or in any folder, as .gitignore), --exclude or a missing --include
// leaves out, the board's reserved paths (src/core/reserved.ts), tool and editor files and secrets
// (private keys, signing keys, .env); each of the last three is reported with the reason, so a user
// sees why a file did not ship. Names no board filesystem holds, and huge files, are refused.
import { open, readFile, readdir, realpath, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import ignore from 'ignore';
import picomatch from 'picomatch';
import { fsReason, OtaError } from './errors';
import { checkReleasePath } from './paths';
import { RESERVED_WHY, reservedPath } from './reserved';
import { ustarSplit } from './tar';

export interface WalkOptions {
  /** Globs (picomatch, matched against the release path); when given, a file must match one. */
  include?: string[];
  /** Globs; a file matching any is left out. */
  exclude?: string[];
}

export interface ProjectFile {
  /** Release path: relative, `/`-separated. */
  path: string;
  /** Absolute path on this machine to read the bytes from. */
  abs: string;
}

export const IGNORE_FILE = '.otaignore';

/** A file or folder left out of a release by rule (not by the user's own ignore rules), and why. */
export interface Excluded {
  /** Release path; a folder ends with `/`. */
  path: string;
  why: string;
}

/** Tool and editor files: never part of a release, at any depth (folders end with `/`). */
const TOOL_ANYWHERE = new Map([
  ['.git/', 'git metadata'],
  ['.git', 'git metadata'],
  ['.gitignore', 'git metadata'],
  ['.gitattributes', 'git metadata'],
  ['.gitmodules', 'git metadata'],
  ['node_modules/', 'npm packages of a host tool'],
  ['.vscode/', 'editor settings (VS Code)'],
  ['.idea/', 'editor settings (JetBrains)'],
  ['__pycache__/', 'CPython bytecode cache (MicroPython cannot load it)'],
  ['.DS_Store', 'macOS folder metadata'],
  ['Thumbs.db', 'Windows folder metadata'],
  [IGNORE_FILE, 'release rules for this tool, not a board file'],
]);

/** Tool outputs at the project root. */
const TOOL_AT_ROOT = new Map([
  ['manifest.json', 'a manifest written into the workspace; the release makes its own'],
  ['manifest.json.sig', 'a signature written into the workspace; the release makes its own'],
  ['ota-releases/', 'the default output folder of Publish Release (static host)'],
]);

/** Editor swap, backup and lock files, by name (vim, emacs, most others). */
const EDITOR_LEFTOVER = /^(\..*\.sw[a-p]|.*\.sw[opx]|.*~|\.#.*|#.*#)$/;

/** Why `rel` (a folder when `dir`) is a tool or editor file, else undefined. */
export function toolFile(rel: string, dir: boolean): string | undefined {
  const base = rel.slice(rel.lastIndexOf('/') + 1);
  const name = base + (dir ? '/' : '');
  return (
    TOOL_ANYWHERE.get(name) ??
    (rel.includes('/') ? undefined : TOOL_AT_ROOT.get(name)) ??
    (!dir && EDITOR_LEFTOVER.test(base) ? 'an editor swap or backup file' : undefined)
  );
}

/** Secrets by name: never on a release host, never on a board (a release may be public). */
const SECRET_NAMES: [RegExp, string][] = [
  [/^\.env(\..*)?$/i, 'an environment file (it usually holds credentials)'],
  [/^id_(rsa|dsa|ecdsa|ed25519)(_sk)?$/i, 'an SSH private key'],
  [/\.(p12|pfx|jks|keystore)$/i, 'a private key store'],
  [/^(\.netrc|\.npmrc|\.pypirc|\.git-credentials)$/i, 'a credentials file'],
];

/** Secrets by content (any name): PEM/OpenSSH/PuTTY private keys and this tool's own signing keys. */
const SECRET_CONTENT: [RegExp, string][] = [
  [
    /"privateKey"\s*:\s*"-----BEGIN|"alg"\s*:\s*"hmac-sha256"[^}]*"secret"\s*:|"secret"\s*:[^}]*"alg"\s*:\s*"hmac-sha256"/,
    'a signing key of this tool (`ota keygen`): whoever holds it can sign releases for your boards',
  ],
  [/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----|PuTTY-User-Key-File-/, 'a private key'],
];

/** How much of each file is read to recognise a secret: every PEM or key file starts with its marker. */
const SNIFF_BYTES = 4096;

/** Why the file `rel` at `abs` is a secret that must never ship, else undefined. */
export async function secretFile(rel: string, abs: string): Promise<string | undefined> {
  const base = rel.slice(rel.lastIndexOf('/') + 1);
  for (const [re, why] of SECRET_NAMES) if (re.test(base)) return `${why}; secrets never ship`;
  let head: string;
  try {
    const fh = await open(abs, 'r');
    try {
      const buf = Buffer.alloc(SNIFF_BYTES);
      const { bytesRead } = await fh.read(buf, 0, SNIFF_BYTES, 0);
      head = buf.subarray(0, bytesRead).toString('latin1');
    } finally {
      await fh.close();
    }
  } catch (err) {
    throw fsError(err, rel);
  }
  for (const [re, why] of SECRET_CONTENT) if (re.test(head)) return `${why}; secrets never ship`;
  return undefined;
}

/** No board flash holds a file this large (ESP32 and RP2040 boards carry 2–16 MB in all). */
export const MAX_RELEASE_FILE = 16 * 1024 * 1024;

/** Windows device names: no Windows machine can create, check out or publish a file so named. */
const DEVICE_NAME = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$/i;

/**
 * Why a release path is one a board filesystem (FAT, LittleFS) or a publisher's machine cannot
 * hold, else undefined: FAT refuses `<>:"|?*`, drops a trailing dot or space (so `a.` becomes
 * `a`), and both cap a name at 255 (LittleFS: bytes).
 */
export function boardNameProblem(path: string): string | undefined {
  for (const seg of path.split('/')) {
    const s = JSON.stringify(seg);
    if (Buffer.byteLength(seg) > 255)
      return `${s} is longer than 255 bytes, the longest name FAT and LittleFS hold`;
    if (/[<>:"|?*]/.test(seg)) return `${s} contains one of <>:"|?*, which FAT cannot hold`;
    if (/[. ]$/.test(seg))
      return `${s} ends with a dot or space, which FAT drops (it would be another file's name)`;
    if (DEVICE_NAME.test(seg))
      return `${s} is a Windows device name: no Windows machine can check it out or publish it`;
  }
  return undefined;
}

/**
 * Refuses an --include pattern that names a reserved path or a tool file outright
 * (`--include ota_config.json`, `--include 'ota/**'`): the user asked for something that
 * never ships, and silently dropping it would hide that. Generic globs (`*.py`, `**`) are fine.
 */
function checkInclude(pattern: string): void {
  const segments = pattern.replace(/^\.\//, '').split('/');
  const glob = segments.findIndex((s) => /[*?[\]{}()!+@]/.test(s));
  const head = glob < 0 ? segments : segments.slice(0, glob);
  let why: string | undefined;
  for (let i = 0; i < head.length && !why; i++) {
    const p = head.slice(0, i + 1).join('/');
    const r = reservedPath(p);
    why = r
      ? RESERVED_WHY[r]
      : (toolFile(p, true) ?? (i === head.length - 1 ? toolFile(p, false) : undefined));
  }
  if (why) {
    throw new OtaError('reserved_path', `--include ${pattern}: this never ships in a release (${why})`);
  }
}

/** Why a path inside the project (a link's target) never ships: reserved at the root, or under a tool folder. */
function neverShips(rel: string): string | undefined {
  const r = reservedPath(rel);
  if (r) return `reserved for the board: ${RESERVED_WHY[r]}`;
  const parts = rel.split('/');
  for (let i = 0; i < parts.length; i++) {
    const why = toolFile(parts.slice(0, i + 1).join('/'), i < parts.length - 1);
    if (why) return why;
  }
  return undefined;
}

/** Reserved paths at the project root: the board's, left out with a note (see refuseOwnBootPy). */
function reservedFile(rel: string): string | undefined {
  const r = reservedPath(rel);
  return r ? `reserved for the board: ${RESERVED_WHY[r]}` : undefined;
}

/**
 * Building a release, a project's own boot.py is refused rather than silently left out: the user
 * wrote it to run, and a release cannot deliver it. (Comparing a board's files with a manifest,
 * or syncing over USB, simply leaves it out.)
 */
export function refuseOwnBootPy(excluded: Excluded[]): void {
  const own = excluded.find(
    (e) => reservedPath(e.path) === 'boot.py' && !e.path.endsWith('/') && !e.why.startsWith('a link'),
  );
  if (!own) return;
  throw new OtaError(
    'reserved_path',
    `${own.path}: boot.py is the board's. \`ota install\` writes it with \`import ota\` and ` +
      '`ota.boot()` first (finishing or undoing an interrupted update, counting boots for ' +
      'confirm/rollback) and keeps your own lines below them; a release that replaced it would ' +
      'remove that hook. Put start-up code in main.py, change boot.py over USB with `ota install`, ' +
      'or add boot.py to .otaignore to release without it',
  );
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function fsError(err: unknown, what: string): OtaError {
  return new OtaError('unreadable', `cannot read ${what}: ${fsReason(err)}`, { cause: err });
}

function isInside(root: string, p: string): boolean {
  return p === root || p.startsWith(root + sep);
}

/** The .otaignore files that apply in one folder, deepest last; each matches paths relative to its folder. */
type IgnoreLayers = { base: string; ig: ReturnType<typeof ignore> }[];

async function withIgnoreOf(absDir: string, relDir: string, layers: IgnoreLayers): Promise<IgnoreLayers> {
  let text: string;
  try {
    text = await readFile(join(absDir, IGNORE_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return layers;
    throw fsError(err, relDir ? `${relDir}/${IGNORE_FILE}` : IGNORE_FILE);
  }
  return [...layers, { base: relDir, ig: ignore().add(text) }];
}

/** As git decides: the deepest file with a matching pattern wins, so a nested `!pattern` re-includes. */
function isIgnored(layers: IgnoreLayers, rel: string): boolean {
  for (let i = layers.length - 1; i >= 0; i--) {
    const { base, ig } = layers[i];
    const r = ig.test(base ? rel.slice(base.length + 1) : rel);
    if (r.ignored) return true;
    if (r.unignored) return false;
  }
  return false;
}

/** Checks that a release path can be named everywhere it must go: manifest, bundle, board. */
function checkName(path: string): void {
  try {
    checkReleasePath(path);
  } catch (err) {
    if (err instanceof OtaError) throw new OtaError('bad_name', `cannot release this file: ${err.message}`);
    throw err;
  }
  const board = boardNameProblem(path);
  if (board) throw new OtaError('bad_name', `cannot release ${path}: ${board}`);
  ustarSplit(path);
}

export interface ProjectListing {
  /** Sorted by the bytes of their path. */
  files: ProjectFile[];
  /** Left out by rule (reserved or tool files), in walk order; the user's own ignores are not listed. */
  excluded: Excluded[];
}

/**
 * Lists the project's release files and what was left out by rule.
 * Symlinks are followed when they stay inside the root; one pointing outside
 * is refused ('path_escape'), as is any file that cannot be read or named ('bad_name',
 * boardNameProblem), one larger than MAX_RELEASE_FILE ('file_too_large'), and an --include naming
 * a reserved or tool path ('reserved_path'). Secrets (secretFile) are left out and reported.
 */
export async function walkProject(dir: string, opts: WalkOptions = {}): Promise<ProjectListing> {
  let root: string;
  try {
    root = await realpath(dir);
    if (!(await stat(root)).isDirectory()) throw new OtaError('not_a_directory', `${dir} is not a directory`);
  } catch (err) {
    if (err instanceof OtaError) throw err;
    throw fsError(err, dir);
  }
  opts.include?.forEach(checkInclude);
  const included = opts.include?.length ? picomatch(opts.include, { dot: true }) : undefined;
  const excluded = opts.exclude?.length ? picomatch(opts.exclude, { dot: true }) : undefined;
  const out: ProjectFile[] = [];
  const dropped: Excluded[] = [];
  const visited = new Set<string>([root]);

  async function walk(absDir: string, relDir: string, parentLayers: IgnoreLayers): Promise<void> {
    const layers = await withIgnoreOf(absDir, relDir, parentLayers);
    let entries;
    try {
      entries = await readdir(absDir, { withFileTypes: true, encoding: 'buffer' });
    } catch (err) {
      throw fsError(err, relDir || '.');
    }
    entries.sort((a, b) => Buffer.compare(a.name, b.name)); // the report lists the same tree the same way
    for (const entry of entries) {
      const raw = entry.name;
      const lossy = raw.toString('utf8');
      const rel = relDir ? `${relDir}/${lossy}` : lossy;
      const abs = join(absDir, lossy);
      let isDir = entry.isDirectory();
      let isFile = entry.isFile();
      const link = entry.isSymbolicLink();
      // The user's own rules first: what they ignore is simply not there, and not reported.
      if (isDir ? isIgnored(layers, rel + '/') : isIgnored(layers, rel) || excluded?.(rel)) continue;
      const tool = link ? (toolFile(rel, true) ?? toolFile(rel, false)) : toolFile(rel, isDir);
      if (tool) {
        dropped.push({ path: isDir ? rel + '/' : rel, why: tool });
        continue;
      }
      if (link) {
        let target: string;
        try {
          target = await realpath(abs);
        } catch (err) {
          throw fsError(err, `${rel} (symlink)`);
        }
        if (!isInside(root, target)) {
          throw new OtaError('path_escape', `${rel} is a symlink to ${target}, outside the project root`);
        }
        // A link must not carry what never ships under another name (ota_config.json's token).
        const to = relative(root, target).split(sep).join('/');
        const hidden = to ? neverShips(to) : undefined;
        if (hidden) {
          dropped.push({ path: rel, why: `a link to ${to}: ${hidden}` });
          continue;
        }
        const st = await stat(target);
        isDir = st.isDirectory();
        isFile = st.isFile();
        if (isDir) {
          if (visited.has(target)) continue; // a loop back into a directory already walked
          if (isIgnored(layers, rel + '/')) continue;
          visited.add(target);
        }
      }
      const reserved = relDir ? undefined : reservedFile(rel);
      if (reserved) {
        dropped.push({ path: isDir ? rel + '/' : rel, why: reserved });
        continue;
      }
      if (!isDir && included && !included(rel)) continue;
      try {
        utf8.decode(raw);
      } catch {
        throw new OtaError('bad_name', `cannot release ${JSON.stringify(rel)}: its name is not valid UTF-8`);
      }
      if (isDir) {
        await walk(abs, rel, layers);
        continue;
      }
      if (!isFile) throw new OtaError('unreadable', `${rel} is not a regular file (device, FIFO or socket)`);
      const secret = await secretFile(rel, abs);
      if (secret) {
        dropped.push({ path: rel, why: secret });
        continue;
      }
      checkName(rel);
      const size = (await stat(abs).catch((err: unknown) => Promise.reject(fsError(err, rel)))).size;
      if (size > MAX_RELEASE_FILE) {
        throw new OtaError(
          'file_too_large',
          `${rel} is ${size} bytes; no board holds a file over ${MAX_RELEASE_FILE / 1048576} MiB. ` +
            `Add it to ${IGNORE_FILE} if it is not part of the app`,
        );
      }
      out.push({ path: rel, abs });
    }
  }

  await walk(root, '', []);
  out.sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
  if (out.length === 0) {
    throw new OtaError(
      'empty_project',
      `no files to release in ${dir} (check .otaignore and --include/--exclude)` +
        (dropped.length ? `; left out by rule: ${dropped.map((e) => e.path).join(', ')}` : ''),
    );
  }
  return { files: out, excluded: dropped };
}

/** The project's release files (walkProject without the report). */
export async function listProjectFiles(dir: string, opts: WalkOptions = {}): Promise<ProjectFile[]> {
  return (await walkProject(dir, opts)).files;
}

/** One line per excluded entry, as the CLI and the extension print them. */
export function describeExcluded(excluded: Excluded[]): string[] {
  return excluded.map((e) => `left out ${e.path}: ${e.why}`);
}

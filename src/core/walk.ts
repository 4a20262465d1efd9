// Which files make up a release: everything under the project root except
// what an .otaignore (at the root or in any folder, as .gitignore), --exclude or a missing --include leaves out.
import { readFile, readdir, realpath, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import ignore from 'ignore';
import picomatch from 'picomatch';
import { OtaError } from './errors';
import { checkReleasePath } from './paths';
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

/** Never part of a release, at any depth. */
const SKIP_DIRS = new Set(['.git', 'node_modules']);
export const IGNORE_FILE = '.otaignore';

const utf8 = new TextDecoder('utf-8', { fatal: true });

function fsError(err: unknown, what: string): OtaError {
  const code = (err as NodeJS.ErrnoException).code ?? 'unknown';
  return new OtaError('unreadable', `cannot read ${what}: ${code}`, { cause: err });
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
  ustarSplit(path);
}

/**
 * Lists the project's release files, sorted by the bytes of their path.
 * Symlinks are followed when they stay inside the root; one pointing outside
 * is refused ('path_escape'), as is any file that cannot be read or named.
 */
export async function listProjectFiles(dir: string, opts: WalkOptions = {}): Promise<ProjectFile[]> {
  let root: string;
  try {
    root = await realpath(dir);
    if (!(await stat(root)).isDirectory()) throw new OtaError('not_a_directory', `${dir} is not a directory`);
  } catch (err) {
    if (err instanceof OtaError) throw err;
    throw fsError(err, dir);
  }
  const included = opts.include?.length ? picomatch(opts.include, { dot: true }) : undefined;
  const excluded = opts.exclude?.length ? picomatch(opts.exclude, { dot: true }) : undefined;
  const out: ProjectFile[] = [];
  const visited = new Set<string>([root]);

  async function walk(absDir: string, relDir: string, parentLayers: IgnoreLayers): Promise<void> {
    const layers = await withIgnoreOf(absDir, relDir, parentLayers);
    let entries;
    try {
      entries = await readdir(absDir, { withFileTypes: true, encoding: 'buffer' });
    } catch (err) {
      throw fsError(err, relDir || '.');
    }
    for (const entry of entries) {
      const raw = entry.name;
      const lossy = raw.toString('utf8');
      const rel = relDir ? `${relDir}/${lossy}` : lossy;
      if (entry.isDirectory() && SKIP_DIRS.has(lossy)) continue;
      if (lossy === IGNORE_FILE || (!relDir && lossy === '.ota')) continue;
      const abs = join(absDir, lossy);
      let isDir = entry.isDirectory();
      let isFile = entry.isFile();
      if (entry.isSymbolicLink()) {
        if (isIgnored(layers, rel) || excluded?.(rel)) continue;
        let target: string;
        try {
          target = await realpath(abs);
        } catch (err) {
          throw fsError(err, `${rel} (symlink)`);
        }
        if (!isInside(root, target)) {
          throw new OtaError('path_escape', `${rel} is a symlink to ${target}, outside the project root`);
        }
        const st = await stat(target);
        isDir = st.isDirectory();
        isFile = st.isFile();
        if (isDir) {
          if (visited.has(target)) continue; // a loop back into a directory already walked
          visited.add(target);
        }
      }
      if (
        isDir
          ? isIgnored(layers, rel + '/')
          : isIgnored(layers, rel) || excluded?.(rel) || (included && !included(rel))
      ) {
        continue;
      }
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
      checkName(rel);
      out.push({ path: rel, abs });
    }
  }

  await walk(root, '', []);
  out.sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
  if (out.length === 0) {
    throw new OtaError(
      'empty_project',
      `no files to release in ${dir} (check .otaignore and --include/--exclude)`,
    );
  }
  return out;
}

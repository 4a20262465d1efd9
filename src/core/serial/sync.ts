/**
 * Make a board hold a set of files: only files whose sha256 differs are uploaded,
 * and the paths a release dropped are removed.
 *
 *   await syncFiles(board, { files: [{ path: 'main.py', data }], remove: ['old.py'], root: '/' }, { onProgress })
 *     -> { uploaded, unchanged, removed, bytes }
 *   await collectProject('/my/project') -> { files, remove }   // what `ota push` syncs
 *
 * Paths are release paths (relative, checked by core/paths.ts), placed under `root` on the board.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OtaError } from '../errors';
import { checkReleasePath } from '../paths';
import { listProjectFiles } from '../walk';
import * as fs from './board-fs';
import type { BoardConnection } from './board';

export interface SyncFile {
  path: string;
  data: Uint8Array;
}

export interface SyncPlan {
  files: SyncFile[];
  /** Release paths to delete from the board (a manifest's "delete"). */
  remove?: string[];
  /** Board directory the paths live under (default '/'). */
  root?: string;
}

export interface SyncResult {
  uploaded: string[];
  unchanged: string[];
  removed: string[];
  /** File bytes sent. */
  bytes: number;
}

function boardPath(root: string, rel: string): string {
  return (root.endsWith('/') ? root : root + '/') + checkReleasePath(rel);
}

export async function syncFiles(
  board: BoardConnection,
  plan: SyncPlan,
  opts: fs.WriteOptions = {},
): Promise<SyncResult> {
  const root = fs.checkBoardPath(plan.root ?? '/');
  const files = plan.files.map((f) => ({ rel: f.path, path: boardPath(root, f.path), data: f.data }));
  const remove = (plan.remove ?? []).map((p) => ({ rel: p, path: boardPath(root, p) }));
  return board.exclusive(async () => {
    const rel = (p: string) => p.slice(root === '/' ? 1 : root.length + 1);
    const { written, removed } = await fs.sync(
      board,
      root === '/' ? '/' : root + '/',
      files.map((f) => ({ path: rel(f.path), data: f.data })),
      remove.map((r) => rel(r.path)),
      opts,
    );
    return {
      uploaded: files.filter((_, i) => written[i]).map((f) => f.rel),
      unchanged: files.filter((_, i) => !written[i]).map((f) => f.rel),
      removed: remove.filter((_, i) => removed[i]).map((r) => r.rel),
      bytes: files.filter((_, i) => written[i]).reduce((n, f) => n + f.data.length, 0),
    };
  });
}

/**
 * The files of a project folder for `ota push`: when the folder holds a manifest.json,
 * exactly its files (and its "delete" list), otherwise every file the project walk
 * keeps (.otaignore, .git and friends excluded).
 */
export async function collectProject(dir: string): Promise<SyncPlan> {
  let manifestText: string | undefined;
  try {
    manifestText = await readFile(join(dir, 'manifest.json'), 'utf8');
  } catch {
    manifestText = undefined;
  }
  if (manifestText !== undefined) {
    let m: { files?: { path: string }[]; delete?: string[] };
    try {
      m = JSON.parse(manifestText) as typeof m;
    } catch (err) {
      throw new OtaError('bad_manifest', `${join(dir, 'manifest.json')} is not valid JSON`, { cause: err });
    }
    const files: SyncFile[] = [];
    for (const f of m.files ?? []) {
      files.push({ path: checkReleasePath(f.path), data: await readFile(join(dir, f.path)) });
    }
    return { files, remove: m.delete ?? [] };
  }
  const files: SyncFile[] = [];
  for (const f of await listProjectFiles(dir)) {
    files.push({ path: f.path, data: await readFile(f.abs) });
  }
  return { files };
}

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
import { sha256Hex } from './transfer';

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
    const have = await fs.stat(board, [...files.map((f) => f.path), ...remove.map((r) => r.path)]);
    const changed = files.filter((f) => have.get(f.path)?.sha256 !== sha256Hex(f.data));
    await fs.writeFiles(board, changed, opts);
    const gone = remove.filter((r) => have.get(r.path) !== undefined);
    for (const r of gone) await fs.rm(board, r.path);
    return {
      uploaded: changed.map((f) => f.rel),
      unchanged: files.filter((f) => !changed.includes(f)).map((f) => f.rel),
      removed: gone.map((r) => r.rel),
      bytes: changed.reduce((n, f) => n + f.data.length, 0),
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

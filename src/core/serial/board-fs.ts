/**
 * Files on a board, through the raw REPL and the helpers of board-helpers.ts.
 * Board paths are absolute ('/lib/x.py'). Used through BoardConnection (board.ts):
 *
 *   ls(s, '/', { hashes: true })  -> BoardEntry[] (recursive, sizes, sha256)
 *   stat(s, ['/a.py', …])         -> Map<path, { size, sha256 } | undefined>
 *   readFile(s, '/a.py')          -> Buffer
 *   writeFiles(s, [{ path, data }], { onProgress })   temp name, sha256 check on the board, rename
 *   mkdirp(s, '/lib/x'), rm(s, '/lib')
 */
import { OtaError } from '../errors';
import { py } from './board-helpers';
import { fileStatements, packCommands, shouldStream, streamFile, type Statement } from './transfer';
import type { ExecOptions } from './raw-repl';

/** What board-fs needs from a connection: run commands with the helpers loaded. */
export interface HelperSession {
  run(code: string, opts?: ExecOptions): Promise<Buffer>;
  runMany(codes: string[], opts?: ExecOptions): Promise<Buffer[]>;
  /** Runs a command that asks for each of `blocks` in turn (RawRepl.execStream). */
  stream(code: string, blocks: Buffer[], opts?: ExecOptions): Promise<Buffer>;
  /** Loads the helpers (and learns canInflate/canStream/preferHex) if this session has not yet. */
  prepare(): Promise<void>;
  readonly canInflate: boolean;
  /** The board has sys.stdin.buffer and speaks raw paste: big files go raw through _ota_receive. */
  readonly canStream: boolean;
  readonly preferHex: boolean;
  readonly commandBudget: number;
}

export interface BoardEntry {
  path: string;
  type: 'file' | 'dir';
  size: number;
  sha256?: string;
}

export interface Progress {
  path: string;
  /** File bytes delivered in this operation so far, and in total. */
  done: number;
  total: number;
  bytesPerSec: number;
}

export interface WriteOptions {
  onProgress?(p: Progress): void;
  /** Send deflate-compressed chunks when the board has deflate.DeflateIO (default true). */
  compress?: boolean;
}

export function checkBoardPath(p: string): string {
  if (!p.startsWith('/') || p.includes('\0') || p.split('/').some((s) => s === '..')) {
    throw new OtaError('bad_path', `board paths are absolute and without "..": ${JSON.stringify(p)}`);
  }
  return p.length > 1 ? p.replace(/\/+$/, '') : p;
}

function lines(out: Buffer): string[] {
  return out
    .toString('utf8')
    .split(/\r?\n/)
    .filter((l) => l.length > 0);
}

export async function ls(
  s: HelperSession,
  dir = '/',
  opts: { hashes?: boolean } = {},
): Promise<BoardEntry[]> {
  const out = await s.run(`_ota_list(${py(checkBoardPath(dir))},${opts.hashes ? 1 : 0})`, {
    idleTimeoutMs: 30_000,
  });
  return lines(out).map((l) => {
    const m = /^([DF]) (\d+) (\S+) (.*)$/.exec(l);
    if (!m) throw new OtaError('protocol', `unexpected listing line from the board: ${JSON.stringify(l)}`);
    return {
      path: m[4],
      type: m[1] === 'D' ? 'dir' : 'file',
      size: Number(m[2]),
      ...(m[3] !== '-' ? { sha256: m[3] } : {}),
    };
  });
}

const STAT_BATCH = 40;

export async function stat(
  s: HelperSession,
  paths: string[],
): Promise<Map<string, { size: number; sha256?: string } | undefined>> {
  const result = new Map<string, { size: number; sha256?: string } | undefined>();
  if (paths.length === 0) return result;
  // Batches keep each command's list of paths small in the board's heap; they run pipelined.
  const codes: string[] = [];
  for (let i = 0; i < paths.length; i += STAT_BATCH) {
    codes.push(
      `_ota_stat([${paths
        .slice(i, i + STAT_BATCH)
        .map((p) => py(checkBoardPath(p)))
        .join(',')}])`,
    );
  }
  const outs = await s.runMany(codes, { idleTimeoutMs: 30_000 });
  for (const l of outs.flatMap(lines)) {
    const m = /^(\S+) (\S+) (.*)$/.exec(l);
    if (!m) throw new OtaError('protocol', `unexpected stat line from the board: ${JSON.stringify(l)}`);
    result.set(
      m[3],
      m[1] === '-' ? undefined : { size: Number(m[1]), ...(m[2] !== '-' ? { sha256: m[2] } : {}) },
    );
  }
  return result;
}

/** File bytes per read command: bounds what one command allocates on the board. */
const READ_SPAN = 8192;

export async function readFile(s: HelperSession, path: string): Promise<Buffer> {
  const size = (await stat(s, [path])).get(checkBoardPath(path))?.size;
  if (size === undefined) throw new OtaError('not_found', `${path} does not exist on the board`);
  const codes: string[] = [];
  for (let o = 0; o < size; o += READ_SPAN) {
    codes.push(`_ota_print_range(${py(path)},${o},${Math.min(READ_SPAN, size - o)},${s.preferHex ? 1 : 0})`);
  }
  const outs = await s.runMany(codes, { idleTimeoutMs: 30_000 });
  const data = Buffer.concat(
    outs.flatMap((out) => lines(out).map((l) => Buffer.from(l, s.preferHex ? 'hex' : 'base64'))),
  );
  if (data.length !== size) {
    throw new OtaError(
      'protocol',
      `read ${data.length} bytes of ${path}, expected ${size} (did it change meanwhile?)`,
    );
  }
  return data;
}

export async function mkdirp(s: HelperSession, path: string): Promise<void> {
  await s.run(`_ota_mkdirs(${py(checkBoardPath(path))})`);
}

export async function rm(s: HelperSession, path: string): Promise<void> {
  if (checkBoardPath(path) === '/') throw new OtaError('bad_path', 'refusing to remove the whole filesystem');
  await s.run(`_ota_remove(${py(path)})`, { idleTimeoutMs: 30_000 });
}

function parentDirs(paths: string[]): string[] {
  const dirs = new Set<string>();
  for (const p of paths) {
    const d = p.slice(0, p.lastIndexOf('/'));
    if (d) dirs.add(d);
  }
  return [...dirs].sort();
}

/**
 * Writes files: parents created, each file streamed to `<path>.ota-part`, its sha256
 * checked on the board after the last byte, then renamed over the real name. Small and
 * compressible files go in one pipelined run of commands; then big incompressible ones
 * are streamed raw, one command each, when the board can.
 */
export async function writeFiles(
  s: HelperSession,
  files: { path: string; data: Uint8Array }[],
  opts: WriteOptions = {},
): Promise<void> {
  if (files.length === 0) return;
  await s.prepare(); // the encoding depends on what the board can decode
  const deflate = (opts.compress ?? true) && s.canInflate;
  const stmts: Statement[] = parentDirs(files.map((f) => checkBoardPath(f.path))).map((d) => ({
    code: `_ota_mkdirs(${py(d)})`,
    bytes: 0,
  }));
  const streamed = s.canStream ? files.filter((f) => shouldStream(f.data)) : [];
  for (const f of files) {
    if (!streamed.includes(f)) stmts.push(...fileStatements(f.path, f.data, { deflate, hex: s.preferHex }));
  }
  const cmds = packCommands(stmts, s.commandBudget);
  const total = files.reduce((n, f) => n + f.data.length, 0);
  const start = Date.now();
  let done = 0;
  const report = (path: string, bytes: number) => {
    done += bytes;
    const secs = Math.max((Date.now() - start) / 1000, 1e-3);
    opts.onProgress?.({ path, done, total, bytesPerSec: done / secs });
  };
  if (cmds.length) {
    await s.runMany(
      cmds.map((c) => c.code),
      {
        idleTimeoutMs: 30_000,
        onCommandDone: (i) => report(cmds[i].paths[cmds[i].paths.length - 1] ?? '', cmds[i].bytes),
      },
    );
  }
  for (const f of streamed) {
    const { command, blocks } = streamFile(f.path, f.data);
    await s.stream(
      command,
      blocks.map((b) => b.block),
      { idleTimeoutMs: 30_000, onCommandDone: (i) => report(f.path, blocks[i].bytes) },
    );
  }
}

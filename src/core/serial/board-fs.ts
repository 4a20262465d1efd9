/**
 * Files on a board, through the raw REPL and the helpers of board-helpers.ts.
 * Board paths are absolute ('/lib/x.py'). Used through BoardConnection (board.ts):
 *
 *   ls(s, '/', { hashes: true })  -> BoardEntry[] (recursive, sizes, sha256)
 *   stat(s, ['/a.py', …])         -> Map<path, { size, sha256 } | undefined>
 *   readFile(s, '/a.py')          -> Buffer
 *   sync(s, '/app/', [{ path: 'main.py', data }], ['old.py'], { onProgress })   only what differs; never renamed
 *   writeFiles(s, [{ path: '/main.py', data }], { onProgress })
 *   mkdirp(s, '/lib/x'), rm(s, '/lib')
 */
import { OtaError } from '../errors';
import { py } from './board-helpers';
import {
  fileStatements,
  hex4,
  packCommands,
  pushStream,
  sha256Hex,
  type Statement,
  type StreamBlock,
} from './transfer';
import type { ExecOptions, StreamPlan } from './raw-repl';

/** What board-fs needs from a connection: run commands with the helpers loaded. */
export interface HelperSession {
  run(code: string, opts?: ExecOptions): Promise<Buffer>;
  runMany(codes: string[], opts?: ExecOptions): Promise<Buffer[]>;
  /** Runs a command that asks for each of `blocks` in turn (RawRepl.execStream; `head`: lines it prints first). */
  stream(
    code: string,
    blocks: Buffer[] | ((head: string[]) => StreamPlan),
    opts?: ExecOptions & { head?: number },
  ): Promise<Buffer>;
  readonly repl: { rawPaste: boolean | undefined };
  /** Loads the helpers (and learns canInflate/canStream/preferHex) if this session has not yet. */
  prepare(): Promise<void>;
  readonly canInflate: boolean;
  /** The board has sys.stdin.buffer and speaks raw paste: files go as one raw stream through _ota_push. */
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
  const checked = paths.map(checkBoardPath);
  // Batches keep each command's list of paths small in the board's heap; they run pipelined.
  const codes: string[] = [];
  for (let i = 0; i < checked.length; i += STAT_BATCH) {
    codes.push(
      `_ota_stat([${checked
        .slice(i, i + STAT_BATCH)
        .map(py)
        .join(',')}])`,
    );
  }
  const outs = (await s.runMany(codes, { idleTimeoutMs: 30_000 })).flatMap(lines);
  if (outs.length !== checked.length) {
    throw new OtaError(
      'protocol',
      `the board answered ${outs.length} stat lines for ${checked.length} paths`,
    );
  }
  outs.forEach((l, i) => {
    const m = /^(?:-|(\d+) (\S+))$/.exec(l);
    if (!m) throw new OtaError('protocol', `unexpected stat line from the board: ${JSON.stringify(l)}`);
    result.set(
      checked[i],
      m[1] === undefined ? undefined : { size: Number(m[1]), ...(m[2] !== '-' ? { sha256: m[2] } : {}) },
    );
  });
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

/** What sync() found: per file, whether it differed (and was written); per removal, whether it existed (and went). */
export interface SyncOutcome {
  written: boolean[];
  removed: boolean[];
}

/**
 * Makes `root` + each file's path hold its bytes and removes `root` + each of `remove`, sending
 * only the files that differ, never renaming over one (a FAT rename cut halfway cross-links two
 * entries: docs/updater-swap.md). Each file is staged under /.ota/push and its SHA-256 checked
 * there on what reached flash; then the board writes its marker and copies each file in place,
 * reading it back (board_helpers.py, _ota_done). A cut before the marker leaves every old file;
 * after it, the next session finishes the copy.
 *
 * One command when the board reads sys.stdin.buffer (_ota_sync: it says which files differ, then
 * takes them as one raw stream, pushStream); others get _ota_stat, then pipelined commands of
 * base64 or hex statements. `root` ends with '/' (or is '' for absolute paths).
 */
export async function sync(
  s: HelperSession,
  root: string,
  files: { path: string; data: Uint8Array }[],
  remove: string[],
  opts: WriteOptions = {},
): Promise<SyncOutcome> {
  for (const p of [...files.map((f) => f.path), ...remove]) checkBoardPath(root ? root + p : p);
  const hashes = files.map((f) => sha256Hex(f.data).slice(0, 16)).join('');
  const total = files.reduce((n, f) => n + f.data.length, 0);
  const start = Date.now();
  let done = 0;
  const report = (path: string, bytes: number) => {
    done += bytes;
    const secs = Math.max((Date.now() - start) / 1000, 1e-3);
    opts.onProgress?.({ path, done, total, bytesPerSec: done / secs });
  };
  let outcome: SyncOutcome | undefined;
  let blocks: StreamBlock[] = [];
  // Learnt by the first command of a session; changes under us when that is this one.
  const noPaste = () => s.repl.rawPaste === false;
  if (!noPaste()) {
    try {
      await s.stream(
        `_ota_sync(${py(root)},[${files.map((f) => py(f.path)).join(',')}],[${files.map((f) => f.data.length).join(',')}],'${hashes}',[${remove.map(py).join(',')}])`,
        ([head]) => {
          outcome = parseOutcome(head, files.length, remove.length);
          if (!s.canStream) return { blocks: [] };
          const want = files.filter((_, i) => outcome?.written[i]);
          const stream = pushStream(want, (opts.compress ?? true) && s.canInflate);
          blocks = stream.blocks;
          // The first block's length, which the command (sent before the board chose) cannot carry.
          return {
            lead: stream.blocks.length ? Buffer.from(hex4(stream.first), 'latin1') : undefined,
            blocks: stream.blocks.map((b) => b.block),
          };
        },
        {
          idleTimeoutMs: 30_000,
          head: 1,
          onCommandDone: (i) => report(blocks[i].path, blocks[i].bytes),
        },
      );
    } catch (err) {
      if (!noPaste()) throw err;
    }
  }
  if (!outcome) {
    // No raw paste: what differs, then statements.
    const have = await stat(s, [...files.map((f) => root + f.path), ...remove.map((p) => root + p)]);
    outcome = {
      written: files.map((f) => have.get(checkBoardPath(root + f.path))?.sha256 !== sha256Hex(f.data)),
      removed: remove.map((p) => have.get(checkBoardPath(root + p)) !== undefined),
    };
  }
  if (s.canStream && !noPaste()) return outcome;
  const o = outcome;
  const want = files.filter((_, i) => o.written[i]);
  const gone = remove.filter((_, i) => o.removed[i]).map((p) => root + p);
  if (want.length === 0 && gone.length === 0) return o;
  const deflate = (opts.compress ?? true) && s.canInflate;
  const stmts: Statement[] = [{ code: '_ota_begin()', bytes: 0 }];
  for (const f of want) stmts.push(...fileStatements(root + f.path, f.data, { deflate, hex: s.preferHex }));
  stmts.push({ code: `_ota_done([${gone.map(py).join(',')}])`, bytes: 0 });
  const cmds = packCommands(stmts, s.commandBudget);
  await s.runMany(
    cmds.map((c) => c.code),
    {
      idleTimeoutMs: 30_000,
      onCommandDone: (i) => report(cmds[i].paths[cmds[i].paths.length - 1] ?? '', cmds[i].bytes),
    },
  );
  return o;
}

function parseOutcome(head: string, files: number, removals: number): SyncOutcome {
  const m = /^([01]*) ([01]*)$/.exec(head);
  if (!m || m[1].length !== files || m[2].length !== removals) {
    throw new OtaError('protocol', `unexpected answer from the board's sync: ${JSON.stringify(head)}`);
  }
  return { written: [...m[1]].map((c) => c === '1'), removed: [...m[2]].map((c) => c === '1') };
}

/** Writes files (absolute board paths); files that already hold these bytes are left alone. */
export async function writeFiles(
  s: HelperSession,
  files: { path: string; data: Uint8Array }[],
  opts: WriteOptions = {},
): Promise<void> {
  if (files.length === 0) return;
  await sync(s, '', files, [], opts);
}

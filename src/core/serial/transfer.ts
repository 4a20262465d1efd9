/**
 * How file bytes travel to the board. A board that reads sys.stdin.buffer gets one push stream
 * (pushStream: raw bytes, 4 KB pieces raw-deflated when that helps). Others get Python statements
 * calling the board helpers (board-helpers.ts): base64 or hex chunks of up to BLOCK input bytes,
 * each deflated when the board can inflate it and that makes it smaller, packed into commands of
 * about `budget` bytes, so small files share one command and the board compiles few commands.
 *
 *   const { blocks, first } = pushStream(files, true);   // for RawRepl.execStream
 *   const stmts = fileStatements('/main.py', bytes, { deflate: true });
 *   const cmds = packCommands(stmts, 4096);   // -> [{ code, bytes }] for RawRepl.execMany
 */
import { createHash } from 'node:crypto';
import { deflatePrimed, py, STREAM_BLOCK } from './board-helpers';

/**
 * Input bytes per chunk: about 4 KB of text either way. Independent blocks of at most
 * 4 KB also keep every back-reference within the 4 KB window the board inflates with
 * (wbits 12, 4 KB of heap).
 */
const BLOCK = { base64: 3060, hex: 2040, deflate: 4096 };

export interface Statement {
  code: string;
  /** File bytes this statement delivers (for progress). */
  bytes: number;
  path?: string;
}

export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export interface EncodeOptions {
  /** The board can inflate raw deflate (deflate.DeflateIO). */
  deflate: boolean;
  /** Send hex instead of base64 (the board's base64 decoder is slow Python). */
  hex: boolean;
}

/** Statements staging one file (the board's _ota_open / _ota_write_* / _ota_commit); _ota_begin comes first, _ota_done last. */
export function fileStatements(path: string, data: Uint8Array, opts: EncodeOptions): Statement[] {
  const out: Statement[] = [{ code: `_ota_open(${py(path)})`, bytes: 0, path }];
  const enc = (b: Uint8Array) => Buffer.from(b).toString(opts.hex ? 'hex' : 'base64');
  const [plain, inflate] = opts.hex
    ? ['_ota_write_hex', '_ota_write_hex_deflated']
    : ['_ota_write_b64', '_ota_write_b64_deflated'];
  const size = opts.hex ? BLOCK.hex : BLOCK.base64;
  for (let i = 0; i < data.length;) {
    const wide = data.subarray(i, i + BLOCK.deflate);
    const packed = opts.deflate ? deflatePrimed(wide) : undefined;
    if (packed && packed.length < wide.length * 0.9) {
      out.push({ code: `${inflate}(b'${enc(packed)}')`, bytes: wide.length, path });
      i += wide.length;
    } else {
      const block = data.subarray(i, i + size);
      out.push({ code: `${plain}(b'${enc(block)}')`, bytes: block.length, path });
      i += block.length;
    }
  }
  out.push({ code: `_ota_commit(${py(path)},'${sha256Hex(data)}')`, bytes: 0, path });
  return out;
}

/** One block of a push stream: what the board reads after an ACK, and the file bytes it carries. */
export interface StreamBlock {
  block: Buffer;
  bytes: number;
  /** The file the block's last byte belongs to (for progress). */
  path: string;
}

/** 0x10 as 10 11, 0x03 (Ctrl-C) as 10 12, into `out` from `at`; -1 if it does not fit. */
function escapeInto(src: Uint8Array, out: Buffer, at: number, limit: number): number {
  let k = at;
  for (const c of src) {
    if (c === 0x10 || c === 0x03) {
      if (k + 2 > limit) return -1;
      out[k++] = 0x10;
      out[k++] = c === 0x10 ? 0x11 : 0x12;
    } else {
      if (k + 1 > limit) return -1;
      out[k++] = c;
    }
  }
  return k;
}

/**
 * Files as one push stream (the board's _ota_push): their bytes one after another, cut into
 * blocks of at most STREAM_BLOCK encoded bytes. A block is "D" and a raw-deflate stream of the
 * next (up to) 4 KB, primed with the preset dictionary (deflatePrimed), when `deflate` and that
 * shrinks it by 10%, else "R" and raw bytes; 0x10 and
 * 0x03 are escaped; each block ends with the next one's length in 4 hex digits (`first`: the
 * first's). Small text files share blocks, so they compress together.
 */
export function pushStream(
  files: { path: string; data: Uint8Array }[],
  deflate: boolean,
): { blocks: StreamBlock[]; first: number } {
  const all = Buffer.concat(files.map((f) => f.data));
  const ends: number[] = [];
  let acc = 0;
  for (const f of files) ends.push((acc += f.data.length));
  const pathAt = (pos: number) =>
    files[
      Math.max(
        0,
        ends.findIndex((e) => e >= pos),
      )
    ]?.path ?? '';
  const blocks: StreamBlock[] = [];
  for (let i = 0; i < all.length;) {
    const buf = Buffer.allocUnsafe(STREAM_BLOCK + 4);
    const wide = all.subarray(i, i + BLOCK.deflate);
    const packed = deflate ? deflatePrimed(wide) : undefined;
    let k = packed && packed.length < wide.length * 0.9 ? escapeInto(packed, buf, 1, STREAM_BLOCK) : -1;
    let n = wide.length;
    if (k > 0) {
      buf[0] = 0x44; // D
    } else {
      buf[0] = 0x52; // R
      k = 1;
      n = 0;
      while (i + n < all.length) {
        const c = all[i + n];
        const w = c === 0x10 || c === 0x03 ? 2 : 1;
        if (k + w > STREAM_BLOCK) break;
        k = escapeInto(all.subarray(i + n, i + n + 1), buf, k, STREAM_BLOCK);
        n++;
      }
    }
    i += n;
    blocks.push({ block: buf.subarray(0, k + 4), bytes: n, path: pathAt(i) });
  }
  const lengths = blocks.map((b) => b.block.length - 4);
  blocks.forEach((b, j) => b.block.write(hex4(lengths[j + 1] ?? 0), b.block.length - 4, 'latin1'));
  return { blocks, first: lengths[0] ?? 0 };
}

export function hex4(n: number): string {
  return n.toString(16).padStart(4, '0');
}

export interface Command {
  code: string;
  bytes: number;
  paths: string[];
}

/**
 * `budget`: source bytes per command; `maxBytes`: file bytes per command, which bounds what
 * one command allocates on the board (inflated blocks can be far larger than their text).
 */
export function packCommands(stmts: Statement[], budget: number, maxBytes = 8192): Command[] {
  const cmds: Command[] = [];
  let cur: Command | undefined;
  for (const s of stmts) {
    if (!cur || cur.code.length + 1 + s.code.length > budget || cur.bytes + s.bytes > maxBytes) {
      cur = { code: s.code, bytes: s.bytes, paths: [] };
      cmds.push(cur);
    } else {
      cur.code += '\n' + s.code;
      cur.bytes += s.bytes;
    }
    if (s.path && !cur.paths.includes(s.path)) cur.paths.push(s.path);
  }
  return cmds;
}

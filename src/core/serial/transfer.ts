/**
 * How file bytes travel to the board: each file becomes Python statements calling the
 * board helpers (board-helpers.ts), base64 chunks of up to BLOCK input bytes, each
 * raw-deflate compressed when the board can inflate it and that makes it smaller; then
 * the statements are packed into commands of about `budget` bytes, so small files share
 * one command and the board compiles as few commands as possible.
 *
 *   const stmts = fileStatements('/main.py', bytes, { deflate: true });
 *   const cmds = packCommands(stmts, 4096);   // -> [{ code, bytes }] for RawRepl.execMany
 */
import { createHash } from 'node:crypto';
import { deflateSync } from 'fflate';
import { py, STREAM_BLOCK } from './board-helpers';

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

export const TEMP_SUFFIX = '.ota-part';

export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export interface EncodeOptions {
  /** The board can inflate raw deflate (deflate.DeflateIO). */
  deflate: boolean;
  /** Send hex instead of base64 (the board's base64 decoder is slow Python). */
  hex: boolean;
}

export function fileStatements(path: string, data: Uint8Array, opts: EncodeOptions): Statement[] {
  const tmp = path + TEMP_SUFFIX;
  const out: Statement[] = [{ code: `_ota_open(${py(tmp)})`, bytes: 0, path }];
  const enc = (b: Uint8Array) => Buffer.from(b).toString(opts.hex ? 'hex' : 'base64');
  const [plain, inflate] = opts.hex
    ? ['_ota_write_hex', '_ota_write_hex_deflated']
    : ['_ota_write_b64', '_ota_write_b64_deflated'];
  const size = opts.hex ? BLOCK.hex : BLOCK.base64;
  for (let i = 0; i < data.length;) {
    const wide = data.subarray(i, i + BLOCK.deflate);
    const packed = opts.deflate ? deflateSync(wide, { level: 6 }) : undefined;
    if (packed && packed.length < wide.length * 0.9) {
      out.push({ code: `${inflate}(b'${enc(packed)}')`, bytes: wide.length, path });
      i += wide.length;
    } else {
      const block = data.subarray(i, i + size);
      out.push({ code: `${plain}(b'${enc(block)}')`, bytes: block.length, path });
      i += block.length;
    }
  }
  out.push({ code: `_ota_commit(${py(tmp)},${py(path)},'${sha256Hex(data)}')`, bytes: 0, path });
  return out;
}

/** Files from this size on are streamed raw (_ota_receive) when the board can and deflate would not shrink them. */
export const STREAM_MIN = 8192;

export function shouldStream(data: Uint8Array): boolean {
  if (data.length < STREAM_MIN) return false;
  const sample = data.subarray(0, 16 * 1024);
  return deflateSync(sample, { level: 1 }).length >= sample.length * 0.9;
}

/**
 * A file streamed through _ota_receive: the command, then `blocks`, each the file's bytes with 0x10 sent
 * as 10 11 and 0x03 (Ctrl-C) as 10 12, followed by the next block's length in 4 hex digits.
 * `bytes`: file bytes in each block (for progress).
 */
export function streamFile(
  path: string,
  data: Uint8Array,
): { command: string; blocks: { block: Buffer; bytes: number }[] } {
  const blocks: { block: Buffer; bytes: number }[] = [];
  let i = 0;
  while (i < data.length) {
    const buf = Buffer.allocUnsafe(STREAM_BLOCK + 4);
    const start = i;
    let k = 0;
    while (i < data.length) {
      const c = data[i];
      if (c === 0x10 || c === 0x03) {
        if (k + 2 > STREAM_BLOCK) break;
        buf[k++] = 0x10;
        buf[k++] = c === 0x10 ? 0x11 : 0x12;
      } else {
        if (k + 1 > STREAM_BLOCK) break;
        buf[k++] = c;
      }
      i++;
    }
    blocks.push({ block: buf.subarray(0, k + 4), bytes: i - start });
  }
  // Each block ends with the next one's length; the command carries the first's.
  const lengths = blocks.map((b) => b.block.length - 4);
  blocks.forEach((b, j) => b.block.write(hex4(lengths[j + 1] ?? 0), b.block.length - 4, 'latin1'));
  const tmp = path + TEMP_SUFFIX;
  return {
    command: `_ota_receive(${py(tmp)},${py(path)},${data.length},'${sha256Hex(data)}',${lengths[0] ?? 0})`,
    blocks,
  };
}

function hex4(n: number): string {
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

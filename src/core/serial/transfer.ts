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
import { py } from './board-helpers';

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
  const out: Statement[] = [{ code: `_oO(${py(tmp)})`, bytes: 0, path }];
  const enc = (b: Uint8Array) => Buffer.from(b).toString(opts.hex ? 'hex' : 'base64');
  const [plain, inflate] = opts.hex ? ['_oX', '_oXZ'] : ['_oW', '_oWZ'];
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
  out.push({ code: `_oC(${py(tmp)},${py(path)},'${sha256Hex(data)}')`, bytes: 0, path });
  return out;
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

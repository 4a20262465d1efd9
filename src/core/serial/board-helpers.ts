/**
 * The Python helpers the host runs in the board's raw REPL globals at each session start
 * (py/board_helpers.py: what each does and the flags loading them prints), the push recovery
 * script they keep on the board (device/install.py as RECOVER_PATH, which copies each push into
 * place, and which boot.py runs), and `py()` to quote host strings as Python literals. The protocol
 * is in docs/protocols.md, "Serial".
 *
 * The helpers are sent once and cached on the board at CACHE_PATH, named by their SHA-256, so a
 * newer host brings its own: each session starts with BOOT (about 250 bytes), which checks the
 * cached copy and runs it; a missing, torn or foreign copy raises HELPERS_MISSING, and the host
 * sends cacheHelpers(), which writes and runs them, and sends the recovery script along.
 */
import { createHash } from 'node:crypto';
import { deflateRawSync } from 'node:zlib';
import '../text-import';
import installSource from '../../../device/install.py';
import { DEFLATE_DICTIONARY } from './deflate-dictionary';
import source from './py/board_helpers.py';

/** Largest encoded block _ota_push reads at once (_OTA_BLOCK, its buffer on the board). */
export const STREAM_BLOCK = 4096;
export const STREAM_ACK = 0x06;

/**
 * Python source as few bytes on the wire: comment-only and blank lines dropped, each 4-space
 * indent level made one space. Safe for code without multi-line strings (the helpers have none).
 */
export function compactPython(src: string): string {
  const lines: string[] = [];
  for (const line of src.split('\n')) {
    const body = line.trimStart();
    if (body === '' || body.startsWith('#')) continue;
    const indent = line.length - body.length;
    lines.push(' '.repeat(Math.ceil(indent / 4)) + body.trimEnd());
  }
  return lines.join('\n') + '\n';
}

/**
 * What a push keeps on the board as RECOVER_PATH: device/install.py, whole. boot.py runs it before
 * any user code while a push's marker or new-file list is there, to finish or undo that push; the
 * helpers run it to finish each push. Sent with the helpers (cacheHelpers), so once per host version.
 */
export const RECOVER_PATH = '/.ota/recover.py';
export const RECOVER_SOURCE = compactPython(installSource);
const RECOVER_SHA256 = createHash('sha256').update(RECOVER_SOURCE).digest('hex');
/**
 * The files in /.ota that say a push or the copy of boot.py's lines was cut short: install.py's
 * _OTA_MARKS, the one list. The helpers get it in their first line (HELPERS), so no round trip.
 */
export const PUSH_MARKS: readonly string[] = (() => {
  const m = /^_OTA_MARKS = \(((?:"[a-z.]+", )*"[a-z.]+")\)$/m.exec(installSource);
  if (!m) throw new Error('device/install.py no longer defines _OTA_MARKS as a tuple of names');
  return JSON.parse(`[${m[1]}]`) as string[];
})();
/** The Python set literal of the first two marks, as boot.py's lines and ota.boot() write it. */
export const PUSH_FLAGS_SET = `{${PUSH_MARKS.slice(0, 2)
  .map((n) => `'${n}'`)
  .join(', ')}}`;
/**
 * boot.py's lines that run it (install.py's _OTA_HOOK): a directory listing when no push was cut.
 * They test for the push's two marks (the third, boot.py's own, is finished by the next session).
 */
export const PUSH_HOOK_LINES = (() => {
  const m = /^_OTA_HOOK = (".*")$/m.exec(installSource);
  if (!m) throw new Error('device/install.py no longer defines _OTA_HOOK');
  const text = JSON.parse(m[1]) as string;
  if (!text.includes(`${PUSH_FLAGS_SET} & set(os.listdir('/.ota'))`))
    throw new Error(`device/install.py's _OTA_HOOK no longer tests for ${PUSH_FLAGS_SET} (_OTA_MARKS)`);
  return text.trimEnd().split('\n');
})();

/** The dictionary deflated pushes are primed with (deflate-dictionary.ts), as the board holds it. */
export const DICTIONARY = Buffer.from(DEFLATE_DICTIONARY, 'latin1');

/** board_helpers.py with the dictionary written in (one line: compactPython keeps no multi-line string). */
function withDictionary(src: string): string {
  const slot = '\n_OTA_DICT = b""\n';
  if (!src.includes(slot)) throw new Error('board_helpers.py no longer has the _OTA_DICT = b"" line');
  return src.replace(slot, () => `\n_OTA_DICT = ${pyBytes(DICTIONARY)}\n`);
}
/** Board-owned (under the reserved .ota/, which no release writes and no update or reinstall clears). */
export const CACHE_DIR = '/.ota/serial';

export const HELPERS =
  `_OTA_REC = (${py(RECOVER_SHA256)}, ${py(CACHE_DIR)}, (${PUSH_MARKS.map(py).join(', ')}))\n` +
  compactPython(withDictionary(source));
export const HELPERS_SHA256 = createHash('sha256').update(HELPERS).digest('hex');
export const CACHE_PATH = `${CACHE_DIR}/${HELPERS_SHA256.slice(0, 16)}.py`;
/** Raised when the board has no good copy of these helpers. */
export const HELPERS_MISSING = '_ota_helpers_missing';

/**
 * Sent at every session start, so kept short: runs the cached helpers (which print their flags
 * line) only if the first 128 bits of their SHA-256, as read from flash, are this host's; else
 * raises HELPERS_MISSING before any byte of the file runs. A copy torn by a cut, damaged, or from
 * another host version is written again, never used.
 */
export const BOOT = [
  'import hashlib,binascii',
  `try:_s=open(${py(CACHE_PATH)},'rb').read()`,
  "except OSError:_s=b''",
  `if binascii.hexlify(hashlib.sha256(_s).digest())[:32]!=b'${HELPERS_SHA256.slice(0, 32)}':raise OSError(${py(HELPERS_MISSING)})`,
  'exec(_s)',
  'del _s',
].join('\n');

/** Pieces of at most 4 KB, each its own raw-deflate stream: the board inflates with a 4 KB window. */
function deflatedPieces(text: string): string[] {
  const data = Buffer.from(text);
  const out: string[] = [];
  for (let i = 0; i < data.length; i += 4096)
    out.push(deflate4k(data.subarray(i, i + 4096)).toString('base64'));
  return out;
}

/** Raw deflate the board inflates with a 4 KB window (wbits 12). */
export function deflate4k(data: Uint8Array): Buffer {
  return deflateRawSync(data, { level: 9, memLevel: 9, windowBits: 12 });
}

/**
 * Raw deflate of at most 4 KB for the board helpers' inflater (_ota_inflater), which reads
 * DICTIONARY first: back-references may reach into it, so common MicroPython text costs little.
 */
export function deflatePrimed(data: Uint8Array): Buffer {
  return deflateRawSync(data, { level: 9, memLevel: 9, windowBits: 12, dictionary: DICTIONARY });
}

/**
 * Runs the helpers, then writes them to CACHE_PATH (other versions there removed), then the recovery
 * script (_ota_keep). `deflated`: sent compressed, which needs the board's deflate module (an
 * ImportError otherwise: send it plain).
 */
export function cacheHelpers(deflated: boolean): string {
  const load = (name: string, text: string) =>
    deflated
      ? [
          `${name}=b''`,
          ...deflatedPieces(text).map(
            (b) =>
              `${name}+=deflate.DeflateIO(io.BytesIO(binascii.a2b_base64(b'${b}')),deflate.RAW,12).read()`,
          ),
        ]
      : [`${name}=${py(text)}.encode()`];
  return [
    'import os',
    ...(deflated ? ['import deflate,io,binascii'] : []),
    ...load('_s', HELPERS),
    `for _d in ('/.ota',${py(CACHE_DIR)}):`,
    ' try:os.mkdir(_d)',
    ' except OSError:pass',
    `for _d in os.listdir(${py(CACHE_DIR)}):`,
    ` try:os.remove(${py(CACHE_DIR + '/')}+_d)`,
    ' except OSError:pass',
    // Run before they are cached: what they find cut short with no script on flash to finish it
    // uncaches them (_ota_resume), so until the script is written below every session sends both.
    'exec(_s)',
    `_d=open(${py(CACHE_PATH)},'wb')`,
    '_d.write(_s)',
    '_d.close()',
    'del _s,_d',
    // The push recovery script (RECOVER_PATH), written by the helpers when it differs.
    ...load('_r', RECOVER_SOURCE),
    '_ota_keep(_r)',
    'del _r',
  ].join('\n');
}

/** Bytes as a one-line Python bytes literal. */
export function pyBytes(b: Uint8Array): string {
  let s = "b'";
  for (const c of b) {
    if (c === 0x5c || c === 0x27) s += '\\' + String.fromCharCode(c);
    else if (c === 0x0a) s += '\\n';
    else if (c >= 0x20 && c < 0x7f) s += String.fromCharCode(c);
    else s += '\\x' + c.toString(16).padStart(2, '0');
  }
  return s + "'";
}

/** A host string as a Python string literal (JSON's escapes are valid Python). */
export function py(s: string): string {
  return JSON.stringify(s);
}

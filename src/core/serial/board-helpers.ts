/**
 * The Python helpers the host installs in the board's raw REPL globals once per session
 * (py/board_helpers.py: what each does and the flags loading them prints), and `py()` to quote
 * host strings as Python literals. The protocol is in docs/protocols.md, "Serial".
 */
import '../text-import';
import source from './py/board_helpers.py';

/** Largest encoded block _ota_receive reads at once (_OTA_BLOCK, its buffer on the board). */
export const STREAM_BLOCK = 4096;
export const STREAM_ACK = 0x06;

/**
 * Python source as few bytes on the wire: comment-only and blank lines dropped, each 4-space
 * indent level made one space. Safe for code without multi-line strings (the helpers have none);
 * the helpers go over the serial line at every session start.
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

export const HELPERS = compactPython(source);

/** A host string as a Python string literal (JSON's escapes are valid Python). */
export function py(s: string): string {
  return JSON.stringify(s);
}

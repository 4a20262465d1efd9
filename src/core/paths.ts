// The release path rule (docs/protocols.md#release-paths), host side. The board applies the same rule.
import { OtaError } from './errors';

// C0 controls and DEL: unprintable in logs and unsafe on FAT/LittleFS.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
// Combining marks (an NFD twin of a composed name), zero-width and direction controls (a name that
// reads as another). The board refuses exactly these (device/ota/manifest.py _invisible).
const INVISIBLE = /[\u0300-\u036f\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]/;
/** Bytes in one name (LittleFS's and FAT's limit) and folders deep (the board's swap recurses per level). */
export const MAX_NAME_BYTES = 255;
export const MAX_DEPTH = 16;

/**
 * Returns `p` unchanged when it is a valid release path: relative, `/`-separated,
 * no empty, `.` or `..` segment, no backslash, no control characters, not under `.ota/`.
 * Throws OtaError 'bad_path' naming the rule broken otherwise.
 */
export function checkReleasePath(p: string): string {
  const fail = (why: string): never => {
    throw new OtaError('bad_path', `invalid release path ${JSON.stringify(p)}: ${why}`);
  };
  if (typeof p !== 'string' || p.length === 0) fail('empty');
  if (CONTROL.test(p)) fail('contains a control character');
  if (p.includes('\\')) fail('contains a backslash (paths are /-separated)');
  if (INVISIBLE.test(p) || p.normalize('NFC') !== p)
    fail('contains a combining mark or an invisible character (write names in NFC, as typed)');
  if (p.startsWith('/') || /^[A-Za-z]:/.test(p)) fail('absolute');
  const segments = p.split('/');
  if (segments.length > MAX_DEPTH) fail(`more than ${MAX_DEPTH} folders deep`);
  for (const s of segments) {
    if (Buffer.byteLength(s) > MAX_NAME_BYTES) fail(`a name longer than ${MAX_NAME_BYTES} bytes`);
    if (s === '') fail('empty path segment');
    if (s === '..') fail('contains ".."');
    if (s === '.') fail('contains "."');
  }
  if (segments[0] === '.ota') fail('under .ota/, which belongs to the updater');
  return p;
}

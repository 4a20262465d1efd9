// The release path rule (docs/protocols.md#release-paths), host side. The board applies the same rule.
import { OtaError } from './errors';

// C0 controls and DEL: unprintable in logs and unsafe on FAT/LittleFS.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

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
  if (p.startsWith('/') || /^[A-Za-z]:/.test(p)) fail('absolute');
  const segments = p.split('/');
  for (const s of segments) {
    if (s === '') fail('empty path segment');
    if (s === '..') fail('contains ".."');
    if (s === '.') fail('contains "."');
  }
  if (segments[0] === '.ota') fail('under .ota/, which belongs to the updater');
  return p;
}

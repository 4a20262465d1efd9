// ustar headers for release bundles: fixed owner, mode and mtime so the same
// files always give the same bytes.
import { OtaError } from './errors';

export const BLOCK = 512;

/** Splits a path into ustar `prefix` and `name` fields, or throws 'name_too_long'. */
export function ustarSplit(path: string): { prefix: Buffer; name: Buffer } {
  const bytes = Buffer.from(path, 'utf8');
  if (bytes.length <= 100) return { prefix: Buffer.alloc(0), name: bytes };
  // The prefix must end at a '/', which is not stored; take the longest prefix that fits.
  for (let i = Math.min(155, bytes.length - 1); i > 0; i--) {
    if (bytes[i] === 0x2f && bytes.length - i - 1 <= 100 && bytes.length - i - 1 > 0) {
      return { prefix: bytes.subarray(0, i), name: bytes.subarray(i + 1) };
    }
  }
  throw new OtaError(
    'name_too_long',
    `path ${JSON.stringify(path)} cannot be stored in a ustar bundle (at most 155 bytes of directories and 100 bytes of file name)`,
  );
}

function octal(buf: Buffer, offset: number, width: number, value: number): void {
  // width - 1 digits and a NUL, as GNU tar and BSD tar write them.
  buf.write(value.toString(8).padStart(width - 1, '0') + '\0', offset, width, 'ascii');
}

/** One 512-byte header for a regular file. */
export function ustarHeader(path: string, size: number, mtime: number): Buffer {
  if (size > 0o77777777777)
    throw new OtaError('file_too_large', `${path} is larger than ustar allows (8 GiB)`);
  const { prefix, name } = ustarSplit(path);
  const h = Buffer.alloc(BLOCK);
  name.copy(h, 0);
  octal(h, 100, 8, 0o644);
  octal(h, 108, 8, 0);
  octal(h, 116, 8, 0);
  octal(h, 124, 12, size);
  octal(h, 136, 12, mtime);
  h.fill(0x20, 148, 156); // checksum counts its own field as spaces
  h.write('0', 156, 'ascii');
  h.write('ustar\0' + '00', 257, 'ascii');
  prefix.copy(h, 345);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
  return h;
}

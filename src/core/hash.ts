// File hashes for manifests: git blob SHA-1 (equal to `git hash-object`) and SHA-256,
// both fed from one read of the file.
import { createHash, type Hash } from 'node:crypto';
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { OtaError } from './errors';

export interface FileHashes {
  size: number;
  sha1: string;
  sha256: string;
}

const CHUNK = 1 << 20;

/** Starts a git blob SHA-1: the header carries the size, so it must be known before the bytes. */
function gitBlobHash(size: number): Hash {
  return createHash('sha1').update(`blob ${size}\0`);
}

export function gitBlobSha1(bytes: Uint8Array): string {
  return gitBlobHash(bytes.length).update(bytes).digest('hex');
}

function fsError(err: unknown, absPath: string): OtaError {
  const code = (err as NodeJS.ErrnoException).code ?? 'unknown';
  return new OtaError('unreadable', `cannot read ${absPath}: ${code}`, { cause: err });
}

/**
 * Hashes one file in a single streaming pass. The size comes from the open
 * descriptor (fstat), so a file replaced between listing and hashing cannot
 * mix two versions; a file that grows or shrinks while read is refused.
 */
export async function hashFile(absPath: string): Promise<FileHashes> {
  let fh;
  try {
    // O_NONBLOCK: a FIFO opened by mistake must not hang the build; regular files ignore it.
    fh = await open(absPath, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw fsError(err, absPath);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new OtaError('unreadable', `${absPath} is not a regular file`);
    const size = st.size;
    const sha1 = gitBlobHash(size);
    const sha256 = createHash('sha256');
    // One byte more than expected, so growth is seen without a second read.
    const buf = Buffer.allocUnsafe(Math.min(size + 1, CHUNK));
    let total = 0;
    for (;;) {
      let n: number;
      try {
        ({ bytesRead: n } = await fh.read(buf, 0, buf.length, null));
      } catch (err) {
        throw fsError(err, absPath);
      }
      if (n === 0) break;
      total += n;
      if (total > size) break;
      const chunk = buf.subarray(0, n);
      sha1.update(chunk);
      sha256.update(chunk);
    }
    if (total !== size) {
      throw new OtaError('file-changed', `${absPath} changed size while it was read (${size} -> ${total})`);
    }
    return { size, sha1: sha1.digest('hex'), sha256: sha256.digest('hex') };
  } finally {
    await fh.close();
  }
}

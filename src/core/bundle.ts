// Release bundles: one deterministic ustar .tar.gz of the release files, streamed file by file so a
// large project never sits in memory. Compression is Node's zlib (native, streaming, run on libuv's
// thread pool while this thread reads and hashes the next files), which keeps up with GNU `tar czf`
// (`npm run bench manifest`). Its output depends only on the bytes given, not on how they are split
// into writes, so the same files give the same bundle with the same zlib build
// (process.versions.zlib); the manifest records the bundle's own SHA-256 either way.
import { createHash } from 'node:crypto';
import { constants, createWriteStream } from 'node:fs';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { constants as zlib, createGzip, type Gzip } from 'node:zlib';
import { fsReason, OtaError } from './errors';
import type { ManifestBundle, ManifestFile } from './manifest-types';
import { BLOCK, ustarHeader } from './tar';

export interface BundleOptions {
  /** mtime stored for every entry, seconds since the epoch (default 0); use the manifest's `created`. */
  mtime?: number;
}

/** Bytes handed to zlib per write: large enough that per-write overhead vanishes next to deflate. */
const CHUNK = 1 << 20;
/** Chunks queued for zlib before this thread waits. */
const IN_FLIGHT = 3;
/** The gzip header's OS byte (RFC 1952): zlib writes its build's own (10 on Windows); always Unix. */
const GZIP_OS_UNIX = 3;

export function bundleName(name: string, version: string): string {
  return `${name}-${version}.tar.gz`;
}

/**
 * Tar bytes, gathered into CHUNK-sized buffers before they go to gzip (with its backpressure).
 * A buffer comes back to the pool once zlib has compressed it, so memory stays a few chunks
 * (the write callback is the backpressure: at most IN_FLIGHT chunks are queued).
 */
class ChunkWriter {
  private readonly pool: Buffer[] = [];
  private buf: Buffer = Buffer.allocUnsafe(CHUNK);
  private at = 0;
  private inFlight = 0;
  private wake?: () => void;
  constructor(private readonly gzip: Gzip) {}

  /** The current chunk, where to fill it from, and how much room is left. */
  space(): { buf: Buffer; at: number; free: number } {
    return { buf: this.buf, at: this.at, free: CHUNK - this.at };
  }

  async advance(n: number): Promise<void> {
    this.at += n;
    if (this.at === CHUNK) await this.flush();
  }

  async put(data: Uint8Array): Promise<void> {
    for (let i = 0; i < data.length;) {
      const n = Math.min(CHUNK - this.at, data.length - i);
      this.buf.set(data.subarray(i, i + n), this.at);
      i += n;
      await this.advance(n);
    }
  }

  async zeros(n: number): Promise<void> {
    await this.put(Buffer.alloc(n));
  }

  async flush(): Promise<void> {
    if (this.at === 0) return;
    const whole = this.buf;
    this.inFlight++;
    this.gzip.write(whole.subarray(0, this.at), () => {
      this.inFlight--;
      this.pool.push(whole);
      this.wake?.();
    });
    this.buf = this.pool.pop() ?? Buffer.allocUnsafe(CHUNK);
    this.at = 0;
    // Up to IN_FLIGHT chunks wait in zlib, so this thread reads and hashes the next while it compresses.
    while (this.inFlight >= IN_FLIGHT) await new Promise<void>((r) => (this.wake = r));
  }
}

/**
 * Writes `files` (read from `dir`) as a gzip'd ustar archive to `outFile` and
 * returns its manifest entry. Each file's bytes are checked against its
 * manifest size and SHA-256 while streamed ('file_changed' otherwise), so the
 * bundle always matches the manifest it is listed in. Written to a temporary
 * name and renamed, so a failure leaves no partial bundle under the real name.
 */
export async function writeBundle(
  dir: string,
  files: ManifestFile[],
  outFile: string,
  opts: BundleOptions = {},
): Promise<ManifestBundle> {
  const mtime = Math.max(0, Math.floor(opts.mtime ?? 0));
  const tmp = `${outFile}.${process.pid}.tmp`;
  const digest = createHash('sha256');
  let size = 0;
  const gzip = createGzip({ level: 6, memLevel: 8, strategy: zlib.Z_DEFAULT_STRATEGY, chunkSize: CHUNK });
  const measure = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      if (size === 0 && chunk.length > 9) chunk[9] = GZIP_OS_UNIX;
      digest.update(chunk);
      size += chunk.length;
      cb(null, chunk);
    },
  });
  const written = pipeline(gzip, measure, createWriteStream(tmp));
  written.catch(() => undefined); // awaited below; a failure while tar bytes are still coming is thrown there too
  const out = new ChunkWriter(gzip);
  try {
    for (const f of files) {
      await out.put(ustarHeader(f.path, f.size, mtime));
      await copyChecked(join(dir, f.path), f, out);
      const pad = (BLOCK - (f.size % BLOCK)) % BLOCK;
      if (pad) await out.zeros(pad);
    }
    await out.zeros(2 * BLOCK); // end-of-archive marker
    await out.flush();
    gzip.end();
    await written;
    await rename(tmp, outFile);
  } catch (err) {
    gzip.destroy();
    await written.catch(() => undefined);
    await rm(tmp, { force: true });
    throw err;
  }
  return { name: basename(outFile), size, sha256: digest.digest('hex') };
}

async function copyChecked(abs: string, f: ManifestFile, out: ChunkWriter): Promise<void> {
  let fh: FileHandle;
  try {
    fh = await open(abs, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw new OtaError('unreadable', `cannot read ${f.path}: ${fsReason(err)}`, {
      cause: err,
    });
  }
  const sha256 = createHash('sha256');
  let total = 0;
  try {
    for (;;) {
      // Read straight into the chunk zlib gets next; one byte past the end shows a file that grew.
      const { buf, at, free } = out.space();
      const want = Math.min(free, f.size + 1 - total);
      const { bytesRead } = await fh.read(buf, at, want, null);
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > f.size) break;
      sha256.update(buf.subarray(at, at + bytesRead));
      await out.advance(bytesRead);
    }
  } finally {
    await fh.close();
  }
  if (total !== f.size || sha256.digest('hex') !== f.sha256) {
    throw new OtaError('file_changed', `${f.path} changed since the manifest was made: build it again`);
  }
}

// Release bundles: one deterministic ustar .tar.gz of the release files,
// streamed file by file so a large project never sits in memory.
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Gzip } from 'fflate';
import { OtaError } from './errors';
import type { ManifestBundle, ManifestFile } from './manifest-types';
import { BLOCK, ustarHeader } from './tar';

export interface BundleOptions {
  /** mtime stored for every entry, seconds since the epoch (default 0); use the manifest's `created`. */
  mtime?: number;
}

/** fflate copies each pushed chunk into its window; small chunks keep that window small. */
const CHUNK = 64 * 1024;

export function bundleName(name: string, version: string): string {
  return `${name}-${version}.tar.gz`;
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
  const out = await open(tmp, 'w');
  const digest = createHash('sha256');
  let size = 0;
  let pending: Uint8Array[] = [];
  const gzip = new Gzip({ level: 6, mtime: 0 }, (chunk) => {
    pending.push(chunk);
  });
  const flush = async (): Promise<void> => {
    const chunks = pending;
    pending = [];
    for (const c of chunks) {
      digest.update(c);
      size += c.length;
      await out.write(c);
    }
  };
  const push = async (data: Uint8Array, final = false): Promise<void> => {
    gzip.push(data, final);
    await flush();
  };
  try {
    const buf = Buffer.allocUnsafe(CHUNK);
    for (const f of files) {
      await push(ustarHeader(f.path, f.size, mtime));
      await copyChecked(join(dir, f.path), f, buf, push);
      const pad = (BLOCK - (f.size % BLOCK)) % BLOCK;
      if (pad) await push(new Uint8Array(pad));
    }
    await push(new Uint8Array(2 * BLOCK), true); // end-of-archive marker
    await out.close();
    await rename(tmp, outFile);
  } catch (err) {
    await out.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw err;
  }
  return { name: basename(outFile), size, sha256: digest.digest('hex') };
}

async function copyChecked(
  abs: string,
  f: ManifestFile,
  buf: Buffer,
  push: (data: Uint8Array) => Promise<void>,
): Promise<void> {
  let fh: FileHandle;
  try {
    fh = await open(abs, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw new OtaError('unreadable', `cannot read ${f.path}: ${(err as NodeJS.ErrnoException).code}`, {
      cause: err,
    });
  }
  const sha256 = createHash('sha256');
  let total = 0;
  try {
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > f.size) break;
      const chunk = buf.subarray(0, bytesRead);
      sha256.update(chunk);
      await push(chunk);
    }
  } finally {
    await fh.close();
  }
  if (total !== f.size || sha256.digest('hex') !== f.sha256) {
    throw new OtaError('file_changed', `${f.path} changed since the manifest was made: build it again`);
  }
}

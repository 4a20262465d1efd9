// File hashes for manifests: git blob SHA-1 (equal to `git hash-object`) and SHA-256,
// both fed from one read of the file. Hashing runs in worker threads: it keeps
// the caller's event loop free (the VS Code extension host) and uses every core.
import { createHash, type Hash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { fsReason, OtaError } from './errors';

export interface FileHashes {
  size: number;
  sha1: string;
  sha256: string;
}

/** Starts a git blob SHA-1: the header carries the size, so it must be known before the bytes. */
function gitBlobHash(size: number): Hash {
  return createHash('sha1').update(`blob ${size}\0`);
}

export function gitBlobSha1(bytes: Uint8Array): string {
  return gitBlobHash(bytes.length).update(bytes).digest('hex');
}

type WorkerResult =
  | FileHashes
  | { err: 'fs'; code: string }
  | { err: 'not-regular' }
  | { err: 'changed'; size: number; total: number };

// Plain JavaScript, evaluated in each worker, so it runs the same from tsx and from the bundle.
// The size comes from fstat on the open descriptor (the blob header needs it first);
// O_NONBLOCK keeps a FIFO from hanging the open; reading one byte past the
// expected end shows a file that grew while it was read.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const fs = require('node:fs');
const { createHash } = require('node:crypto');
const buf = Buffer.allocUnsafe(1 << 20);
function hash(p) {
  const fd = fs.openSync(p, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) return { err: 'not-regular' };
    const size = st.size;
    const sha1 = createHash('sha1').update('blob ' + size + '\\0');
    const sha256 = createHash('sha256');
    let total = 0;
    for (;;) {
      const want = Math.min(buf.length, size + 1 - total);
      const n = fs.readSync(fd, buf, 0, want, null);
      total += n;
      if (total > size) break;
      const chunk = buf.subarray(0, n);
      sha1.update(chunk);
      sha256.update(chunk);
      if (n < want) break;
    }
    if (total !== size) return { err: 'changed', size, total };
    return { size, sha1: sha1.digest('hex'), sha256: sha256.digest('hex') };
  } finally {
    fs.closeSync(fd);
  }
}
parentPort.on('message', ({ id, paths }) => {
  const out = paths.map((p) => {
    try {
      return hash(p);
    } catch (e) {
      return { err: 'fs', code: (e && e.code) || String(e) };
    }
  });
  parentPort.postMessage({ id, out });
});
`;

interface Job {
  id: number;
  paths: string[];
  resolve(out: WorkerResult[]): void;
  reject(err: unknown): void;
}

/** A few long-lived workers, unreferenced while idle so they never keep a process alive. */
class HashPool {
  private idle: Worker[] = [];
  private busy = new Map<Worker, Job>();
  private queue: Job[] = [];
  private nextId = 0;
  private started = 0;
  private readonly size = Math.max(1, Math.min(availableParallelism(), 4));

  run(paths: string[]): Promise<WorkerResult[]> {
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, paths, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.queue.length) {
      let w = this.idle.pop();
      if (!w && this.started < this.size) w = this.spawn();
      if (!w) return;
      const job = this.queue.shift()!;
      this.busy.set(w, job);
      w.ref();
      w.postMessage({ id: job.id, paths: job.paths });
    }
  }

  private spawn(): Worker {
    this.started++;
    const w = new Worker(WORKER_SOURCE, { eval: true });
    w.on('message', (msg: { out: WorkerResult[] }) => {
      const job = this.busy.get(w);
      this.busy.delete(w);
      w.unref();
      this.idle.push(w);
      job?.resolve(msg.out);
      this.pump();
    });
    const fail = (err: unknown): void => {
      const job = this.busy.get(w);
      this.busy.delete(w);
      this.idle = this.idle.filter((x) => x !== w);
      this.started--;
      job?.reject(err);
      this.pump();
    };
    w.on('error', fail);
    w.on('exit', (code) => fail(new Error(`hash worker exited with code ${code}`)));
    return w;
  }
}

let pool: HashPool | undefined;

/** Files per message: large enough to amortise messaging, small enough to balance the workers. */
const BATCH = 16;

function toHashes(absPath: string, r: WorkerResult): FileHashes {
  if (!('err' in r)) return r;
  if (r.err === 'fs') throw new OtaError('unreadable', `cannot read ${absPath}: ${fsReason(r.code)}`);
  if (r.err === 'not-regular') throw new OtaError('unreadable', `${absPath} is not a regular file`);
  throw new OtaError('file_changed', `${absPath} changed size while it was read (${r.size} -> ${r.total})`);
}

/** Hashes many files, in parallel, each in one streaming read; results in input order. */
export async function hashFiles(absPaths: string[]): Promise<FileHashes[]> {
  pool ??= new HashPool();
  const batches: Promise<WorkerResult[]>[] = [];
  for (let i = 0; i < absPaths.length; i += BATCH) batches.push(pool.run(absPaths.slice(i, i + BATCH)));
  const results = (await Promise.all(batches)).flat();
  return results.map((r, i) => toHashes(absPaths[i], r));
}

/** Hashes one file in a single streaming read; a file that changes size meanwhile is refused. */
export async function hashFile(absPath: string): Promise<FileHashes> {
  return (await hashFiles([absPath]))[0];
}

// Issue 16 item 8: a file rewritten in place at the same size while `ota publish` runs is never
// published with a hash that does not match its bytes. The files are really rewritten mid-publish:
// for GitHub right when the uploads start, for a folder by a writer thread that keeps rewriting.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { OtaError } from '../src/core/errors';
import { parseManifest } from '../src/core/manifest';
import { publishFolder } from '../src/core/publish/folder';
import { publishGitHub, type PublishProgress } from '../src/core/publish/github';
import { startGitHubMock, type GitHubMock } from './support/github-mock';
import { validatingFetch } from './support/openapi-check';
import { writeTree } from './manifest-tree';

const created = '2026-11-25T10:00:00Z';
const SIZE = 256 * 1024;
const A = Buffer.alloc(SIZE, 'a');
const B = Buffer.alloc(SIZE, 'b');
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

let gh: GitHubMock;
let work: string;
const TOKEN = 'ghp_writer';
const problems: string[] = [];

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'ota-torn-'));
  gh = await startGitHubMock({ token: TOKEN });
});
after(async () => {
  await gh.close();
  rmSync(work, { recursive: true, force: true });
});
beforeEach(() => {
  gh.reset();
  gh.addRepo('me', 'app');
});

/** Rewrites `file` in place (same size, no truncation), as an editor saving over it does. */
function rewrite(file: string, data: Buffer): void {
  const fd = openSync(file, 'r+');
  try {
    writeSync(fd, data, 0, data.length, 0);
  } finally {
    closeSync(fd);
  }
}

function project(name: string): string {
  const dir = join(work, name);
  mkdirSync(dir);
  writeTree(dir, { 'main.py': 'print(1)\n', 'data/blob.bin': A, 'lib/x.py': 'X = 1\n' });
  return dir;
}

test('GitHub: a file rewritten when the uploads start is published as it was hashed', async () => {
  const dir = project('gh');
  const blob = join(dir, 'data', 'blob.bin');
  let rewritten = false;
  const r = await publishGitHub({
    dir,
    version: '1.0.0',
    build: { created },
    bundle: true,
    repo: 'me/app',
    token: TOKEN,
    baseUrl: gh.apiUrl,
    fetch: validatingFetch(problems, [gh.apiUrl, gh.uploadsUrl]),
    retryDelayMs: 5,
    concurrency: 1,
    onProgress: (p: PublishProgress) => {
      if (p.phase === 'create' && !rewritten) {
        rewrite(blob, B); // the manifest is made; nothing is uploaded yet
        rewritten = true;
      }
    },
  });
  assert.ok(rewritten);
  assert.ok(readFileSync(blob).equals(B), 'the file on disk really changed');
  const rel = gh.state.repos.get('me/app')!.releases.find((x) => x.id === r.releaseId)!;
  const asset = (name: string) => rel.assets.find((a) => a.name === name)!.content;
  const m = parseManifest(asset('manifest.json'));
  for (const f of m.files) {
    const bytes = asset(f.path.split('/').join('__'));
    assert.equal(sha256(bytes), f.sha256, `${f.path}: published bytes match the manifest`);
  }
  assert.ok(asset('data__blob.bin').equals(A), 'what was hashed is what was published');
  assert.equal(sha256(asset(m.bundle!.name)), m.bundle!.sha256);
  assert.deepEqual(problems, []);
});

/** A worker thread rewriting `file` in place with A and B, alternately, until told to stop. */
function keepRewriting(file: string): { stop(): Promise<number> } {
  const flag = new Int32Array(new SharedArrayBuffer(8));
  const w = new Worker(
    `
    const { workerData, parentPort } = require('node:worker_threads');
    const fs = require('node:fs');
    const { file, flag } = workerData;
    const a = Buffer.alloc(${SIZE}, 'a'), b = Buffer.alloc(${SIZE}, 'b');
    let n = 0;
    while (Atomics.load(flag, 0) === 0) {
      const fd = fs.openSync(file, 'r+');
      fs.writeSync(fd, n % 2 ? b : a, 0, ${SIZE}, 0);
      fs.closeSync(fd);
      n++;
      Atomics.wait(flag, 1, 0, 3); // a save every few ms
    }
    parentPort.postMessage(n);
    `,
    { eval: true, workerData: { file, flag } },
  );
  const done = new Promise<number>((resolve) => w.once('message', resolve));
  return {
    stop: async () => {
      Atomics.store(flag, 0, 1);
      const n = await done;
      await w.terminate();
      return n;
    },
  };
}

test('folder: while a file is rewritten again and again, every publish is whole or refused', async () => {
  const dir = project('folder');
  const outDir = join(work, 'out');
  const writer = keepRewriting(join(dir, 'data', 'blob.bin'));
  let published = 0;
  let refused = 0;
  const runs = async () => {
    for (let i = 0; i < 12; i++) {
      try {
        const r = await publishFolder({
          dir,
          version: '1.0.0',
          outDir,
          build: { created },
          force: true,
        });
        published++;
        const m = parseManifest(readFileSync(join(r.versionDir, 'manifest.json')));
        for (const f of m.files) {
          assert.equal(sha256(readFileSync(join(r.versionDir, f.path))), f.sha256, `run ${i}: ${f.path}`);
        }
      } catch (err) {
        if (!(err instanceof OtaError && err.code === 'file-changed')) throw err;
        assert.match(err.message, /data\/blob\.bin/);
        refused++;
      }
    }
  };
  const outcome = await runs().then(
    () => undefined,
    (err: unknown) => err,
  );
  const writes = await writer.stop();
  if (outcome) throw outcome;
  assert.ok(writes >= 2, `the writer rewrote the file ${writes} times`);
  assert.equal(published + refused, 12);
});

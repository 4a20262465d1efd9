// Bad input, each refused with its own `error` code while the installed
// release stays exactly as it was: tampered content and manifests, policy
// violations, and hostile or broken HTTP servers.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Manifest } from '../src/core/manifest-types';
import * as fx from './support/release-fixture';

const T = { timeout: 60_000 };
const keys = fx.makeKeys();
let rel: fx.Release;
const cleanups: string[] = [];

before(async () => {
  rel = await fx.makeRelease('1.1.0', fx.APP_1_1_0, { delete: ['old.py'], keep: ['settings.json'] });
  cleanups.push(rel.dir);
});
after(() => fx.cleanup(...cleanups));

interface Case {
  config?: Record<string, unknown>;
  publish?: fx.PublishOptions;
  /** Changes the published folder after publishing. */
  alter?: (host: string) => void;
  intercept?: fx.Intercept;
  version?: string;
  flashKb?: number;
}

/** Publishes, runs `ota.update()` on a 1.0.0 board, and returns the error codes and the board. */
async function attempt(c: Case): Promise<{ codes: string[]; fsDir: string; output: string; resets: number }> {
  const host = fx.tempDir('host');
  cleanups.push(host);
  fx.publishStatic(host, rel, c.publish ?? {});
  c.alter?.(host);
  const srv = await fx.serveFolder(host, c.intercept);
  const fsDir = fx.makeBoard(
    { source: 'static', url: srv.url, retries: 0, timeout: 2, ...c.config },
    fx.APP_1_0_0,
    c.version ?? '1.0.0',
  );
  cleanups.push(fsDir);
  try {
    const r = await fx.runBoard({ fsDir, flashKb: c.flashKb, code: 'import ota\nprint(ota.update())\n' });
    assert.equal(r.error, undefined, r.output);
    return { codes: fx.errorCodes(r.output), fsDir, output: r.output, resets: r.resets };
  } finally {
    await srv.close();
  }
}

function assertIntact(fsDir: string, version = '1.0.0'): void {
  // A board "at 1.2.0" in the downgrade cases holds the 1.0.0 files under that version.
  assert.deepEqual(fx.hashTree(fsDir, fx.NOT_APP), fx.hashFiles(fx.APP_1_0_0));
  assert.equal(JSON.parse(readFileSync(join(fsDir, 'version.json'), 'utf8')).version, version);
}

/** The release's manifest with `change` applied, as JSON bytes (unsigned). */
function craft(change: (m: Manifest) => void): Buffer {
  const m = structuredClone(rel.manifest);
  change(m);
  return Buffer.from(JSON.stringify(m, null, 2));
}

const hmac = { keys: [fx.boardKey(keys, 'hmac-sha256')] };
const signed: fx.PublishOptions['sign'] = { keys, alg: 'hmac-sha256' };

function flipByte(host: string): void {
  const p = join(host, '1.1.0', 'lib', 'new.py');
  const b = readFileSync(p);
  b[100] ^= 1;
  writeFileSync(p, b);
}

// [what, expected code, the case] — built lazily, once the release exists.
const cases: [string, string, () => Case][] = [
  ['a flipped byte in a file', 'hash_mismatch', () => ({ alter: flipByte })],
  [
    'a manifest changed after signing',
    'bad_signature',
    () => ({ config: hmac, publish: { sign: signed, manifestBytes: craft((m) => (m.keep = [])) } }),
  ],
  [
    'a signature by another key',
    'bad_signature',
    () => ({ config: hmac, publish: { sign: { keys: fx.makeKeys(), alg: 'hmac-sha256' } } }),
  ],
  ['a missing signature when a key is configured', 'no_signature', () => ({ config: hmac })],
  [
    'an expired manifest',
    'expired',
    () => ({ publish: { manifestBytes: craft((m) => (m.expires = '2025-01-01T00:00:00Z')) } }),
  ],
  ['a downgrade', 'downgrade', () => ({ version: '1.2.0' })],
  [
    'a path ../boot.py',
    'bad_path',
    () => ({ publish: { manifestBytes: craft((m) => (m.files[0].path = '../boot.py')) } }),
  ],
  [
    'an absolute path',
    'bad_path',
    () => ({ publish: { manifestBytes: craft((m) => (m.files[0].path = '/boot.py')) } }),
  ],
  [
    'a path under .ota/',
    'reserved_path',
    () => ({ publish: { manifestBytes: craft((m) => (m.files[0].path = '.ota/state.json')) } }),
  ],
  [
    'a delete outside the app (../)',
    'bad_path',
    () => ({ publish: { manifestBytes: craft((m) => (m.delete = ['../x'])) } }),
  ],
  [
    'files larger than the flash',
    'no_space',
    () => ({ publish: { manifestBytes: craft((m) => (m.files[0].size = 4 * 1024 * 1024)) } }),
  ],
  [
    'malformed manifest JSON',
    'bad_manifest',
    () => ({ publish: { manifestBytes: Buffer.from('{"schema": 1, "files": [') } }),
  ],
  [
    'a manifest of a newer schema',
    'schema_unsupported',
    () => ({ publish: { manifestBytes: craft((m) => (m.schema = 2)) } }),
  ],
  [
    'malformed latest.json',
    'bad_manifest',
    () => ({ alter: (host) => writeFileSync(join(host, 'latest.json'), '{"version": ') }),
  ],
  [
    'a firmware image on a board without OTA partitions',
    'no_firmware',
    () => ({
      publish: {
        manifestBytes: craft((m) =>
          Object.assign(m, { firmware: { name: 'fw.bin', size: 4096, sha256: 'a'.repeat(64) } }),
        ),
      },
    }),
  ],
  ['HTTP 404', 'http_404', () => ({ intercept: status(404) })],
  ['HTTP 500', 'http_status', () => ({ intercept: status(500) })],
  ['HTTP 429 with Retry-After', 'rate_limited', () => ({ config: { retries: 1 }, intercept: status(429) })],
  ['endless redirects', 'too_many_redirects', () => ({ intercept: redirectLoop })],
  ['a stalled server', 'timeout', () => ({ config: { timeout: 1 }, intercept: stall })],
];

/** Every request for latest.json answers `code`. */
function status(code: number): fx.Intercept {
  return (req, res, rec) => {
    if (!req.url?.endsWith('/latest.json')) return false;
    rec.status = code;
    res.writeHead(code, { 'content-length': '2', 'retry-after': '1' });
    res.end('no');
    return true;
  };
}

const redirectLoop: fx.Intercept = (req, res, rec) => {
  rec.status = 302;
  const n = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('n') ?? 0) + 1;
  res.writeHead(302, { location: `/latest.json?n=${n}`, 'content-length': '0' });
  res.end();
  return true;
};

/** Accepts the request and never answers (the socket is closed by the server's teardown). */
const stall: fx.Intercept = () => true;

for (const [name, code, make] of cases) {
  test(`refuses ${name}: ${code}`, T, async () => {
    const c = make();
    const { codes, fsDir, output, resets } = await attempt(c);
    assert.deepEqual(codes, [code], output);
    assert.equal(resets, 0, 'no reset after a refused update');
    assertIntact(fsDir, c.version);
  });
}

test('allow_downgrade lets an older release in', T, async () => {
  const { codes, fsDir, output } = await attempt({ version: '1.2.0', config: { allow_downgrade: true } });
  assert.deepEqual(codes, [], output);
  assert.equal(JSON.parse(readFileSync(join(fsDir, 'version.json'), 'utf8')).version, '1.1.0');
});

test(
  'a connection dropped mid-file fails with connection, and the next check resumes with Range',
  T,
  async () => {
    let dropped = false;
    const drop: fx.Intercept = (req, res, rec) => {
      if (dropped || !req.url?.endsWith('/lib/new.py')) return false;
      dropped = true;
      const body = readFileSync(join(rel.dir, 'lib', 'new.py'));
      rec.status = 200;
      rec.bytes = 1000;
      res.writeHead(200, { 'content-length': String(body.length) });
      res.write(body.subarray(0, 1000), () => res.destroy());
      return true;
    };
    const host = fx.tempDir('host');
    cleanups.push(host);
    fx.publishStatic(host, rel);
    const srv = await fx.serveFolder(host, drop);
    const fsDir = fx.makeBoard(
      { source: 'static', url: srv.url, retries: 0, timeout: 2 },
      fx.APP_1_0_0,
      '1.0.0',
    );
    cleanups.push(fsDir);
    try {
      const r1 = await fx.runBoard({ fsDir, code: 'import ota\nota.update()\n' });
      assert.deepEqual(fx.errorCodes(r1.output), ['network'], r1.output);
      assertIntact(fsDir);
      const r2 = await fx.runBoard({ fsDir, code: 'import ota\nota.update()\n' });
      assert.deepEqual(fx.errorCodes(r2.output), [], r2.output);
      const resumed = srv.requests.find((q) => q.url.endsWith('/lib/new.py') && q.status === 206);
      assert.ok(resumed, srv.requests.map((q) => `${q.status} ${q.url}`).join(' '));
      assert.equal(resumed.headers.range, 'bytes=1000-');
      assert.equal(JSON.parse(readFileSync(join(fsDir, 'version.json'), 'utf8')).version, '1.1.0');
    } finally {
      await srv.close();
    }
  },
);

test('a 500 answered once is retried and the update completes', T, async () => {
  let failed = false;
  const once: fx.Intercept = (req, res, rec) => {
    if (failed || !req.url?.endsWith('/main.py')) return false;
    failed = true;
    rec.status = 500;
    res.writeHead(500, { 'content-length': '0' });
    res.end();
    return true;
  };
  const { codes, fsDir, output } = await attempt({ config: { retries: 2 }, intercept: once });
  assert.deepEqual(codes, [], output);
  assert.equal(JSON.parse(readFileSync(join(fsDir, 'version.json'), 'utf8')).version, '1.1.0');
});

test('redirected requests and chunked bodies are followed and read', T, async () => {
  let host = '';
  const detour: fx.Intercept = (req, res, rec) => {
    const url = req.url ?? '/';
    if (url.startsWith('/1.1.0/')) {
      rec.status = 302;
      res.writeHead(302, { location: `/moved${url}`, 'content-length': '0' });
      res.end();
      return true;
    }
    const file = join(host, url.slice('/moved'.length));
    if (!url.startsWith('/moved/') || !existsSync(file)) return false;
    // Chunked transfer encoding, in uneven pieces.
    const body = readFileSync(file);
    rec.status = 200;
    rec.bytes = body.length;
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' });
    for (let i = 0; i < body.length; i += 333) res.write(body.subarray(i, i + 333));
    res.end();
    return true;
  };
  host = fx.tempDir('host');
  cleanups.push(host);
  fx.publishStatic(host, rel);
  const srv = await fx.serveFolder(host, detour);
  const fsDir = fx.makeBoard({ source: 'static', url: srv.url, retries: 0 }, fx.APP_1_0_0, '1.0.0');
  cleanups.push(fsDir);
  try {
    const r = await fx.runBoard({ fsDir, code: 'import ota\nota.update()\n' });
    assert.deepEqual(fx.errorCodes(r.output), [], r.output);
    assert.equal(JSON.parse(readFileSync(join(fsDir, 'version.json'), 'utf8')).version, '1.1.0');
    assert.ok(srv.requests.some((q) => q.url === '/moved/1.1.0/lib/new.py'));
  } finally {
    await srv.close();
  }
});

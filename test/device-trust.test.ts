// Hostile manifests and servers against the board (issue 16): the board's own files and impossible
// path sets refused before any download, a keys list that fails closed, malformed HTTP as `protocol`,
// every read bounded (declared sizes, gzip bombs, header lines, JSON documents, Retry-After), a deadline
// on the whole update, expiry that a replayed old Date cannot defeat, and a 304 for ever reported.
// Each refusal leaves the installed release byte-identical.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import type { Manifest } from '../src/core/manifest-types';
import * as fx from './support/release-fixture';

const T = { timeout: 90_000 };
const cleanups: string[] = [];
let rel: fx.Release;
let bundled: fx.Release;

before(async () => {
  rel = await fx.makeRelease('1.1.0', fx.APP_1_1_0, { delete: ['old.py'], keep: ['settings.json'] });
  bundled = await fx.makeRelease('1.1.0', fx.APP_1_1_0, { keep: ['settings.json'], bundle: true });
  cleanups.push(rel.dir, bundled.dir);
});
after(() => fx.cleanup(...cleanups));

interface Case {
  config?: Record<string, unknown>;
  publish?: fx.PublishOptions;
  release?: () => fx.Release;
  alter?: (host: string) => void;
  intercept?: fx.Intercept;
  /** Python run before `ota.update()`. */
  before?: string;
  /** .ota/state.json to start from. */
  state?: Record<string, unknown>;
  code?: string;
  flashKb?: number;
}

interface Outcome {
  codes: string[];
  output: string;
  fsDir: string;
  requests: fx.ServedRequest[];
  ms: number;
}

async function attempt(c: Case): Promise<Outcome> {
  const host = fx.tempDir('host');
  cleanups.push(host);
  fx.publishStatic(host, c.release?.() ?? rel, c.publish ?? {});
  c.alter?.(host);
  const srv = await fx.serveFolder(host, c.intercept);
  const fsDir = fx.makeBoard(
    { source: 'static', url: srv.url, retries: 0, timeout: 5, ...c.config },
    fx.APP_1_0_0,
    '1.0.0',
  );
  cleanups.push(fsDir);
  if (c.state) {
    mkdirSync(join(fsDir, '.ota'), { recursive: true });
    writeFileSync(join(fsDir, '.ota', 'state.json'), JSON.stringify(c.state));
  }
  const t0 = Date.now();
  try {
    const r = await fx.runBoard({
      fsDir,
      flashKb: c.flashKb,
      code: c.code ?? `${c.before ?? ''}\nimport ota\nprint(ota.update(False))\n`,
    });
    assert.equal(r.error, undefined, r.output);
    return {
      codes: fx.errorCodes(r.output),
      output: r.output,
      fsDir,
      requests: srv.requests,
      ms: Date.now() - t0,
    };
  } finally {
    await srv.close();
  }
}

function assertIntact(fsDir: string): void {
  assert.deepEqual(fx.hashTree(fsDir, fx.NOT_APP), fx.hashFiles(fx.APP_1_0_0));
  assert.equal(JSON.parse(readFileSync(join(fsDir, 'version.json'), 'utf8')).version, '1.0.0');
}

/** Only the release documents were fetched: no file, no bundle. */
function assertNothingDownloaded(o: Outcome): void {
  const docs = o.requests.filter((q) => !/\/(latest\.json|manifest\.json(\.sig)?)$/.test(q.url));
  assert.deepEqual(
    docs.map((q) => q.url),
    [],
    o.output,
  );
}

/** The release's manifest with `change` applied (unsigned). */
function craft(change: (m: Manifest) => void, base = () => rel): () => Buffer {
  return () => {
    const m = structuredClone(base().manifest);
    change(m);
    return Buffer.from(JSON.stringify(m, null, 2));
  };
}

/** Adds a file entry at `path` (a copy of main.py's entry: real hashes, another name). */
function addFile(m: Manifest, path: string): void {
  const main = m.files.find((f) => f.path === 'main.py')!;
  m.files.push({ ...main, path });
}

// 1. The board's own files and path conflicts, before anything is downloaded.
const manifestCases: [string, string, () => Buffer][] = [
  ['a file ota_config.json', 'reserved_path', craft((m) => addFile(m, 'ota_config.json'))],
  ['a file BOOT.PY (case folded)', 'reserved_path', craft((m) => addFile(m, 'BOOT.PY'))],
  ['a file version.json', 'reserved_path', craft((m) => addFile(m, 'version.json'))],
  [
    'a file .OTA/state.json (FAT folds it into .ota/)',
    'reserved_path',
    craft((m) => addFile(m, '.OTA/state.json')),
  ],
  ['a file under the updater package ota/', 'reserved_path', craft((m) => addFile(m, 'ota/updater.py'))],
  ['a delete of the updater (ota)', 'reserved_path', craft((m) => (m.delete = ['ota']))],
  ['a delete of Ota_Config.json', 'reserved_path', craft((m) => (m.delete = ['Ota_Config.json']))],
  ['a keep of boot.py', 'reserved_path', craft((m) => (m.keep = ['boot.py']))],
  ['a hook naming boot.py', 'reserved_path', craft((m) => (m.hooks = { post_update: 'boot.py' }))],
  ['a file and a folder of one name', 'path_conflict', craft((m) => addFile(m, 'main.py/x.py'))],
  ['a folder and a file of one name', 'path_conflict', craft((m) => addFile(m, 'lib'))],
  ['a duplicate path', 'path_conflict', craft((m) => addFile(m, 'main.py'))],
  ['paths equal but for letter case', 'path_conflict', craft((m) => addFile(m, 'MAIN.py'))],
  ['folders equal but for letter case', 'path_conflict', craft((m) => addFile(m, 'LIB/util.py'))],
  ['a delete of a folder holding a release file', 'path_conflict', craft((m) => (m.delete = ['lib']))],
];

for (const [name, code, bytes] of manifestCases) {
  test(`manifest with ${name}: ${code}, nothing downloaded`, T, async () => {
    const o = await attempt({ publish: { manifestBytes: bytes() } });
    assert.deepEqual(o.codes, [code], o.output);
    assertNothingDownloaded(o);
    assertIntact(o.fsDir);
  });
}

// 7. Fail closed on the keys list.
const configCases: [string, Record<string, unknown>][] = [
  ['an empty keys list', { keys: [] }],
  ['a key entry without its key', { keys: [{ alg: 'hmac-sha256', id: 'k1' }] }],
  ['a key entry with an unknown alg', { keys: [{ alg: 'md5', id: 'k1', key: 'AAAA' }] }],
  ['a key that is not base64', { keys: [{ alg: 'ed25519', id: 'k1', key: '!!!' }] }],
  ['a deadline that is not a number', { deadline: 'soon' }],
];
for (const [name, config] of configCases) {
  test(`config with ${name}: config error, nothing fetched`, T, async () => {
    const o = await attempt({ config });
    assert.deepEqual(o.codes, ['bad_config'], o.output);
    assert.equal(o.requests.length, 0);
    assertIntact(o.fsDir);
  });
}

/** Answers requests whose path ends with `suffix` with these raw bytes, then closes. */
function raw(suffix: string, bytes: string | Buffer, close = true): fx.Intercept {
  return (req, res) => {
    if (!req.url?.endsWith(suffix)) return false;
    res.socket?.write(bytes);
    if (close) res.socket?.end();
    return true;
  };
}

const LATEST = JSON.stringify({ version: '1.1.0', manifest: '1.1.0/manifest.json' });

// 7. Malformed HTTP: a protocol error, never internal.
const protocolCases: [string, string][] = [
  ['a status line without a number', 'HTTP/1.1 abc OK\r\n\r\n'],
  ['no status line', 'SSH-2.0-OpenSSH\r\n\r\n'],
  ['a header line without a colon', 'HTTP/1.1 200 OK\r\nbroken header\r\n\r\n'],
  ['a Content-Length that is not a number', 'HTTP/1.1 200 OK\r\nContent-Length: 12abc\r\n\r\n' + LATEST],
  ['a negative Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n' + LATEST],
  ['a chunk size that is not hex', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n' + LATEST],
];
for (const [name, answer] of protocolCases) {
  test(`${name}: protocol`, T, async () => {
    const o = await attempt({ intercept: raw('/latest.json', answer) });
    assert.deepEqual(o.codes, ['protocol'], o.output);
    assertIntact(o.fsDir);
  });
}

// 5. Bounds.
test('a header line of 10 KB and a hundred header lines: header_too_large', T, async () => {
  const long = await attempt({
    intercept: raw('/latest.json', `HTTP/1.1 200 OK\r\nX-Pad: ${'a'.repeat(10000)}\r\n\r\n`),
  });
  assert.deepEqual(long.codes, ['header_too_large'], long.output);
  const many = await attempt({
    intercept: raw('/latest.json', 'HTTP/1.1 200 OK\r\n' + 'X-A: b\r\n'.repeat(100) + '\r\n'),
  });
  assert.deepEqual(many.codes, ['header_too_large'], many.output);
});

/** An endless body: `head` then `piece` for as long as the client reads. */
function endless(
  suffix: string,
  head: string,
  piece: string,
  headers: Record<string, string> = {},
): fx.Intercept {
  return (req, res, rec) => {
    if (!req.url?.endsWith(suffix)) return false;
    rec.status = 200;
    res.writeHead(200, headers);
    res.write(head);
    const chunk = piece.repeat(Math.ceil(16384 / piece.length));
    const more = (): void => {
      while (!res.destroyed && res.write(chunk)) rec.bytes += chunk.length;
      if (!res.destroyed) res.once('drain', more);
    };
    res.on('close', () => res.removeAllListeners('drain'));
    more();
    return true;
  };
}

test('an endless latest.json: doc_too_large after its bound', T, async () => {
  const o = await attempt({ intercept: endless('/latest.json', '{"version": "', 'x') });
  assert.deepEqual(o.codes, ['doc_too_large'], o.output);
  assert.ok(o.requests[0].bytes < 1024 * 1024, `read ${o.requests[0].bytes}`);
});

test(
  'a file body longer than its declared size: too_large before reading it (Content-Length 2 GiB)',
  T,
  async () => {
    const huge: fx.Intercept = (req, res, rec) => {
      if (!req.url?.endsWith('/lib/new.py')) return false;
      rec.status = 200;
      res.writeHead(200, { 'content-length': String(2 * 1024 ** 3) });
      res.write(Buffer.alloc(65536));
      return true;
    };
    const o = await attempt({ intercept: huge });
    assert.deepEqual(o.codes, ['too_large'], o.output);
    assertIntact(o.fsDir);
  },
);

test('an endless chunked file body: too_large at the declared size', T, async () => {
  const o = await attempt({ intercept: endless('/lib/new.py', '', 'y'.repeat(1000)) });
  assert.deepEqual(o.codes, ['too_large'], o.output);
  assertIntact(o.fsDir);
});

test('a gzip bomb for a 50-byte file: inflate_limit, not 10 MB inflated', T, async () => {
  const bomb = gzipSync(Buffer.alloc(10 * 1024 * 1024));
  const o = await attempt({
    intercept: (req, res, rec) => {
      if (!req.url?.endsWith('/main.py')) return false;
      rec.status = 200;
      res.writeHead(200, { 'content-encoding': 'gzip' }); // chunked: no length to refuse it by
      res.end(bomb);
      return true;
    },
  });
  assert.deepEqual(o.codes, ['inflate_limit'], o.output);
  assertIntact(o.fsDir);
});

test('a 2 GiB answer for a small bundle: too_large before reading it', T, async () => {
  const o = await attempt({
    release: () => bundled,
    intercept: (req, res, rec) => {
      if (!req.url?.endsWith('.tar.gz')) return false;
      rec.status = 200;
      res.writeHead(200, { 'content-length': String(2 * 1024 ** 3) });
      res.write(Buffer.alloc(65536));
      return true;
    },
  });
  assert.ok(
    o.requests.some((q) => q.url.endsWith('.tar.gz')),
    'the bundle path was taken',
  );
  assert.deepEqual(o.codes, ['too_large'], o.output);
  assertIntact(o.fsDir);
});

/** A tar header for `name` of `size` bytes (ustar, checksum filled). */
function tarHeader(name: string, size: number): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0);
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(size.toString(8).padStart(11, '0') + '\0', 124);
  h.write('00000000000\0', 136);
  h.write('        ', 148);
  h.write('0', 156);
  h.write('ustar\0', 257);
  h.write('00', 263);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  return h;
}

test('a bundle that inflates far beyond its files (gzip bomb): inflate_limit', T, async () => {
  const bomb = gzipSync(Buffer.concat([tarHeader('junk.bin', 64 * 1024 * 1024), Buffer.alloc(1024 * 1024)]));
  const o = await attempt({
    release: () => bundled,
    publish: {
      manifestBytes: craft(
        (m) => Object.assign(m.bundle!, { size: bomb.length }),
        () => bundled,
      )(),
    },
    alter: (host) => writeFileSync(join(host, '1.1.0', bundled.manifest.bundle!.name), bomb),
  });
  assert.ok(
    o.requests.some((q) => q.url.endsWith('.tar.gz')),
    'the bundle path was taken',
  );
  assert.deepEqual(o.codes, ['inflate_limit'], o.output);
  assertIntact(o.fsDir);
});

test('a Retry-After of an hour: retry_later at once, no hour-long wait', T, async () => {
  const o = await attempt({
    config: { retries: 3 },
    intercept: (req, res, rec) => {
      if (!req.url?.endsWith('/latest.json')) return false;
      rec.status = 429;
      res.writeHead(429, { 'retry-after': '3600', 'content-length': '0' });
      res.end();
      return true;
    },
  });
  assert.deepEqual(o.codes, ['retry_later'], o.output);
  assert.equal(o.requests.length, 1);
});

/** Sends the file a byte a second. */
function drip(suffix: string, body: () => Buffer): fx.Intercept {
  return (req, res, rec) => {
    if (!req.url?.endsWith(suffix)) return false;
    const b = body();
    rec.status = 200;
    res.writeHead(200, { 'content-length': String(b.length) });
    let i = 0;
    const timer = setInterval(() => {
      if (res.destroyed || i >= b.length) return clearInterval(timer);
      res.write(b.subarray(i, ++i));
    }, 1000);
    res.on('close', () => clearInterval(timer));
    return true;
  };
}

test('a server dripping a byte a second: the update ends at its deadline (deadline)', T, async () => {
  // lib/new.py is 2 KB: half an hour at this pace; the configured deadline is 4 s.
  const o = await attempt({
    config: { deadline: 4, timeout: 3 },
    intercept: drip('/lib/new.py', () => readFileSync(join(rel.dir, 'lib', 'new.py'))),
  });
  assert.deepEqual(o.codes, ['deadline'], o.output);
  assert.ok(o.ms < 20_000, `ended after ${o.ms} ms`);
  assertIntact(o.fsDir);
  // Dripping the release document itself is bounded the same way.
  const doc = await attempt({
    config: { deadline: 3, timeout: 2 },
    intercept: drip('/latest.json', () => Buffer.from(LATEST)),
  });
  assert.deepEqual(doc.codes, ['deadline'], doc.output);
});

// 6. Expiry that a replayed old Date cannot defeat.
const OLD_DATE = 'Tue, 01 Sep 2026 00:00:00 GMT';
const UNSET_CLOCK = 'import machine\nmachine.RTC().datetime((2000, 1, 1, 5, 0, 0, 0, 0))';

/** Every answer carries Date: OLD_DATE (or none). */
function oldDate(date: string | undefined): fx.Intercept {
  return (_req, res) => {
    if (date) res.setHeader('date', date);
    else res.sendDate = false;
    return false;
  };
}

const expiredReplay = craft((m) =>
  Object.assign(m, { created: '2026-08-01T00:00:00Z', expires: '2026-10-01T00:00:00Z' }),
);

test(
  'a replayed expired manifest with an old Date, board clock unset: NTP sets the clock, expired',
  T,
  async () => {
    const o = await attempt({
      publish: { manifestBytes: expiredReplay() },
      intercept: oldDate(OLD_DATE),
      before: UNSET_CLOCK,
    });
    assert.deepEqual(o.codes, ['expired'], o.output);
    assertIntact(o.fsDir);
  },
);

test('without NTP, time never goes below the newest created accepted: expired', T, async () => {
  const o = await attempt({
    config: { ntp: false },
    state: { state: 'idle', created: '2026-11-01T00:00:00Z' },
    publish: { manifestBytes: expiredReplay() },
    intercept: oldDate(OLD_DATE),
    before: UNSET_CLOCK,
  });
  assert.deepEqual(o.codes, ['expired'], o.output);
  assertIntact(o.fsDir);
});

test('an expiry that cannot be decided is refused only with require_clock: clock_unknown', T, async () => {
  const c: Case = {
    config: { ntp: false, require_clock: true },
    publish: { manifestBytes: expiredReplay() },
    intercept: oldDate(undefined),
    before: UNSET_CLOCK,
  };
  const strict = await attempt(c);
  assert.deepEqual(strict.codes, ['clock_unknown'], strict.output);
  assertIntact(strict.fsDir);
  const lenient = await attempt({ ...c, config: { ntp: false } });
  assert.deepEqual(lenient.codes, [], lenient.output);
});

test('an accepted manifest moves the floor: state.json keeps the newest created', T, async () => {
  const o = await attempt({});
  assert.deepEqual(o.codes, [], o.output);
  const st = JSON.parse(readFileSync(join(o.fsDir, '.ota', 'state.json'), 'utf8'));
  assert.equal(st.created, '2026-11-01T00:00:00Z');
});

test('a release dated in the future moves the floor no further than the board clock', T, async () => {
  const o = await attempt({
    publish: { manifestBytes: craft((m) => (m.created = '2099-01-01T00:00:00Z'))() },
  });
  assert.deepEqual(o.codes, [], o.output);
  const st = JSON.parse(readFileSync(join(o.fsDir, '.ota', 'state.json'), 'utf8'));
  assert.ok(st.created < '2099', st.created);
  assert.ok(st.created >= new Date(Date.now() - 60_000).toISOString().slice(0, 19), st.created);
});

// 7. A 304 for ever.
test(
  'a 304 answered for ever: after stale_checks the board warns (stale) and asks without the ETag',
  T,
  async () => {
    const o = await attempt({
      config: { stale_checks: 2 },
      state: { state: 'idle', etag: '"frozen"' },
      intercept: (_req, res, rec) => {
        rec.status = 304;
        res.writeHead(304, { etag: '"frozen"' });
        res.end();
        return true;
      },
      code: 'import ota\nfor i in range(3):\n    print(ota.check())\n',
    });
    assert.deepEqual(o.codes, [], o.output);
    const warnings = fx.eventsOf(o.output).filter((e) => e.ev === 'warning');
    assert.deepEqual(
      warnings.map((e) => e.code),
      ['stale'],
      o.output,
    );
    assert.deepEqual(
      o.requests.map((q) => q.headers['if-none-match'] ?? null),
      ['"frozen"', '"frozen"', null],
    );
  },
);

// 7. A manifest over 32 KB: 201 files, streamed from flash at the board's heap.
test('a 201-file release (manifest over 40 KB), signed: installs at the 160 KB heap', T, async () => {
  const files: fx.AppFiles = { ...fx.APP_1_0_0 };
  for (let i = 0; i < 201; i++) files[`lib/module_${String(i).padStart(3, '0')}.py`] = `V = ${i}\n`;
  const big = await fx.makeRelease('1.1.0', files, { keep: ['settings.json'] });
  cleanups.push(big.dir);
  assert.ok(big.bytes.length > 40 * 1024, `manifest is ${big.bytes.length} bytes`);
  const keys = fx.makeKeys();
  for (const alg of ['hmac-sha256', 'ed25519'] as const) {
    const o = await attempt({
      release: () => big,
      publish: { sign: { keys, alg } },
      config: { keys: [fx.boardKey(keys, alg)] },
      flashKb: 4096, // 201 files, each a 4 KB block, staged and installed
    });
    assert.deepEqual(o.codes, [], `${alg}: ${o.output}`);
    assert.equal(JSON.parse(readFileSync(join(o.fsDir, 'version.json'), 'utf8')).version, '1.1.0');
    assert.equal(readFileSync(join(o.fsDir, 'lib/module_200.py'), 'utf8'), 'V = 200\n');
  }
});

test(
  'a 201-file release over another: the installed cache (201 entries) and the new manifest fit the 160 KB heap',
  T,
  async () => {
    const v1: fx.AppFiles = { ...fx.APP_1_0_0 };
    for (let i = 0; i < 201; i++) v1[`lib/module_${String(i).padStart(3, '0')}.py`] = `V = ${i}\n`;
    const v2: fx.AppFiles = { ...v1, 'lib/module_100.py': 'V = "changed"\n' };
    delete v2['lib/module_007.py'];
    const host = fx.tempDir('host');
    // 1.1.0 installed as an update leaves it: its 201 files and the installed-hash cache
    // (.ota/files.json), so the update to 1.2.0 plans against a 201-entry cache.
    const fsDir = fx.makeBoard({ source: 'static', url: 'http://127.0.0.1:9', retries: 0 }, v1, '1.1.0');
    const blob = (text: string) =>
      createHash('sha1')
        .update(`blob ${Buffer.byteLength(text)}\0`)
        .update(text)
        .digest('hex');
    mkdirSync(join(fsDir, '.ota'), { recursive: true });
    writeFileSync(
      join(fsDir, '.ota', 'files.json'),
      JSON.stringify(Object.fromEntries(Object.entries(v1).map(([p, text]) => [p, blob(String(text))]))),
    );
    cleanups.push(host, fsDir);
    const r = await fx.makeRelease('1.2.0', v2);
    cleanups.push(r.dir);
    fx.publishStatic(host, r);
    const srv = await fx.serveFolder(host);
    try {
      const cfg = JSON.parse(readFileSync(join(fsDir, 'ota_config.json'), 'utf8')) as Record<string, unknown>;
      writeFileSync(join(fsDir, 'ota_config.json'), JSON.stringify({ ...cfg, url: srv.url }));
      for (const version of ['1.2.0']) {
        writeFileSync(
          join(host, 'latest.json'),
          JSON.stringify({ version, manifest: `${version}/manifest.json` }),
        );
        const r = await fx.runBoard({
          fsDir,
          flashKb: 4096,
          code: 'import ota\nprint(ota.update(False))\nota.confirm()\n',
        });
        assert.equal(r.error, undefined, r.output);
        assert.deepEqual(fx.errorCodes(r.output), [], r.output);
        assert.equal(JSON.parse(readFileSync(join(fsDir, 'version.json'), 'utf8')).version, version);
      }
      assert.equal(readFileSync(join(fsDir, 'lib/module_100.py'), 'utf8'), 'V = "changed"\n');
      assert.equal(
        existsSync(join(fsDir, 'lib/module_007.py')),
        false,
        'a file the release dropped is deleted',
      );
      assert.equal(existsSync(join(fsDir, '.ota/entries')), false, 'no manifest entries left on flash');
    } finally {
      await srv.close();
    }
  },
);

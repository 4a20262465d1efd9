// The updater on the virtual board against a real static host: 1.0.0 -> 1.1.0
// with each signature algorithm, delta downloads, nothing on a second check,
// confirm, and automatic rollback after unconfirmed boots.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as fx from './support/release-fixture';

const T = { timeout: 60_000 };
const keys = fx.makeKeys();
let rel: fx.Release;
const cleanups: string[] = [];

before(async () => {
  rel = await fx.makeRelease('1.1.0', fx.APP_1_1_0, {
    delete: ['old.py'],
    keep: ['settings.json'],
    hooks: { post_update: 'ota_hooks/post.py' },
  });
  cleanups.push(rel.dir);
});
after(() => fx.cleanup(...cleanups));

/** What a board holds after a good update to 1.1.0 (settings.json is kept as it was). */
function expected110(): Record<string, string> {
  const files = { ...fx.APP_1_1_0, 'settings.json': fx.APP_1_0_0['settings.json'] };
  return fx.hashFiles(files);
}

async function staticHost(sign?: fx.Alg): Promise<{ srv: fx.StaticServer; host: string }> {
  const host = fx.tempDir('host');
  cleanups.push(host);
  fx.publishStatic(host, rel, sign ? { sign: { keys, alg: sign } } : {});
  return { srv: await fx.serveFolder(host), host };
}

for (const alg of ['hmac-sha256', 'rsa-sha256', 'ed25519'] as fx.Alg[]) {
  test(`static host, ${alg}-signed: 1.0.0 -> 1.1.0, then a second check downloads nothing`, T, async () => {
    const { srv } = await staticHost(alg);
    const fsDir = fx.makeBoard(
      { source: 'static', url: srv.url, keys: [fx.boardKey(keys, alg)] },
      fx.APP_1_0_0,
      '1.0.0',
    );
    cleanups.push(fsDir);
    try {
      const r = await fx.runBoard({ fsDir, code: 'import ota\nota.update()\n' });
      assert.equal(r.error, undefined, r.output);
      const evs = fx.eventsOf(r.output).map((e): string => e.ev);
      for (const ev of ['check', 'available', 'verified', 'start', 'progress', 'swap', 'done'])
        assert.ok(evs.includes(ev), `${ev} in ${evs.join(',')}`);
      assert.equal(r.resets, 1, 'machine.reset() after the swap');
      assert.deepEqual(fx.hashTree(fsDir, fx.NOT_APP), expected110());
      assert.equal(JSON.parse(readFileSync(join(fsDir, 'version.json'), 'utf8')).version, '1.1.0');
      assert.equal(readFileSync(join(fsDir, 'hook_ran.txt'), 'utf8'), '1.1.0');
      // Delta: the unchanged lib/util.py and the kept settings.json never crossed the air.
      const got = srv.requests.map((q) => q.url);
      assert.ok(!got.includes('/1.1.0/lib/util.py') && !got.includes('/1.1.0/settings.json'), got.join(' '));
      assert.ok(got.includes('/1.1.0/main.py') && got.includes('/1.1.0/lib/new.py'));
      // The board asked for gzip and inflated it: 2 KB of repetitive text crossed as ~100 bytes.
      const newPy = srv.requests.find((q) => q.url === '/1.1.0/lib/new.py')!;
      assert.equal(newPy.headers['accept-encoding'], 'gzip');
      assert.ok(newPy.bytes < 300, `${newPy.bytes} bytes over the air`);

      const before2 = srv.requests.length;
      const r2 = await fx.runBoard({
        fsDir,
        code: 'import ota\nprint(ota.confirm())\nprint(ota.update())\nprint(ota.status())\n',
      });
      assert.equal(r2.error, undefined, r2.output);
      const printed = r2.output.split(/\r?\n/).filter((l) => !l.startsWith('OTA:'));
      assert.deepEqual(printed.slice(1, 3), ['True', 'None'], r2.output);
      assert.ok(fx.eventsOf(r2.output).some((e) => e.ev === 'confirm'));
      assert.ok(!fx.eventsOf(r2.output).some((e) => e.ev === 'available' || e.ev === 'error'), r2.output);
      const second = srv.requests.slice(before2);
      assert.deepEqual(
        second.map((q) => `${q.status} ${q.url}`),
        ['304 /latest.json'],
      );
      assert.ok(!existsSync(join(fsDir, '.ota', 'backup')), 'backups dropped after confirm');
    } finally {
      await srv.close();
    }
  });
}

test('unsigned release without configured keys, no hashlib.sha1: files checked by SHA-256', T, async () => {
  const { srv } = await staticHost();
  const fsDir = fx.makeBoard({ source: 'static', url: srv.url }, fx.APP_1_0_0, '1.0.0');
  cleanups.push(fsDir);
  try {
    const r = await fx.runBoard({ fsDir, sha1: false, code: 'import ota\nota.update()\n' });
    assert.equal(r.error, undefined, r.output);
    assert.deepEqual(fx.errorCodes(r.output), []);
    assert.deepEqual(fx.hashTree(fsDir, fx.NOT_APP), expected110());
  } finally {
    await srv.close();
  }
});

test('a release never confirmed is rolled back after confirm_boots boots', T, async () => {
  const { srv } = await staticHost('hmac-sha256');
  const fsDir = fx.makeBoard(
    { source: 'static', url: srv.url, keys: [fx.boardKey(keys, 'hmac-sha256')], confirm_boots: 2 },
    fx.APP_1_0_0,
    '1.0.0',
  );
  cleanups.push(fsDir);
  try {
    const r = await fx.runBoard({ fsDir, code: 'import ota\nota.update()\n' });
    assert.deepEqual(fx.hashTree(fsDir, fx.NOT_APP), expected110(), r.output);
    // The reset after the swap was boot 1; boot 2 is still allowed, boot 3 rolls back.
    const b2 = await fx.runBoard({ fsDir });
    assert.ok(!fx.eventsOf(b2.output).some((e) => e.ev === 'rollback'), b2.output);
    const b3 = await fx.runBoard({ fsDir, code: 'import ota\nprint(ota.status())\nprint(ota.update())\n' });
    const rb = fx.eventsOf(b3.output).find((e) => e.ev === 'rollback');
    assert.ok(rb, b3.output);
    assert.equal(rb.version, '1.1.0');
    assert.deepEqual(fx.hashTree(fsDir, fx.NOT_APP), fx.hashFiles(fx.APP_1_0_0));
    assert.equal(JSON.parse(readFileSync(join(fsDir, 'version.json'), 'utf8')).version, '1.0.0');
    assert.match(b3.output, /'state': 'idle'/);
    // The rolled-back release is not installed again.
    assert.ok(!fx.eventsOf(b3.output).some((e) => e.ev === 'start'), b3.output);
  } finally {
    await srv.close();
  }
});

/** A fresh board (no release yet) and a static host with 1.1.0 and its bundle. */
async function bundled(): Promise<{ big: fx.Release; srv: fx.StaticServer; fsDir: string }> {
  const big = await fx.makeRelease('1.1.0', fx.APP_1_1_0, { keep: ['settings.json'], bundle: true });
  const host = fx.tempDir('host');
  fx.publishStatic(host, big);
  const srv = await fx.serveFolder(host);
  const fsDir = fx.makeBoard({ source: 'static', url: srv.url }, {}, undefined);
  cleanups.push(big.dir, host, fsDir);
  return { big, srv, fsDir };
}

test('a fresh board takes the whole release from the bundle (.tar.gz) when that is cheaper', T, async () => {
  const { big, srv, fsDir } = await bundled();
  try {
    const r = await fx.runBoard({ fsDir, code: 'import ota\nota.update()\n' });
    assert.deepEqual(fx.errorCodes(r.output), [], r.output);
    assert.deepEqual(fx.hashTree(fsDir, fx.NOT_APP), fx.hashFiles(fx.APP_1_1_0));
    const got = srv.requests.map((q) => q.url);
    assert.ok(got.includes(`/1.1.0/${big.manifest.bundle!.name}`), got.join(' '));
    assert.ok(!got.some((u) => u.endsWith('.py')), `no single-file downloads: ${got.join(' ')}`);
  } finally {
    await srv.close();
  }
});

test(
  'a heap with no 33 KB block left takes the release file by file, with one no_memory warning',
  T,
  async () => {
    const { big, srv, fsDir } = await bundled();
    try {
      // 16 KB blocks fill the heap, then every other one goes: room in scattered blocks only.
      const code = [
        'import gc',
        'h = []',
        'try:',
        '    while True:',
        '        h.append(bytearray(16 * 1024))',
        'except MemoryError:',
        '    pass',
        'h = h[::2]',
        'gc.collect()',
        'import ota',
        'ota.update()',
        '',
      ].join('\n');
      const r = await fx.runBoard({ fsDir, code });
      assert.deepEqual(fx.errorCodes(r.output), [], r.output);
      const warned = fx
        .eventsOf(r.output)
        .filter((e) => e.ev === 'warning')
        .map((e) => e.code);
      assert.deepEqual(warned, ['no_memory'], r.output);
      assert.deepEqual(fx.hashTree(fsDir, fx.NOT_APP), fx.hashFiles(fx.APP_1_1_0));
      const got = srv.requests.map((q) => q.url);
      assert.ok(!got.includes(`/1.1.0/${big.manifest.bundle!.name}`), got.join(' '));
    } finally {
      await srv.close();
    }
  },
);

test('a bundle that does not match its manifest entry is refused: hash_mismatch', T, async () => {
  const big = await fx.makeRelease('1.1.0', fx.APP_1_1_0, { bundle: true });
  const host = fx.tempDir('host');
  cleanups.push(big.dir, host);
  fx.publishStatic(host, big);
  const name = join(host, '1.1.0', big.manifest.bundle!.name);
  const b = readFileSync(name);
  b[b.length - 5] ^= 0xff; // in the gzip trailer's CRC-32: every entry still inflates
  writeFileSync(name, b);
  const srv = await fx.serveFolder(host);
  const fsDir = fx.makeBoard({ source: 'static', url: srv.url }, fx.APP_1_0_0, '1.0.0');
  cleanups.push(fsDir);
  try {
    const r = await fx.runBoard({ fsDir, code: 'import ota\nota.update()\n' });
    assert.deepEqual(fx.errorCodes(r.output), ['hash_mismatch'], r.output);
    assert.deepEqual(fx.hashTree(fsDir, fx.NOT_APP), fx.hashFiles(fx.APP_1_0_0));
  } finally {
    await srv.close();
  }
});

test('ota.rollback() restores the replaced release and runs the rollback hook first', T, async () => {
  const files = {
    ...fx.APP_1_1_0,
    'ota_hooks/rb.py': 'f = open("rb_ran.txt", "w")\nf.write("yes")\nf.close()\n',
  };
  const withHook = await fx.makeRelease('1.1.0', files, {
    delete: ['old.py'],
    hooks: { post_update: 'ota_hooks/post.py', rollback: 'ota_hooks/rb.py' },
  });
  const host = fx.tempDir('host');
  cleanups.push(withHook.dir, host);
  fx.publishStatic(host, withHook);
  const srv = await fx.serveFolder(host);
  const fsDir = fx.makeBoard({ source: 'static', url: srv.url }, fx.APP_1_0_0, '1.0.0');
  cleanups.push(fsDir);
  try {
    const r = await fx.runBoard({ fsDir, code: 'import ota\nota.update()\n' });
    assert.deepEqual(fx.errorCodes(r.output), [], r.output);
    assert.equal(JSON.parse(readFileSync(join(fsDir, 'version.json'), 'utf8')).version, '1.1.0');
    const rb = await fx.runBoard({ fsDir, code: 'import ota\nprint(ota.rollback())\nprint(ota.status())\n' });
    assert.ok(
      fx.eventsOf(rb.output).some((e) => e.ev === 'rollback'),
      rb.output,
    );
    assert.deepEqual(fx.hashTree(fsDir, [...fx.NOT_APP, 'rb_ran.txt']), fx.hashFiles(fx.APP_1_0_0));
    assert.equal(readFileSync(join(fsDir, 'rb_ran.txt'), 'utf8'), 'yes');
    assert.equal(JSON.parse(readFileSync(join(fsDir, 'version.json'), 'utf8')).version, '1.0.0');
    assert.match(rb.output, /'state': 'idle'/);
  } finally {
    await srv.close();
  }
});

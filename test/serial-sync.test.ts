// sync and install against the virtual board over its real pseudo-terminal.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openBoard } from '../src/core/serial/board';
import { onBoard } from './support/on-board';
import { collectProject, syncFiles } from '../src/core/serial/sync';
import { BOOT_LINES, checkBoardFiles, installUpdater, withBootHook } from '../src/core/serial/install';
import { generateKey } from '../src/core/keys';
import { OtaError } from '../src/core/errors';
import type { OtaConfig } from '../src/core/config';
import { startBoard, type TestBoard } from './serial-board';

let vb: TestBoard;

before(async () => {
  vb = await startBoard();
});
after(async () => {
  await vb?.stop();
});

test('sync writes only what differs and removes what the release dropped', { timeout: 30_000 }, async () => {
  await onBoard(vb.path, async (b) => {
    const files = [
      { path: 'main.py', data: Buffer.from('print("v1")\n') },
      { path: 'lib/util.py', data: Buffer.from('X = 1\n') },
      { path: 'old.py', data: Buffer.from('gone soon\n') },
    ];
    const first = await syncFiles(b, { files });
    assert.deepEqual(first.uploaded.sort(), ['lib/util.py', 'main.py', 'old.py']);

    const second = await syncFiles(b, {
      files: [{ path: 'main.py', data: Buffer.from('print("v2")\n') }, files[1]],
      remove: ['old.py', 'never-existed.py'],
    });
    assert.deepEqual(second.uploaded, ['main.py']);
    assert.deepEqual(second.unchanged, ['lib/util.py']);
    assert.deepEqual(second.removed, ['old.py']);
    assert.equal(existsSync(join(vb.fsDir, 'old.py')), false);
    assert.equal(readFileSync(join(vb.fsDir, 'main.py'), 'utf8'), 'print("v2")\n');

    const third = await syncFiles(b, { files: [{ path: 'main.py', data: Buffer.from('print("v2")\n') }] });
    assert.deepEqual([third.uploaded, third.bytes], [[], 0]);

    await assert.rejects(
      syncFiles(b, { files: [{ path: '../escape.py', data: Buffer.from('x') }] }),
      (e: unknown) => e instanceof OtaError && e.code === 'bad_path',
    );
    await assert.rejects(
      syncFiles(b, { files: [{ path: '.ota/state.json', data: Buffer.from('{}') }] }),
      (e: unknown) => e instanceof OtaError && e.code === 'bad_path',
    );
  });
});

test(
  'a project of many files syncs in pipelined batches, then nothing is resent',
  { timeout: 30_000 },
  async () => {
    await onBoard(vb.path, async (b) => {
      const files = Array.from({ length: 90 }, (_, i) => ({
        path: `many/d${i % 7}/f${i}.py`,
        data: Buffer.from(`N = ${i}\n`.repeat(i + 1)),
      }));
      const first = await syncFiles(b, { files, root: '/app' });
      assert.equal(first.uploaded.length, 90);
      for (const f of files) assert.deepEqual(readFileSync(join(vb.fsDir, 'app', f.path)), f.data, f.path);
      const again = await syncFiles(b, { files, root: '/app' });
      assert.deepEqual([again.uploaded.length, again.unchanged.length], [0, 90]);
    });
  },
);

test('collectProject takes a manifest folder exactly, or walks a plain project', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ota-push-'));
  writeFileSync(join(dir, 'main.py'), 'print(1)\n');
  mkdirSync(join(dir, 'lib'));
  writeFileSync(join(dir, 'lib', 'a.py'), 'A = 1\n');
  writeFileSync(join(dir, '.otaignore'), 'secret.txt\n');
  writeFileSync(join(dir, 'secret.txt'), 'no\n');
  const plain = await collectProject(dir);
  assert.deepEqual(plain.files.map((f) => f.path).sort(), ['lib/a.py', 'main.py']);

  writeFileSync(
    join(dir, 'manifest.json'),
    JSON.stringify({ schema: 1, version: '1.0.0', files: [{ path: 'main.py' }], delete: ['old.py'] }),
  );
  const fromManifest = await collectProject(dir);
  assert.deepEqual(
    fromManifest.files.map((f) => f.path),
    ['main.py'],
  );
  assert.deepEqual(fromManifest.remove, ['old.py']);

  writeFileSync(join(dir, 'manifest.json'), '{ nope');
  await assert.rejects(
    collectProject(dir),
    (e: unknown) => e instanceof OtaError && e.code === 'bad_manifest',
  );
});

test('boot.py gets ota.boot() first and keeps the user code, idempotently', () => {
  const HOOK = BOOT_LINES.join('\n');
  assert.equal(withBootHook(''), HOOK + '\n');
  const user = 'import network\nnetwork.WLAN().active(True)\n';
  const once = withBootHook(user);
  assert.equal(once, `${HOOK}\nimport network\nnetwork.WLAN().active(True)\n`);
  assert.equal(withBootHook(once), once);
  // A hook the user moved below their code is brought back to the top, not duplicated.
  const moved = 'import gc\nimport ota\nota.boot()\n';
  assert.equal(withBootHook(moved).match(/ota\.boot\(\)/g)?.length, 1);
  assert.ok(withBootHook(moved).startsWith(HOOK));
  // The hook of earlier versions (which ran the switch script without its marker) is replaced.
  const legacy = `try: exec(open('.ota/install.py').read())  # ota: finish an interrupted updater install\nexcept OSError: pass  # ota\nimport ota\nota.boot()  # ota: finish or undo an interrupted update first\n${user}`;
  assert.equal(withBootHook(legacy), once);
});

test(
  'install puts the updater, config with the key, and the boot hook; a second install changes nothing',
  { timeout: 60_000 },
  async () => {
    const b = await openBoard(vb.path);
    const keyDir = mkdtempSync(join(tmpdir(), 'ota-key-'));
    try {
      await b.write('/boot.py', Buffer.from('print("user boot")\n'));
      const { path: keyFile } = await generateKey('hmac-sha256', { path: join(keyDir, 'k.json') });
      const config: OtaConfig = { source: 'static', url: 'http://127.0.0.1:1/', channel: 'stable', keys: [] };
      const deviceDir = join(__dirname, '..', 'device');
      const first = await installUpdater(b, { deviceDir, config, keyFile });
      const pkg = JSON.parse(readFileSync(join(deviceDir, 'package.json'), 'utf8')) as {
        urls: [string, string][];
      };
      for (const [dest] of pkg.urls) {
        assert.deepEqual(readFileSync(join(vb.fsDir, dest)), readFileSync(join(deviceDir, dest)), dest);
      }
      assert.ok(first.uploaded.includes('ota_config.json') && first.bootChanged);
      const cfg = JSON.parse(readFileSync(join(vb.fsDir, 'ota_config.json'), 'utf8')) as {
        keys: { id: string }[];
      };
      assert.equal(cfg.keys.length, 1);
      const boot = readFileSync(join(vb.fsDir, 'boot.py'), 'utf8');
      assert.ok(boot.startsWith(BOOT_LINES.join('\n')), boot);
      assert.match(boot, /print\("user boot"\)/);

      const second = await installUpdater(b, { deviceDir, config, keyFile });
      assert.deepEqual([second.uploaded, second.removed, second.bootChanged], [[], [], false]);

      // The hooked boot.py runs on the board: ota.boot() imports and returns, the user code follows.
      await b.softReset();
      const out = await b.exec('import ota\nprint(ota.status()["state"])');
      assert.equal(out.toString().trim(), 'idle');
      assert.ok(!existsSync(join(vb.fsDir, '.ota', 'push')), 'nothing staged is left behind');
    } finally {
      await b.close();
    }
  },
);

test('install refuses a device folder without a package list', async () => {
  await onBoard(vb.path, async (b) => {
    await assert.rejects(
      installUpdater(b, { deviceDir: mkdtempSync(join(tmpdir(), 'ota-empty-')), config: {} as OtaConfig }),
      (e: unknown) => e instanceof OtaError && e.code === 'no_package',
    );
  });
});

test('a tls file kept in ota/ or .ota/ (which a reinstall clears) is refused before the board is touched', async () => {
  const base: OtaConfig = { source: 'static', url: 'https://example.com/fw/' };
  for (const [key, path] of [
    ['ca', 'ota/my-ca.pem'],
    ['ca', '/OTA/My-CA.pem'],
    ['cert', './ota/client.crt'],
    ['key', '.ota/serial/client.key'],
  ] as const) {
    const config = { ...base, tls: { [key]: path } } as OtaConfig;
    assert.throws(
      () => checkBoardFiles(config),
      (e: unknown) =>
        e instanceof OtaError &&
        e.code === 'reserved_path' &&
        e.message.includes(`tls.${key}`) &&
        /reinstall would delete it/.test(e.message),
      `${key}=${path}`,
    );
  }
  // The fleet broker's CA is held to the same rule.
  assert.throws(
    () =>
      checkBoardFiles({
        ...base,
        fleet: { broker: 'mqtts://b.example:8883', name: 'lab', tls: { ca: 'ota/broker-ca.pem' } },
      } as OtaConfig),
    (e: unknown) => e instanceof OtaError && e.code === 'reserved_path' && e.message.includes('fleet.tls.ca'),
  );
  // Elsewhere, and the installer's own roots file, are fine.
  checkBoardFiles({ ...base, tls: { ca: 'certs/ca.pem', cert: '/certs/c.crt', key: 'c.key' } } as OtaConfig);
  checkBoardFiles({ ...base, tls: { ca: 'ota/roots.pem' } } as OtaConfig);
  // Through the installer on the real board: refused, and nothing written.
  await onBoard(vb.path, async (b) => {
    const before = (await b.ls('/')).map((e) => e.path);
    await assert.rejects(
      installUpdater(b, {
        deviceDir: join(__dirname, '..', 'device'),
        config: { ...base, tls: { ca: 'ota/my-ca.pem' } } as OtaConfig,
      }),
      (e: unknown) => e instanceof OtaError && e.code === 'reserved_path',
    );
    assert.deepEqual(
      (await b.ls('/')).map((e) => e.path),
      before,
    );
  });
});

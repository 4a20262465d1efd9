// The boot-time push recovery (device/install.py, kept on the board as /.ota/recover.py) against what a
// cut or a hostile writer can leave in /.ota: a marker or new-file list that does not parse, is too big,
// has a bad hash, or names a path a push never writes (relative, "..", reserved: boot.py, ota/, .ota/, the
// config). Each is refused with one "ota push: … refused" line, the board's files stay byte-identical,
// and the flags are gone after the boot. A good marker is finished by boot.py's lines on a board without
// the updater, and by ota.boot() on a board whose boot.py only calls it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { openBoard } from '../src/core/serial/board';
import { RECOVER_SOURCE } from '../src/core/serial/board-helpers';
import { RESERVED } from '../src/core/reserved';
import { syncFiles } from '../src/core/serial/sync';
import * as fx from './support/release-fixture';
import { startBoard } from './serial-board';

const sha = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');
const cleanups: string[] = [];
let pushed = '';

/** A board a push has written to: main.py, lib/a.py, recover.py and boot.py's two lines. */
before(async () => {
  pushed = fx.tempDir('push-hostile');
  cleanups.push(pushed);
  const vb = await startBoard({ fsDir: pushed });
  const b = await openBoard(vb.path);
  try {
    await syncFiles(b, {
      files: [
        { path: 'main.py', data: Buffer.from('print("main old")\n') },
        { path: 'lib/a.py', data: Buffer.from('A = 1\n') },
      ],
      root: '/',
    });
  } finally {
    await b.close();
    await vb.stop();
  }
  assert.equal(readFileSync(join(pushed, '.ota', 'recover.py'), 'utf8'), RECOVER_SOURCE);
  assert.match(readFileSync(join(pushed, 'boot.py'), 'utf8'), /recover\.py/);
  // Files a hostile marker would like to reach.
  mkdirSync(join(pushed, 'ota'));
  writeFileSync(join(pushed, 'ota', 'updater.py'), 'X = "real updater"\n');
  writeFileSync(join(pushed, 'ota_config.json'), '{"source": "static"}\n');
});
after(() => fx.cleanup(...cleanups));

function board(files: Record<string, string>): string {
  const d = fx.tempDir('push-hostile-case');
  cleanups.push(d);
  cpSync(pushed, d, { recursive: true });
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(dirname(join(d, p)), { recursive: true });
    writeFileSync(join(d, p), text);
  }
  return d;
}

/** Every file of the board except the push's own working files, path -> sha256. */
function userFiles(d: string): Record<string, string> {
  const all = fx.hashTree(d);
  return Object.fromEntries(Object.entries(all).filter(([p]) => !/^\.ota\/(push|hook)/.test(p)));
}

const EVIL = 'print("evil")\n';
const stagedEvil = (p: string) => ({ [`.ota/push${p}`]: EVIL });
const marker = (files: Record<string, string>, remove: unknown[] = []) => JSON.stringify({ files, remove });

const CASES: [string, Record<string, string>, RegExp][] = [
  ['a marker cut while written', { '.ota/push.json': '{"files": {"/main.py": "ab' }, /does not parse/],
  [
    'a marker naming boot.py',
    { ...stagedEvil('/boot.py'), '.ota/push.json': marker({ '/boot.py': sha(EVIL) }) },
    /names \/boot\.py, a reserved path/,
  ],
  [
    'a marker naming the updater',
    { ...stagedEvil('/ota/updater.py'), '.ota/push.json': marker({ '/OTA/updater.py': sha(EVIL) }) },
    /a reserved path/,
  ],
  [
    'a marker naming a path outside the root',
    { ...stagedEvil('/../x.py'), '.ota/push.json': marker({ '/lib/../../x.py': sha(EVIL) }) },
    /not a plain path/,
  ],
  [
    'a marker naming a relative path',
    { '.ota/push/main.py': EVIL, '.ota/push.json': marker({ 'main.py': sha(EVIL) }) },
    /not an absolute board path/,
  ],
  [
    'a marker removing the config',
    { '.ota/push.json': marker({}, ['/ota_config.json', '/main.py']) },
    /a reserved path/,
  ],
  [
    'a marker removing something that is not a path',
    { '.ota/push.json': marker({}, [{ path: '/main.py' }]) },
    /not an absolute board path/,
  ],
  [
    'a marker with a bad hash',
    { '.ota/push/main.py': EVIL, '.ota/push.json': marker({ '/main.py': 'zz' + sha(EVIL).slice(2) }) },
    /bad hash/,
  ],
  [
    'a huge marker',
    {
      '.ota/push.json': marker(
        Object.fromEntries([...Array(600).keys()].map((i) => [`/f${i}/${'x'.repeat(40)}.py`, sha(`${i}`)])),
      ),
    },
    /is over 32768 bytes/,
  ],
  ['a new-file list cut while written', { '.ota/push.new': '["/main.py", "/li' }, /new-file list .* refused/],
  [
    'a new-file list naming boot.py',
    { '.ota/push.new': '["/boot.py"]' },
    /names \/boot\.py, a reserved path/,
  ],
  ['a new-file list that is no list', { '.ota/push.new': '{"/main.py": 1}' }, /is not a list/],
];

for (const [name, files, why] of CASES) {
  test(`boot refuses ${name}, touching none of the board's files`, async () => {
    const d = board(files);
    const before = userFiles(d);
    const r = await fx.runBoard({ fsDir: d });
    assert.match(r.output, /ota push: .* refused/, r.output);
    assert.match(r.output, why, r.output);
    assert.match(r.output, /main old/, 'main.py ran, as it was');
    assert.deepEqual(userFiles(d), before);
    for (const f of ['push.json', 'push.new']) assert.equal(existsSync(join(d, '.ota', f)), false, f);
  });
}

test('boot.py finishes a push whose marker is whole, and undoes one cut before it', async () => {
  const NEW = 'print("main new")\n';
  // The copy of main.py cut halfway: torn in place, whole in the stage.
  const d = board({
    'main.py': 'print("main n',
    '.ota/push/main.py': NEW,
    'lib/b.py': 'B = 2\n',
    '.ota/push.json': marker({ '/main.py': sha(NEW), '/lib/b.py': sha('B = 2\n') }, ['/lib/a.py']),
  });
  const r = await fx.runBoard({ fsDir: d });
  assert.match(r.output, /ota push: finished an interrupted push[\s\S]*main new/, r.output);
  assert.equal(existsSync(join(d, 'lib', 'a.py')), false);
  assert.equal(readFileSync(join(d, 'lib', 'b.py'), 'utf8'), 'B = 2\n');
  assert.equal(existsSync(join(d, '.ota', 'push')), false);

  const u = board({
    'lib/new.py': 'half',
    'main.py': 'print("mai',
    '.ota/push.new': '["/lib/new.py", "/main.py"]',
  });
  const r2 = await fx.runBoard({ fsDir: u });
  assert.match(r2.output, /undid an interrupted push \(2 new files removed\)/, r2.output);
  assert.equal(existsSync(join(u, 'lib', 'new.py')), false);
});

test('ota.boot() finishes an interrupted push on a board whose boot.py only calls it', async () => {
  const d = fx.makeBoard({ source: 'static', url: 'http://127.0.0.1:9' }, fx.APP_1_0_0, '1.0.0');
  cleanups.push(d);
  assert.equal(readFileSync(join(d, 'boot.py'), 'utf8'), 'import ota\nota.boot()\n');
  const NEW = 'print("pushed main")\n';
  mkdirSync(join(d, '.ota', 'push'), { recursive: true });
  writeFileSync(join(d, '.ota', 'recover.py'), RECOVER_SOURCE);
  writeFileSync(join(d, 'main.py'), 'print("pushed m');
  writeFileSync(join(d, '.ota', 'push', 'main.py'), NEW);
  writeFileSync(join(d, '.ota', 'push.json'), marker({ '/main.py': sha(NEW) }));
  const r = await fx.runBoard({ fsDir: d });
  assert.match(r.output, /finished an interrupted push[\s\S]*pushed main/, r.output);
  assert.equal(existsSync(join(d, '.ota', 'push.json')), false);
});

test('the recovery script and the serial helpers hold the reserved tuple of src/core/reserved.ts', () => {
  // Neither can import ota/reserved.py: the board may have no updater.
  for (const f of ['device/install.py', 'src/core/serial/py/board_helpers.py']) {
    const text = readFileSync(join(__dirname, '..', f), 'utf8');
    const m = /in \(("ota_config\.json"[^)]*)\)/.exec(text);
    assert.ok(m, `${f}: the reserved tuple is not found`);
    assert.deepEqual(
      [...m[1].matchAll(/"([^"]*)"/g)].map((x) => x[1]),
      [...RESERVED],
      f,
    );
  }
});

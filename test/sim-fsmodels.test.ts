// The flash's filesystem models (src/sim/flash.ts): FAT's case folding, its two-step renames and the
// cross-linked entries a cut between them leaves; LittleFS's pending move that hides later entries of
// the source folder until the first write; block writes counted per sector, dropped or torn at the cut.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runBoard } from '../src/sim/board';

function dir(files: Record<string, string> = {}): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'sim-fsm-'));
  for (const [p, data] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(d, p)), { recursive: true });
    fs.writeFileSync(path.join(d, p), data);
  }
  return d;
}
function done(d: string): void {
  fs.rmSync(d, { recursive: true, force: true });
  fs.rmSync(`${d}.fsmeta.json`, { force: true });
}
const read = (d: string, p: string): string => fs.readFileSync(path.join(d, p), 'latin1');

test('FAT names compare case-insensitively and keep the case they were created with', async () => {
  const d = dir({ '.ota/state.json': 'old' });
  const r = await runBoard({
    fsDir: d,
    fs: 'fat',
    boot: false,
    code: "import os\nopen('.OTA/STATE.JSON', 'w').write('new')\nprint(os.listdir('.ota'), os.stat('MAIN.PY')[6] if 0 else 0)",
  });
  assert.equal(r.error, undefined, r.error);
  assert.deepEqual(fs.readdirSync(path.join(d, '.ota')), ['state.json']);
  assert.equal(read(d, '.ota/state.json'), 'new');
  done(d);
});

test('on posix the same names are two files', async () => {
  const d = dir({ '.ota/state.json': 'old' });
  const r = await runBoard({
    fsDir: d,
    boot: false,
    code: "import os\nos.mkdir('.OTA')\nprint(sorted(os.listdir('')))",
  });
  assert.equal(r.error, undefined, r.error);
  assert.match(r.output, /'\.OTA', '\.ota'/);
  done(d);
});

test('a FAT write is one block write per sector it touches; a torn one lands half a sector', async () => {
  for (const [sector, steps] of [
    [512, 3],
    [4096, 1],
  ] as const) {
    const d = dir();
    // create (1) + 1300 bytes
    const code = "f = open('a', 'wb')\nf.write(b'x' * 1300)\nf.close()";
    const full = await runBoard({ fsDir: d, fs: 'fat', sectorSize: sector, boot: false, code });
    assert.equal(full.mutations, 1 + steps, `sector ${sector}`);
    done(d);
  }
  const d = dir();
  const code = "f = open('a', 'wb')\nf.write(b'x' * 1300)\nf.close()";
  const torn = await runBoard({
    fsDir: d,
    fs: 'fat',
    sectorSize: 512,
    boot: false,
    code,
    cutAfterMutations: 3,
    cutMode: 'tear',
  });
  assert.ok(torn.powerCut);
  assert.equal(read(d, 'a').length, 512 + 256);
  done(d);
  const d2 = dir();
  await runBoard({
    fsDir: d2,
    fs: 'fat',
    sectorSize: 512,
    boot: false,
    code,
    cutAfterMutations: 3,
    cutMode: 'drop',
  });
  assert.equal(read(d2, 'a').length, 512);
  done(d2);
});

test('FAT: a cut inside a rename leaves two entries sharing clusters; freeing one corrupts the other', async () => {
  const d = dir({ 'lib/a.py': 'A'.repeat(600), 'keep.py': 'K' });
  // rename = new entry (1), old entry removed (2): cut after the first.
  const cut = await runBoard({
    fsDir: d,
    fs: 'fat',
    sectorSize: 512,
    boot: false,
    code: "import os\nos.rename('lib/a.py', 'b.py')",
    cutAfterMutations: 1,
  });
  assert.ok(cut.powerCut);
  assert.equal(read(d, 'lib/a.py'), 'A'.repeat(600));
  assert.equal(read(d, 'b.py'), 'A'.repeat(600));
  // Removing one entry frees the clusters; the next file written takes them: b.py reads its bytes.
  const after = await runBoard({
    fsDir: d,
    fs: 'fat',
    sectorSize: 512,
    boot: false,
    code: "import os\nos.remove('lib/a.py')\nprint(open('b.py').read() == 'A' * 600)\nopen('j.json', 'w').write('J' * 700)\nprint(open('b.py').read(3))",
  });
  assert.equal(after.error, undefined, after.error);
  assert.equal(after.output, 'True\r\nJJJ\r\n');
  done(d);
});

test('FAT: a rename over an existing file removes it first (a cut between leaves neither name replaced)', async () => {
  const d = dir({ 'a.tmp': 'new', a: 'old' });
  const r = await runBoard({
    fsDir: d,
    fs: 'fat',
    boot: false,
    code: "import os\nos.rename('a.tmp', 'a')",
    cutAfterMutations: 1,
  });
  assert.ok(r.powerCut);
  assert.deepEqual(fs.readdirSync(d), ['a.tmp']);
  done(d);
});

test('LittleFS: a cut between the two commits of a move hides later entries until the first write', async () => {
  const d = dir({ 'stage/b.py': 'B', 'stage/c.py': 'C', 'stage/a.py': 'A', 'lib/x': 'X' });
  const cut = await runBoard({
    fsDir: d,
    fs: 'littlefs',
    boot: false,
    code: "import os\nos.rename('stage/b.py', 'lib/b.py')",
    cutAfterMutations: 1,
  });
  assert.ok(cut.powerCut);
  const look = [
    'import os',
    'def ex(p):',
    '    try:',
    '        os.stat(p)',
    '        return 1',
    '    except OSError:',
    '        return 0',
    "print(sorted(os.listdir('stage')), ex('stage/c.py'), ex('lib/b.py'))",
  ].join('\n');
  const hidden = await runBoard({ fsDir: d, fs: 'littlefs', boot: false, code: look });
  assert.equal(hidden.output, "['a.py'] 0 1\r\n");
  // mkdir of an existing folder is a write: LittleFS completes the move first.
  const fixed = await runBoard({
    fsDir: d,
    fs: 'littlefs',
    boot: false,
    code: `${look}\ntry:\n    os.mkdir('lib')\nexcept OSError:\n    pass\n${look.split('\n').pop()}`,
  });
  assert.equal(fixed.output, "['a.py'] 0 1\r\n['a.py', 'c.py'] 1 1\r\n");
  assert.equal(fs.existsSync(`${d}.fsmeta.json`), false);
  done(d);
});

test('LittleFS: a rename within a folder is one atomic commit, over an existing file too', async () => {
  const d = dir({ 'a.tmp': 'new', a: 'old' });
  const r = await runBoard({
    fsDir: d,
    fs: 'littlefs',
    boot: false,
    code: "import os\nos.rename('a.tmp', 'a')",
  });
  assert.equal(r.mutations, 1);
  assert.deepEqual(fs.readdirSync(d), ['a']);
  done(d);
});

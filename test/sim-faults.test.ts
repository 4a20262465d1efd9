// Fault injection on the virtual board: power cuts at each filesystem mutation, and the heap limit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runBoard, VirtualBoard } from '../src/sim/board';

function snapshot(dir: string, prefix = ''): Record<string, string> {
  const out: Record<string, string> = {};
  for (const ent of fs.readdirSync(dir, { withFileTypes: true })) {
    const rel = prefix + ent.name;
    if (ent.isDirectory()) {
      out[rel + '/'] = '';
      Object.assign(out, snapshot(path.join(dir, ent.name), rel + '/'));
    } else out[rel] = fs.readFileSync(path.join(dir, ent.name), 'latin1');
  }
  return out;
}

// Seven mutations: mkdir, write, write, rename, write (to a file created by open), remove, rmdir.
const SCRIPT = [
  'import os',
  "print('start')",
  "os.mkdir('d')",
  "f = open('d/a', 'wb')",
  "f.write(b'1' * 10)",
  "f.write(b'2' * 10)",
  'f.close()',
  "os.rename('d/a', 'd/b')",
  "open('c', 'w').write('x')",
  "os.remove('d/b')",
  "os.rmdir('d')",
  "print('end')",
].join('\n');

const A = '1'.repeat(10);
const AB = A + '2'.repeat(10);
const AFTER: Record<string, string>[] = [
  { 'keep.txt': 'k' },
  { 'keep.txt': 'k', 'd/': '' },
  { 'keep.txt': 'k', 'd/': '', 'd/a': A },
  { 'keep.txt': 'k', 'd/': '', 'd/a': AB },
  { 'keep.txt': 'k', 'd/': '', 'd/b': AB },
  { 'keep.txt': 'k', 'd/': '', 'd/b': AB, c: 'x' },
  { 'keep.txt': 'k', 'd/': '', c: 'x' },
  { 'keep.txt': 'k', c: 'x' },
];

test(
  'a power cut at mutation k leaves exactly the first k mutations on the flash',
  { timeout: 60_000 },
  async () => {
    for (const k of [1, 2, 3, 4, 5, 6, 7]) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sim-cut-'));
      fs.writeFileSync(path.join(dir, 'keep.txt'), 'k');
      const r = await runBoard({ fsDir: dir, boot: false, code: SCRIPT, cutAfterMutations: k });
      assert.equal(r.powerCut, true, `k=${k}`);
      assert.equal(r.mutations, k);
      assert.equal(r.output, 'start\r\n', 'the board stops at the cut: nothing after it runs');
      assert.deepEqual(snapshot(dir), AFTER[k], `flash after a cut at mutation ${k}`);
      fs.rmSync(dir, { recursive: true });
    }
  },
);

test('without a cut the same script runs to the end with seven mutations', { timeout: 20_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sim-cut-'));
  fs.writeFileSync(path.join(dir, 'keep.txt'), 'k');
  const r = await runBoard({ fsDir: dir, boot: false, code: SCRIPT });
  assert.equal(r.powerCut, false);
  assert.equal(r.mutations, 7);
  assert.equal(r.output, 'start\r\nend\r\n');
  assert.deepEqual(snapshot(dir), AFTER[7]);
});

test(
  'mutations count across reboots, and the cut can land in boot.py after a reset',
  { timeout: 20_000 },
  async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sim-cut-'));
    fs.writeFileSync(path.join(dir, 'boot.py'), "open('booted', 'a').write('b')\n");
    const board = await VirtualBoard.start({ fsDir: dir, cutAfterMutations: 3 });
    const off = new Promise<void>((resolve) => board.once('poweroff', resolve));
    assert.equal(board.mutations, 1);
    board.write('\x01');
    board.write('import machine; machine.reset()\x04');
    await new Promise<void>((resolve) => board.once('reset', resolve));
    await board.settled();
    assert.equal(board.mutations, 2);
    board.write('import machine; machine.reset()\r');
    await off;
    assert.equal(board.poweredOff, true);
    assert.equal(board.mutations, 3);
    assert.equal(fs.readFileSync(path.join(dir, 'booted'), 'utf8'), 'bbb');
    await board.stop();
  },
);

test('the heap limit raises MemoryError where the board would, and gc.mem_free() reports it', async () => {
  const r = await runBoard({
    fsDir: fs.mkdtempSync(path.join(os.tmpdir(), 'sim-heap-')),
    heapKb: 128,
    boot: false,
    code: [
      'import gc',
      'gc.collect()',
      'free = gc.mem_free()',
      'print(100 * 1024 < free + gc.mem_alloc() <= 128 * 1024)',
      'b = bytearray(64 * 1024)',
      'del b',
      'b = bytearray(200 * 1024)',
    ].join('\n'),
  });
  assert.equal(r.output, 'True\r\n');
  assert.match(r.error ?? '', /MemoryError: memory allocation failed, allocating 204800 bytes\r\n$/);
});

test('a bigger heap holds what a smaller one cannot', async () => {
  const r = await runBoard({
    fsDir: fs.mkdtempSync(path.join(os.tmpdir(), 'sim-heap-')),
    heapKb: 512,
    boot: false,
    code: 'b = bytearray(200 * 1024)\nprint(len(b))',
  });
  assert.equal(r.error, undefined);
  assert.equal(r.output, '204800\r\n');
});

test(
  'a heap filled to the last block still prints MemoryError, and the board recovers',
  { timeout: 20_000 },
  async () => {
    const board = await VirtualBoard.start({
      fsDir: fs.mkdtempSync(path.join(os.tmpdir(), 'sim-heap-')),
      heapKb: 96,
    });
    let out = '';
    board.on('data', (d: Buffer) => (out += d.toString('latin1')));
    const until = async (s: string): Promise<string> => {
      const deadline = Date.now() + 10_000;
      while (!out.includes(s) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      const got = out;
      out = '';
      return got;
    };
    board.write('\x01');
    await until('>');
    board.write('l = []\nwhile True:\n    l.append(bytearray(16))\n\x04');
    const failed = await until('\x04>');
    assert.ok(failed.startsWith('OK\x04') && failed.endsWith('\x04>'), failed);
    assert.match(failed, /MemoryError: /);
    board.write('l = None\nprint("recovered")\x04');
    assert.equal(await until('\x04>'), 'OKrecovered\r\n\x04\x04>');
    await board.stop();
  },
);

test(
  'gc.collect() reclaims garbage in the middle of a run, and live objects survive it',
  { timeout: 20_000 },
  async () => {
    const r = await runBoard({
      fsDir: fs.mkdtempSync(path.join(os.tmpdir(), 'sim-heap-')),
      heapKb: 64,
      boot: false,
      code: [
        'import gc',
        'keep = [bytes([i]) * 100 for i in range(50)]',
        'for i in range(2000):',
        '    junk = bytearray(1000)',
        '    if i % 20 == 0:',
        '        gc.collect()',
        'junk = None',
        'gc.collect()',
        'print(all(keep[i] == bytes([i]) * 100 for i in range(50)), gc.mem_free() > 24 * 1024)',
      ].join('\n'),
    });
    assert.equal(r.error, undefined);
    assert.equal(r.output, 'True True\r\n');
  },
);

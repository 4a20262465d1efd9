// The virtual board's interpreter, filesystem and modules, through runBoard (real MicroPython in a worker).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { runBoard, VirtualBoard } from '../src/sim/board';

function fsDir(files: Record<string, string | Buffer> = {}): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sim-board-'));
  for (const [name, body] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), body);
  }
  return dir;
}

test('files written on the board land in the host folder, byte for byte', { timeout: 20_000 }, async () => {
  const dir = fsDir({ 'old.txt': 'old' });
  const r = await runBoard({
    fsDir: dir,
    code: [
      'import os',
      "os.mkdir('lib')",
      "f = open('lib/data.bin', 'wb')",
      'f.write(bytes(range(256)))',
      'f.close()',
      "os.rename('old.txt', 'new.txt')",
      "print(sorted(os.listdir('/')), os.stat('lib/data.bin')[6])",
      "print(open('new.txt').read())",
    ].join('\n'),
  });
  assert.equal(r.error, undefined);
  assert.equal(r.output, "['lib', 'new.txt'] 256\r\nold\r\n");
  assert.deepEqual(fs.readFileSync(path.join(dir, 'lib/data.bin')), Buffer.from([...Array(256).keys()]));
  assert.equal(fs.existsSync(path.join(dir, 'old.txt')), false);
  assert.equal(r.mutations, 3); // mkdir, one write, rename
});

test('boot.py and main.py run at power-on, and an exception in code comes back as a traceback', async () => {
  const dir = fsDir({ 'boot.py': "print('boot')\n", 'main.py': "print('main')\n" });
  const r = await runBoard({ fsDir: dir, code: 'def f():\n    raise ValueError("bad")\nf()\n' });
  assert.equal(r.output, 'boot\r\nmain\r\n');
  assert.equal(
    r.error,
    'Traceback (most recent call last):\r\n  File "<stdin>", line 3, in <module>\r\n  File "<stdin>", line 2, in f\r\nValueError: bad\r\n',
  );
});

test('hashlib.sha1 streams like a board and matches Node', async () => {
  const r = await runBoard({
    fsDir: fsDir(),
    boot: false,
    code: "import hashlib, binascii\nh = hashlib.sha1(b'blob 3\\x00')\nh.update(b'abc')\nprint(binascii.hexlify(h.digest()).decode())",
  });
  const want = createHash('sha1').update('blob 3\0abc').digest('hex');
  assert.equal(r.output, want + '\r\n');
});

test('sha1: false leaves hashlib with sha256 only', async () => {
  const r = await runBoard({
    fsDir: fsDir(),
    sha1: false,
    code: "import hashlib\nprint(hasattr(hashlib, 'sha1'), hasattr(hashlib, 'sha256'))",
  });
  assert.equal(r.output, 'False True\r\n');
});

test('OSError numbers are the Linux ones a board raises, and statvfs reports the flash size', async () => {
  const r = await runBoard({
    fsDir: fsDir({ 'd/x': '1' }),
    flashKb: 256,
    code: [
      'import os, errno',
      'def err(f, *a):',
      '    try:',
      '        f(*a)',
      '    except OSError as e:',
      '        return e.args[0]',
      "print(err(open, 'missing'), err(os.mkdir, 'd'), err(os.rmdir, 'd'), errno.ENOENT)",
      "st = os.statvfs('/')",
      'print(st[0] * st[2])',
    ].join('\n'),
  });
  assert.equal(r.error, undefined);
  assert.equal(r.output, `2 17 39 2\r\n${256 * 1024}\r\n`);
});

test('writing past the flash size raises OSError 28 and the host folder keeps what fitted', async () => {
  const dir = fsDir();
  const r = await runBoard({
    fsDir: dir,
    flashKb: 64,
    code: [
      "f = open('big', 'wb')",
      'n = 0',
      'try:',
      '    while True:',
      '        f.write(bytes(4096))',
      '        n += 4096',
      'except OSError as e:',
      '    print(e.args[0])',
      'f.close()',
      "print(n == __import__('os').stat('big')[6])",
    ].join('\n'),
  });
  assert.equal(r.output, '28\r\nTrue\r\n');
  assert.ok(fs.statSync(path.join(dir, 'big')).size < 64 * 1024);
});

test('a missing filesystem folder is refused with a clear error', () => {
  assert.throws(
    () => VirtualBoard.create({ fsDir: '/nonexistent/board' }, true),
    (e: Error & { code?: string }) => e.code === 'sim_fs_dir',
  );
});

test('a main.py that never ends: start() hands the running board over and Ctrl-C drops to the REPL', async () => {
  const dir = fsDir({ 'main.py': "import time\nprint('app')\nwhile True:\n    time.sleep(1)\n" });
  const board = await VirtualBoard.start({ fsDir: dir });
  let out = '';
  board.on('data', (d: Buffer) => (out += d.toString('latin1')));
  board.write('\x03');
  const deadline = Date.now() + 10_000;
  while (!out.endsWith('>>> ') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.equal(
    out,
    'Traceback (most recent call last):\r\n  File "main.py", line 4, in <module>\r\nKeyboardInterrupt: \r\n' +
      'MicroPython v1.27.0 on 2025-12-09; virtual-board with wasm\r\nType "help()" for more information.\r\n>>> ',
  );
  await board.stop();
});

test('runBoard follows machine.reset(): boot.py and main.py run again and the reset is counted', async () => {
  const dir = fsDir({ 'main.py': "import machine\nprint('main', machine.reset_cause())\n" });
  const r = await runBoard({
    fsDir: dir,
    code: "open('flag', 'w').write('1')\nimport machine\nmachine.reset()",
  });
  assert.equal(r.error, undefined);
  assert.equal(r.resets, 1);
  assert.equal(r.output, 'main 1\r\nmain 5\r\n'); // PWRON_RESET, then SOFT_RESET as ESP32 reports machine.reset()
  assert.equal(fs.readFileSync(path.join(dir, 'flag'), 'utf8'), '1');
});

test('sys.stdin reads the UART, as on a board', async () => {
  const board = await VirtualBoard.start({ fsDir: fsDir() });
  let out = '';
  board.on('data', (d: Buffer) => (out += d.toString('latin1')));
  board.write('\x01');
  board.write('import sys\nprint(repr(sys.stdin.read(5)))\x04');
  // Typed once the program runs (the raw REPL's OK), so it waits in the read.
  const started = Date.now() + 10_000;
  while (!out.includes('OK') && Date.now() < started) await new Promise((r) => setTimeout(r, 10));
  board.write('hel');
  board.write('lo!');
  const deadline = Date.now() + 10_000;
  while (!out.endsWith('\x04>') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.ok(out.endsWith("OK'hello'\r\n\x04\x04>"), JSON.stringify(out));
  await board.stop();
});

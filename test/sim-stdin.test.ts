// The virtual board's binascii (native speed, as ports build it in C) and its UART receive path for running
// programs: sys.stdin.buffer reads, the 260-byte receive ring, Ctrl-C.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { createHash, randomBytes } from 'node:crypto';
import { runBoard, VirtualBoard } from '../src/sim/board';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'sim-stdin-'));

test(
  'binascii answers as the C module does, and is not the pure-Python one',
  { timeout: 20_000 },
  async () => {
    const data = randomBytes(3000);
    const dir = tmp();
    fs.writeFileSync(path.join(dir, 'd.bin'), data);
    const r = await runBoard({
      fsDir: dir,
      boot: false,
      code: [
        'import binascii',
        "d = open('d.bin', 'rb').read()",
        "print(hasattr(binascii, 'table_a2b_base64'), hasattr(binascii, 'a2b_hex'))",
        'print(binascii.b2a_base64(d, newline=False).decode())',
        'print(binascii.a2b_base64(binascii.b2a_base64(d)) == d, binascii.a2b_base64(b"aGk=\\n!!") == b"hi")',
        "print(binascii.hexlify(b'\\x01\\xab\\x10'), binascii.hexlify(b'\\x01\\xab', ':'), binascii.unhexlify('01ab'))",
        'print(binascii.crc32(d), binascii.crc32(d[1000:], binascii.crc32(d[:1000])))',
        'for bad in (b"aGk", b"a"):',
        '    try:',
        '        binascii.a2b_base64(bad)',
        '    except ValueError as e:',
        '        print("ValueError", e)',
      ].join('\n'),
    });
    assert.equal(r.error, undefined);
    const crc = zlib.crc32(data);
    assert.equal(
      r.output,
      [
        'False False',
        data.toString('base64'),
        'True True',
        "b'01ab10' b'01:ab' b'\\x01\\xab'",
        `${crc} ${crc}`,
        'ValueError incorrect padding',
        'ValueError incorrect padding',
        '',
      ].join('\r\n'),
    );
  },
);

/** A board in the raw REPL, and a way to wait for its output. */
async function rawBoard() {
  const board = await VirtualBoard.start({ fsDir: tmp() });
  let out = Buffer.alloc(0);
  board.on('data', (d: Buffer) => (out = Buffer.concat([out, d])));
  const until = async (end: string) => {
    const deadline = Date.now() + 10_000;
    while (!out.toString('latin1').endsWith(end) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 5));
    const text = out.toString('latin1');
    out = Buffer.alloc(0);
    return text;
  };
  board.write('\x01');
  await until('>');
  return { board, until };
}

test(
  'sys.stdin.buffer.readinto takes a 4 KB burst of any bytes (0x03 escaped aside) whole, as a board reading it does',
  { timeout: 20_000 },
  async () => {
    const { board, until } = await rawBoard();
    try {
      // Every byte value but Ctrl-C, which the UART turns into KeyboardInterrupt.
      const data = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i % 256 === 3 ? 4 : i % 256)));
      board.write(
        'import sys,hashlib,binascii\nb=bytearray(4096)\nprint("go")\nn=sys.stdin.buffer.readinto(b)\nprint(n, binascii.hexlify(hashlib.sha256(b).digest()).decode())\x04',
      );
      await until('go\r\n');
      board.write(data);
      const sha = createHash('sha256').update(data).digest('hex');
      assert.equal(await until('\x04>'), `4096 ${sha}\r\n\x04\x04>`);
      assert.equal(board.overrun, 0);
    } finally {
      await board.stop();
    }
  },
);

test(
  'bytes sent while a program is not reading fill a 260-byte ring; the rest is lost and counted',
  { timeout: 20_000 },
  async () => {
    const { board, until } = await rawBoard();
    try {
      board.write(
        'import sys,time\nprint("go")\ntime.sleep_ms(300)\nprint(len(sys.stdin.buffer.read(260)))\x04',
      );
      await until('go\r\n');
      board.write(Buffer.alloc(1000, 0x41));
      assert.equal(await until('\x04>'), '260\r\n\x04\x04>');
      assert.equal(board.overrun, 740);
    } finally {
      await board.stop();
    }
  },
);

test('Ctrl-C ends a read from sys.stdin with KeyboardInterrupt', { timeout: 20_000 }, async () => {
  const { board, until } = await rawBoard();
  try {
    board.write('import sys\nprint("go")\nsys.stdin.buffer.read(100)\x04');
    await until('go\r\n');
    board.write('abc\x03');
    assert.match(await until('\x04>'), /KeyboardInterrupt/);
    board.write('print(1)\x04');
    assert.equal(await until('\x04>'), 'OK1\r\n\x04\x04>');
  } finally {
    await board.stop();
  }
});

test(
  'after micropython.kbd_intr(-1) Ctrl-C is data; the next run interrupts again',
  { timeout: 20_000 },
  async () => {
    const { board, until } = await rawBoard();
    try {
      board.write(
        'import sys,micropython\nmicropython.kbd_intr(-1)\nprint("go")\nprint(sys.stdin.buffer.read(4))\x04',
      );
      await until('go\r\n');
      board.write('a\x03\x03b');
      assert.equal(await until('\x04>'), "b'a\\x03\\x03b'\r\n\x04\x04>");
      board.write('import sys\nprint("go")\nsys.stdin.buffer.read(4)\x04');
      await until('go\r\n');
      board.write('\x03');
      assert.match(await until('\x04>'), /KeyboardInterrupt/);
    } finally {
      await board.stop();
    }
  },
);

// The virtual board's console, byte for byte, over a real pseudo-terminal spoken to with the real
// serialport package, and over the in-process link: every control sequence on both.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SerialPort } from 'serialport';
import { openLink } from '../src/core/serial/link';
import { serialBytePort, type BytePort } from '../src/core/serial/transport';
import { VirtualBoard } from '../src/sim/board';
import { exposeOnPty } from '../src/sim/pty';
import { exposeOnLink, type BoardPort } from '../src/sim/usb';

const BANNER =
  'MicroPython v1.27.0 on 2025-12-09; virtual-board with wasm\r\nType "help()" for more information.\r\n>>> ';

/** A port with a byte buffer and "read until" with a deadline. */
class Port {
  private buf = Buffer.alloc(0);
  private waiter: (() => void) | undefined;
  constructor(readonly port: BytePort) {
    port.onData((d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.waiter?.();
    });
  }
  static async open(p: string): Promise<Port> {
    if (p.startsWith('link:')) return new Port(openLink(p));
    const port = new SerialPort({ path: p, baudRate: 115200, autoOpen: false });
    await new Promise<void>((res, rej) => port.open((e) => (e ? rej(e) : res())));
    return new Port(serialBytePort(port));
  }
  write(s: string | Buffer): void {
    void this.port.write(typeof s === 'string' ? Buffer.from(s, 'latin1') : s);
  }
  /** Everything received up to and including `end`. */
  async until(end: string, ms = 5000): Promise<string> {
    const deadline = Date.now() + ms;
    for (;;) {
      const i = this.buf.indexOf(Buffer.from(end, 'latin1'));
      if (i >= 0) {
        const got = this.buf.subarray(0, i + end.length).toString('latin1');
        this.buf = this.buf.subarray(i + end.length);
        return got;
      }
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(
          `timed out waiting for ${JSON.stringify(end)}; got ${JSON.stringify(this.buf.toString('latin1'))}`,
        );
      await new Promise<void>((res) => {
        const t = setTimeout(res, left);
        this.waiter = () => {
          clearTimeout(t);
          res();
        };
      });
      this.waiter = undefined;
    }
  }
  async readN(n: number, ms = 5000): Promise<Buffer> {
    const deadline = Date.now() + ms;
    while (this.buf.length < n) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${n} bytes`);
      await new Promise((r) => setTimeout(r, 5));
    }
    const got = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return got;
  }
  close(): Promise<void> {
    return this.port.close();
  }
}

let dir: string;
let board: VirtualBoard;
let pty: BoardPort;
let port: Port;

for (const via of ['pty', 'link'] as const) {
  describe(`over the ${via === 'pty' ? 'pseudo-terminal (serialport)' : 'in-process link'}`, () => {
    before(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sim-pty-'));
      fs.writeFileSync(path.join(dir, 'main.py'), "print('main ran')\n");
      board = await VirtualBoard.start({ fsDir: dir });
      pty = await (via === 'pty' ? exposeOnPty(board) : exposeOnLink(board));
      port = await Port.open(pty.path);
    });

    after(async () => {
      await port.close();
      await pty.close();
      await board.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    consoleTests();
  });
}

function consoleTests(): void {
  test('friendly REPL: echo, expression values, compound statements', { timeout: 20_000 }, async () => {
    port.write('\x02');
    assert.equal(await port.until('>>> '), '\r\n' + BANNER);
    port.write('1+1\r');
    assert.equal(await port.until('>>> '), '1+1\r\n2\r\n>>> ');
    port.write('for i in range(2):\r');
    assert.equal(await port.until('...     '), 'for i in range(2):\r\n...     ');
    port.write('print(i)\r\r');
    assert.equal(await port.until('>>> '), 'print(i)\r\n...     \r\n0\r\n1\r\n>>> ');
  });

  test(
    'raw REPL: Ctrl-A, Ctrl-D runs, errors after the first EOT, Ctrl-B leaves',
    { timeout: 20_000 },
    async () => {
      port.write('\x01');
      assert.equal(await port.until('>'), '\r\nraw REPL; CTRL-B to exit\r\n>');
      port.write('print(1+1)\x04');
      assert.equal(await port.until('>'), 'OK2\r\n\x04\x04>');
      port.write('1/0\x04');
      assert.equal(
        await port.until('\x04>'),
        'OK\x04Traceback (most recent call last):\r\n  File "<stdin>", line 1, in <module>\r\nZeroDivisionError: divide by zero\r\n\x04>',
      );
      port.write('\x02');
      assert.equal(await port.until('>>> '), '\r\n' + BANNER);
    },
  );

  test(
    'paste mode, an unsupported raw-paste command, and Ctrl-C clearing a raw line',
    { timeout: 20_000 },
    async () => {
      port.write('\x05');
      assert.equal(await port.until('=== '), '\r\npaste mode; Ctrl-C to cancel, Ctrl-D to finish\r\n=== ');
      port.write('x = 5\rprint(x)\r');
      assert.equal(await port.until('print(x)\r\n=== '), 'x = 5\r\n=== print(x)\r\n=== ');
      port.write('\x04');
      assert.equal(await port.until('>>> '), '\r\n5\r\n>>> ');
      port.write('\x01');
      await port.until('raw REPL; CTRL-B to exit\r\n>');
      port.write('\x05B\x01');
      assert.equal(await port.until('>'), 'R\x00>');
      port.write('garbage\x03print(9)\x04');
      assert.equal(await port.until('\x04>'), 'OK9\r\n\x04\x04>');
      port.write('\x02');
      await port.until('>>> ');
    },
  );

  test(
    'raw REPL Ctrl-D on an empty line soft-reboots: boot.py only, then the raw prompt',
    { timeout: 20_000 },
    async () => {
      port.write('\x01');
      await port.until('raw REPL; CTRL-B to exit\r\n>');
      port.write('\x04');
      assert.equal(await port.until('>'), 'OK\r\nMPY: soft reboot\r\nraw REPL; CTRL-B to exit\r\n>');
      port.write('\x02');
      await port.until('>>> ');
      port.write('\x04');
      assert.equal(await port.until('>>> '), '\r\nMPY: soft reboot\r\nmain ran\r\n' + BANNER);
    },
  );

  /** Sends a script in raw-paste mode honouring the board's flow-control window, as clients must. */
  async function rawPaste(code: Buffer): Promise<{ window: number; out: string }> {
    port.write('\x05A\x01');
    assert.equal((await port.readN(2)).toString('latin1'), 'R\x01');
    const window = (await port.readN(2)).readUInt16LE(0);
    let credit = window;
    for (let i = 0; i < code.length;) {
      while (credit === 0) {
        const b = (await port.readN(1))[0];
        assert.equal(b, 1, 'only window grants arrive while pasting');
        credit += window;
      }
      const n = Math.min(credit, code.length - i);
      port.write(code.subarray(i, i + n));
      i += n;
      credit -= n;
    }
    port.write('\x04');
    // Grants still in flight, then the board's end-of-data EOT.
    let b: number;
    while ((b = (await port.readN(1))[0]) === 1);
    assert.equal(b, 4);
    return { window, out: await port.until('\x04>') };
  }

  test(
    'raw paste of a 64 KB script inside the window, and the window enforced',
    { timeout: 30_000 },
    async () => {
      port.write('\x01');
      await port.until('raw REPL; CTRL-B to exit\r\n>');
      const line = 'n += 1  # ' + 'x'.repeat(53) + '\n';
      const script = Buffer.from('n = 0\n' + line.repeat(1024) + 'print(n)\n');
      assert.ok(script.length > 64 * 1024);
      const { window, out } = await rawPaste(script);
      assert.equal(window, 128);
      assert.equal(out, '1024\r\n\x04\x04>');
      assert.equal(board.overrun, 0);

      // A client that ignores the window loses bytes, as a real UART buffer overflows.
      port.write('\x05A\x01');
      await port.readN(4);
      port.write(script);
      // Time for all 64 KB to reach the board (and overflow it) before the end of the paste, which
      // would be lost in the overflow too; no event says the last byte came.
      await new Promise((r) => setTimeout(r, 500));
      assert.ok(board.overrun > 0);
      port.write('\x04');
      await port.until('\x04>', 5000);
      port.write('\x02');
      await port.until('>>> ');
    },
  );

  test(
    'Ctrl-C raises KeyboardInterrupt in a bare `while True: pass` and in a sleep; the session keeps its variables',
    { timeout: 20_000 },
    async () => {
      port.write('\x01');
      await port.until('raw REPL; CTRL-B to exit\r\n>');
      port.write('kept = 42\x04');
      await port.until('\x04>');
      // Each loop says when it is under way (on the line of the loop body, so the traceback's line
      // stays the loop's); Ctrl-C comes after that.
      const loops = [
        ['n = 0\nwhile True:\n    n += 1; n == 2000 and print("counting")\n', 'line 3', 'counting\r\n'],
        ['import time; print("sleeping")\nwhile True:\n    time.sleep_ms(10)\n', 'line 3', 'sleeping\r\n'],
      ];
      for (const [code, line, running] of loops) {
        port.write(code + '\x04');
        assert.equal(await port.until('OK'), 'OK');
        assert.equal(await port.until(running), running);
        port.write('\x03');
        assert.equal(
          await port.until('\x04>', 2000),
          `\x04Traceback (most recent call last):\r\n  File "<stdin>", ${line}, in <module>\r\nKeyboardInterrupt: \r\n\x04>`,
        );
      }
      port.write('print(kept, n > 1000)\x04');
      assert.equal(await port.until('\x04>'), 'OK42 True\r\n\x04\x04>');
      port.write('\x02');
      await port.until('>>> ');
    },
  );

  test(
    'files survive machine.reset(); closing and reopening the port leaves the board running',
    { timeout: 20_000 },
    async () => {
      port.write("open('kept.txt', 'w').write('kept')\r");
      await port.until('>>> ');
      port.write('import machine; machine.reset()\r');
      assert.match(await port.until('>>> '), /main ran\r\n/);
      await port.close();
      port = await Port.open(pty.path);
      port.write("print(open('kept.txt').read())\r");
      assert.equal(await port.until('>>> '), "print(open('kept.txt').read())\r\nkept\r\n>>> ");
      assert.equal(fs.readFileSync(path.join(dir, 'kept.txt'), 'utf8'), 'kept');
    },
  );
}

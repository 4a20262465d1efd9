// The raw REPL client against the virtual board over its real pseudo-terminal.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openBoard } from '../src/core/serial/board';
import { onBoard } from './support/on-board';
import { BoardException } from '../src/core/serial/raw-repl';
import { OtaError } from '../src/core/errors';
import { openTransport } from '../src/core/serial/transport';
import { startBoard, type TestBoard } from './serial-board';

let vb: TestBoard;

before(async () => {
  vb = await startBoard();
});
after(async () => {
  await vb?.stop();
});

/**
 * Writes bytes to the board as a terminal user would, through a separate open of its port, and
 * leaves once what the board says back (echo, answer) matches `answer`.
 */
async function typeOnConsole(path: string, text: string, answer: RegExp): Promise<string> {
  const port = await openTransport(path);
  let seen = '';
  port.tap = (d) => (seen += d.toString('latin1'));
  port.tapOnly = true;
  await port.write(text);
  const until = Date.now() + 10_000;
  while (!answer.test(seen) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  await port.close();
  return seen;
}

test('exec streams output as it comes and returns all of it', { timeout: 20_000 }, async () => {
  await onBoard(vb.path, async (b) => {
    const chunks: string[] = [];
    const out = await b.exec('import time\nfor i in range(3):\n print("line", i)\n time.sleep_ms(50)', {
      onOutput: (c) => chunks.push(c.toString()),
    });
    assert.equal(out.toString().replace(/\r/g, ''), 'line 0\nline 1\nline 2\n');
    assert.ok(chunks.length >= 2, `output arrived in ${chunks.length} chunk(s)`);
    assert.equal(b.repl.rawPaste, true, 'the virtual board speaks raw paste');
    assert.equal(b.repl.window, 128);
  });
});

test('an exception on the board is a BoardException with its traceback; the board stays usable', async () => {
  await onBoard(vb.path, async (b) => {
    await assert.rejects(b.exec('x = 1\nraise ValueError("nope")'), (err: unknown) => {
      assert.ok(err instanceof BoardException);
      assert.equal(err.code, 'board_exception');
      assert.match(err.traceback, /ValueError: nope/);
      return true;
    });
    await assert.rejects(b.exec('def ('), /SyntaxError/);
    assert.equal((await b.exec('print(x + 1)')).toString().trim(), '2');
  });
});

test('plain raw REPL (a board without raw paste) runs the same commands', async () => {
  await onBoard(vb.path, async (b) => {
    b.repl.rawPaste = false;
    const big = 'y = ' + JSON.stringify('z'.repeat(2000)) + '\nprint(len(y))';
    assert.equal((await b.exec(big)).toString().trim(), '2000');
    await assert.rejects(b.exec('1/0'), /ZeroDivisionError/);
  });
});

test('a board busy in while True is interrupted and answers', { timeout: 20_000 }, async () => {
  // A user program left running from the friendly REPL.
  await typeOnConsole(vb.path, 'while True:\rpass\r\r', /\r\n\.\.\. +\r\n$/);
  await onBoard(vb.path, async (b) => {
    assert.equal((await b.exec('print("back")')).toString().trim(), 'back');
  });
});

test('a half-typed line in the friendly REPL does not leak into the next command', async () => {
  await typeOnConsole(vb.path, 'print("half', /print\("half$/);
  await onBoard(vb.path, async (b) => {
    assert.equal((await b.exec('print(6 * 7)')).toString().trim(), '42');
  });
});

test('close() leaves the friendly REPL, never raw mode', async () => {
  await onBoard(vb.path, async (b) => {
    await b.exec('pass');
  });
  const seen = await typeOnConsole(vb.path, '1+1\r', /2\r\n>>> /);
  assert.match(seen, /2\r\n>>> /);
});

test('idle timeout: a silent command is interrupted with a clear error and the board recovers', async () => {
  await onBoard(vb.path, async (b) => {
    await assert.rejects(
      b.exec('while True:\n pass', { idleTimeoutMs: 800 }),
      (err: unknown) =>
        err instanceof OtaError && err.code === 'timeout' && /within 800 ms/.test(err.message),
    );
    assert.equal((await b.exec('print("ok")')).toString().trim(), 'ok');
  });
});

test('interrupt() stops a running command with KeyboardInterrupt', async () => {
  await onBoard(vb.path, async (b) => {
    let said = '';
    const run = b.exec('import time\nprint("looping")\nwhile True:\n time.sleep_ms(10)', {
      onOutput: (c) => (said += c.toString()),
    });
    // Interrupt once the command runs (earlier, Ctrl-C would land in the code being sent).
    const until = Date.now() + 10_000;
    while (!said.includes('looping') && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    await b.interrupt();
    await assert.rejects(run, /KeyboardInterrupt/);
    assert.equal((await b.exec('print(3)')).toString().trim(), '3');
  });
});

test('soft reset runs boot.py again and clears Python globals', async () => {
  writeFileSync(join(vb.fsDir, 'boot.py'), 'print("booted")\n');
  await onBoard(vb.path, async (b) => {
    await b.exec('keep = 5');
    await b.softReset();
    await assert.rejects(b.exec('print(keep)'), /NameError/);
    // Board helpers are reinstalled after a reset.
    assert.deepEqual(
      await b.ls('/', { hashes: false }).then((l) => l.some((e) => e.path === '/boot.py')),
      true,
    );
  });
});

test('a port that does not exist is a clear error', async () => {
  await assert.rejects(
    openBoard(join(vb.fsDir, 'no-such-tty')),
    (err: unknown) => err instanceof OtaError && err.code === 'port_open_failed',
  );
});

// `ota watch` in another process follows a board on a real pseudo-terminal through a native-USB
// reset: the pty vanishes, comes back under a new path with the same USB serial number.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { startPtyBoard, type TestBoard } from './serial-board';

function watch(port: string, extra: string[] = []) {
  const child = spawn(process.execPath, ['dist/cli.js', 'watch', '--port', port, '--json', ...extra]);
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (d: Buffer) => (out.stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out.stderr += d.toString()));
  const exit = new Promise<number | null>((r) => child.once('exit', r));
  return { child, out, exit };
}

async function until(check: () => boolean, ms: number, what: () => string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Typing at the board waits until the watcher says it listens (it holds the port from then on). */
const listening = (w: ReturnType<typeof watch>) =>
  until(
    () => /^ota: watching .+\n/m.test(w.out.stderr),
    20_000,
    () => `ota watch to listen (${w.out.stderr})`,
  );

test(
  'ota watch waits for a re-enumerated board by USB serial number and carries on',
  { timeout: 60_000 },
  async () => {
    const vb: TestBoard = await startPtyBoard({ usbReset: { downMs: 500, rename: true } });
    const first = vb.path;
    const w = watch(first);
    try {
      await listening(w);
      vb.board.write('import machine; machine.reset()\r');
      await until(
        () => w.out.stderr.includes('board back on'),
        20_000,
        () => `the board back (${w.out.stderr}; ${vb.board.resets} resets)`,
      );
      assert.match(
        w.out.stderr,
        new RegExp(`ota: board left ${first} .*\\n(.*\\n)*ota: board back on ${first}-1\\n`),
      );
      assert.equal(vb.path, `${first}-1`);
      vb.board.write('print("OTA:" + \'{"ev":"confirm","version":"2.0.0"}\')\r');
      await until(
        () => w.out.stdout.includes('confirm'),
        10_000,
        () => `the event after the reset (${w.out.stdout})`,
      );
      assert.deepEqual(JSON.parse(w.out.stdout.trim().split('\n').pop()!), {
        ev: 'confirm',
        version: '2.0.0',
      });
      w.child.kill('SIGINT');
      assert.equal(await w.exit, 0);
    } finally {
      w.child.kill();
      await vb.stop();
    }
  },
);

test(
  'ota watch exits 1 with a clear message when the board does not come back',
  { timeout: 60_000 },
  async () => {
    const vb = await startPtyBoard({ usbReset: { downMs: 60_000 } });
    const w = watch(vb.path, ['--reconnect', '1']);
    try {
      await listening(w);
      vb.board.write('import machine; machine.reset()\r');
      assert.equal(await w.exit, 1);
      assert.match(
        w.out.stderr,
        new RegExp(
          `ota: the board with USB serial number ${vb.board.serialNumber} did not come back within 1 s .*\\[board_gone\\]\\n$`,
        ),
      );
    } finally {
      w.child.kill();
      await vb.stop();
    }
  },
);

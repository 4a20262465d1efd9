// Baud pacing: a virtual board at N baud moves at most N/10 bytes a second each way, on its in-process
// link and on its pseudo-terminal, and the bytes arrive intact. (A lower bound only: a loaded machine
// can be slower, never faster.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openBoard } from '../src/core/serial/board';
import { startBoard } from './serial-board';

const BAUD = 9600;
const BYTES_PER_S = BAUD / 10;

for (const via of ['link', 'pty'] as const) {
  test(
    `at ${BAUD} baud over the ${via}, both directions are paced and intact`,
    { timeout: 60_000 },
    async () => {
      const vb = await startBoard({ via, baud: BAUD });
      const b = await openBoard(vb.path);
      try {
        await b.exec('pass');
        const t = b.transport;

        // Host to board: a 1 KB command (a long comment), a short answer.
        const script = `n = 7  # ${'x'.repeat(1000)}\nprint(n * 6)`;
        let sent = t.bytesSent;
        let t0 = performance.now();
        assert.equal((await b.exec(script)).toString(), '42\r\n');
        let ms = performance.now() - t0;
        sent = t.bytesSent - sent;
        assert.ok(sent > 1000);
        assert.ok(ms >= (sent / BYTES_PER_S) * 1000 * 0.95, `${sent} bytes in ${ms.toFixed(0)} ms`);

        // Board to host: a short command, a 1 KB answer.
        let got = t.bytesReceived;
        t0 = performance.now();
        const out = await b.exec("print('%04d' % 1 + 'y' * 1000)");
        ms = performance.now() - t0;
        got = t.bytesReceived - got;
        assert.equal(out.toString(), `0001${'y'.repeat(1000)}\r\n`);
        assert.ok(ms >= (got / BYTES_PER_S) * 1000 * 0.95, `${got} bytes in ${ms.toFixed(0)} ms`);
        assert.equal(vb.board.overrun, 0, 'raw paste kept to the window at the slower pace');
      } finally {
        await b.close();
        await vb.stop();
      }
    },
  );
}

test('a baud rate below 300 is refused', async () => {
  await assert.rejects(
    startBoard({ baud: 100 }),
    /baud must be an integer >= 300 \(sim-baud\)|baud must be an integer >= 300/,
  );
});

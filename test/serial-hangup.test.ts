// A serial port whose other side goes away (a USB board pulled, a virtual board's pseudo-terminal
// gone in a native-USB reset) while the host process is busy: the transport reports it closed.
// serialport alone read the hung-up port's end-of-file again and again (a core busy, the port never
// reported closed), so `ota watch` never said the board had left; src/core/serial/transport.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openTransport } from '../src/core/serial/transport';
import { startPtyBoard } from './serial-board';

test(
  'a pseudo-terminal that hangs up while the host is busy closes the transport, idle or mid-output',
  { timeout: 120_000 },
  async () => {
    const stuck: string[] = [];
    for (let i = 0; i < 6; i++) {
      const how = i % 2 ? 'while the board prints' : 'while the line is idle';
      const vb = await startPtyBoard();
      const t = await openTransport(vb.path);
      try {
        t.tapOnly = true;
        let got = 0;
        t.tap = (d) => (got += d.length);
        if (i % 2) {
          vb.board.write('while True:\r    print("x" * 60)\r\r');
          const until = Date.now() + 10_000;
          while (got < 5000 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
        }
        const closed = new Promise<boolean>((resolve) => {
          t.onClose(() => resolve(true));
          setTimeout(() => resolve(false), 10_000);
        });
        const gone = vb.unplug();
        // Busy, as a loaded host: the hang-up lands while serialport is not waiting in poll.
        const end = Date.now() + 500;
        while (Date.now() < end);
        await gone;
        if (!(await closed)) stuck.push(`run ${i + 1} (${how})`);
      } finally {
        await t.close().catch(() => undefined);
        await vb.stop();
      }
    }
    assert.deepEqual(stuck, [], 'the transport saw the port close');
  },
);

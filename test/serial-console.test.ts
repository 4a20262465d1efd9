// Console streaming and "run the updater now" against the virtual board over its in-process link,
// including a board that leaves the bus when it resets (native USB) and comes back under a new name.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { openBoard } from '../src/core/serial/board';
import { onBoard } from './support/on-board';
import { runUpdate, watchConsole } from '../src/core/serial/console';
import type { OtaEvent } from '../src/core/events';
import { startBoard, type TestBoard } from './serial-board';

let vb: TestBoard;

before(async () => {
  vb = await startBoard();
});
after(async () => {
  await vb?.stop();
});

test('runUpdate streams events and follows the board through a reset', { timeout: 30_000 }, async () => {
  await onBoard(vb.path, async (b) => {
    await b.write('/boot.py', Buffer.from('print(\'OTA:{"ev":"state","state":"idle"}\')\n'));
    const seen: OtaEvent[] = [];
    const text: string[] = [];
    const run = await runUpdate(b, {
      event: (e) => seen.push(e),
      text: (l) => text.push(l),
      // Stands in for ota.update(): events, then the reset that applies a release.
      code: [
        'import machine, time',
        'print(\'OTA:{"ev":"start","version":"1.1.0"}\')',
        'print("downloading")',
        'print(\'OTA:{"ev":"done","version":"1.1.0"}\')',
        'time.sleep_ms(20)',
        'machine.reset()',
      ].join('\n'),
    });
    assert.equal(run.reset, true);
    assert.deepEqual(
      run.events.map((e) => e.ev),
      ['start', 'done', 'state'],
      'events before the reset and those ota.boot() prints while booting',
    );
    assert.deepEqual(seen, run.events);
    assert.ok(text.includes('downloading'));
    // The connection is usable again after the reset.
    assert.equal((await b.exec('print(1)')).toString().trim(), '1');
  });
});

test(
  'a port that closes after the update is done counts as the reset; the board is found again under its new name',
  { timeout: 30_000 },
  async () => {
    const b = await openBoard(vb.path);
    const before = vb.path;
    const status: string[] = [];
    try {
      const run = await runUpdate(b, {
        // The port vanishes right after the swap is reported and comes back as a new port, as a
        // native-USB board re-enumerates (same USB serial number).
        event: (e) =>
          void (
            e.ev === 'done' &&
            setTimeout(() => void vb.unplug().then(() => setTimeout(() => void vb.replug(), 300)), 100)
          ),
        status: (m) => status.push(m),
        code: 'import time\nprint(\'OTA:{"ev":"done","version":"3.0.0"}\')\ntime.sleep_ms(3000)',
      });
      assert.deepEqual(run, { events: [{ ev: 'done', version: '3.0.0' }], reset: true });
      assert.notEqual(vb.path, before);
      assert.equal(b.path, vb.path, 'the connection moved to the new port');
      assert.match(status.join('\n'), new RegExp(`board back on ${vb.path}`));
      assert.equal((await b.exec('print(1)')).toString().trim(), '1');
    } finally {
      await b.close().catch(() => undefined);
    }
    await onBoard(vb.path, async (again) => {
      await assert.rejects(
        runUpdate(again, { code: 'import time\ntime.sleep_ms(3000)', idleTimeoutMs: 300 }),
        /within 300 ms/,
      );
    });
  },
);

test(
  'a native-USB reset: machine.reset() takes the port away, runUpdate and watchConsole wait for the board by USB serial number',
  { timeout: 40_000 },
  async () => {
    const usb = await startBoard({ usbReset: { downMs: 400, rename: true } });
    try {
      const first = usb.path;
      const b = await openBoard(first);
      try {
        assert.equal(await b.serialNumber(), usb.board.serialNumber);
        const run = await runUpdate(b, {
          code: 'import machine\nprint(\'OTA:{"ev":"done","version":"4.0.0"}\')\nmachine.reset()',
        });
        assert.equal(run.reset, true);
        assert.equal(usb.board.resets, 1);
        assert.equal(b.path, `${first}-1`, 'back under a new name');
        assert.equal((await b.exec('print(2+2)')).toString().trim(), '4');

        // The console follows the board through the next reset too.
        const events: OtaEvent[] = [];
        const status: string[] = [];
        const stop = watchConsole(b, { event: (e) => events.push(e), status: (m) => status.push(m) });
        try {
          await b.transport.write('\x02import machine; machine.reset()\r'); // friendly REPL, then reset
          const until = Date.now() + 10_000;
          while (!status.some((m) => m.startsWith('board back')) && Date.now() < until)
            await new Promise((r) => setTimeout(r, 50));
          assert.deepEqual(status, [
            `board left ${first}-1 (reset or unplugged); waiting up to 10 s for it`,
            `board back on ${first}-2`,
          ]);
          await b.transport.write('print("OTA:" + \'{"ev":"confirm","version":"4.0.0"}\')\r');
          while (events.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
          assert.deepEqual(events, [{ ev: 'confirm', version: '4.0.0' }]);
        } finally {
          stop();
        }
      } finally {
        await b.close().catch(() => undefined);
      }
    } finally {
      await usb.stop();
    }
  },
);

test(
  'a board that does not come back in time: board-gone, naming its USB serial number',
  { timeout: 30_000 },
  async () => {
    const usb = await startBoard({ usbReset: { downMs: 20_000 } });
    try {
      const b = await openBoard(usb.path);
      try {
        await assert.rejects(
          runUpdate(b, {
            reconnectMs: 1000,
            code: 'import machine\nprint(\'OTA:{"ev":"done","version":"5.0.0"}\')\nmachine.reset()',
          }),
          new RegExp(
            `the board with USB serial number ${usb.board.serialNumber} did not come back within 1 s`,
          ),
        );
      } finally {
        await b.close().catch(() => undefined);
      }
    } finally {
      await usb.stop();
    }
  },
);

test('runUpdate without a reset returns when the command ends; errors surface', async () => {
  await onBoard(vb.path, async (b) => {
    const run = await runUpdate(b, { code: 'print(\'OTA:{"ev":"check","found":false}\')' });
    assert.deepEqual(run, { events: [{ ev: 'check', found: false }], reset: false });
    await assert.rejects(runUpdate(b, { code: 'import no_such_module' }), /ImportError/);
  });
});

test('watchConsole reports what the board prints, events apart from text', { timeout: 20_000 }, async () => {
  const b = await openBoard(vb.path);
  const events: OtaEvent[] = [];
  const lines: string[] = [];
  const stop = watchConsole(b, { event: (e) => events.push(e), text: (l) => lines.push(l) });
  try {
    // Typed at the friendly REPL, as a user would (straight into the board's UART).
    vb.board.write('print("OTA:" + \'{"ev":"confirm","version":"2.0.0"}\')\r');
    const until = Date.now() + 5000;
    while (events.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(events, [{ ev: 'confirm', version: '2.0.0' }]);
    assert.ok(
      lines.some((l) => l.includes('print("OTA:"')),
      'the echo of the typed line is text, not an event',
    );
  } finally {
    stop();
    await b.close();
  }
});

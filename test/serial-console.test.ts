// Console streaming and "run the updater now" against the virtual board over its real pseudo-terminal.
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
  'a port that closes after the update is done counts as the reset (native USB)',
  { timeout: 30_000 },
  async () => {
    const b = await openBoard(vb.path);
    try {
      const run = await runUpdate(b, {
        // The board vanishes from the bus right after reporting the swap, as a native-USB board resets.
        event: (e) => void (e.ev === 'done' && setTimeout(() => void vb.unplug(), 100)),
        code: 'import time\nprint(\'OTA:{"ev":"done","version":"3.0.0"}\')\ntime.sleep_ms(3000)',
      });
      assert.deepEqual(run, { events: [{ ev: 'done', version: '3.0.0' }], reset: true });
    } finally {
      await b.close().catch(() => undefined);
      await vb.replug();
    }
    await onBoard(vb.path, async (again) => {
      await assert.rejects(
        runUpdate(again, { code: 'import time\ntime.sleep_ms(3000)', idleTimeoutMs: 300 }),
        /within 300 ms/,
      );
    });
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

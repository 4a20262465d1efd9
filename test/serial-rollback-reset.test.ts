// A requested rollback to the older firmware image restarts the board (device/ota/journal.py
// rollback(): its `rollback` event, then machine.reset()); on native USB the port goes away then.
// The runner `ota rollback` uses follows the board back, as after an update's `done`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openBoard } from '../src/core/serial/board';
import { runUpdate } from '../src/core/serial/console';
import { startBoard } from './serial-board';

const RESET = 'import machine\nprint(\'OTA:{"ev":"%s","version":"2.0.0"}\')\nmachine.reset()';

test(
  'after a rollback event, a native-USB reset is followed; after any other event it is the port closing',
  {
    timeout: 40_000,
  },
  async () => {
    const usb = await startBoard({ usbReset: { downMs: 400, rename: true } });
    try {
      const first = usb.path;
      const b = await openBoard(first);
      try {
        const run = await runUpdate(b, { code: RESET.replace('%s', 'rollback') });
        assert.equal(run.reset, true);
        assert.deepEqual(
          run.events.map((e) => e.ev),
          ['rollback'],
        );
        assert.equal(b.path, `${first}-1`, 'back under a new name');
        assert.equal((await b.exec('print(2+2)')).toString().trim(), '4');
        // A reset after a mere confirm is no step the runner expects: the port closing is an error.
        await assert.rejects(runUpdate(b, { code: RESET.replace('%s', 'confirm'), reconnectMs: 2000 }), {
          code: 'port_closed',
        });
      } finally {
        await b.close().catch(() => undefined);
      }
    } finally {
      await usb.stop();
    }
  },
);

// The board's events read as sentences, one line per finished file and per update.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { eventRenderer, formatBytes, shortPortName } from '../src/core/event-text';

describe('eventRenderer', () => {
  it('renders an update for people, progress detail at debug level', () => {
    let t = 1000;
    const render = eventRenderer(() => t);
    const lines = [
      render({ ev: 'check', source: 'static', channel: 'stable', current: '1.0.0' }),
      render({ ev: 'available', version: '1.1.0', current: '1.0.0' }),
      render({ ev: 'verified', version: '1.1.0', manifest: true, key: 'k1' }),
      render({ ev: 'start', version: '1.1.0', files: 2, bytes: 2346, deleted: 1 }),
      render({ ev: 'progress', file: 'lib/display.py', done: 100, total: 298 }),
      render({ ev: 'progress', file: 'lib/display.py', done: 298, total: 298 }),
      render({ ev: 'progress', file: 'main.py', done: 2048, total: 2048 }),
      render({ ev: 'swap', version: '1.1.0' }), // as device/ota/journal.py sends it
    ];
    t = 3300;
    lines.push(render({ ev: 'done', version: '1.1.0' }));
    assert.deepEqual(
      lines.map((l) => `${l.level} ${l.text}`),
      [
        'info checking static (stable), board runs 1.0.0',
        'info release 1.1.0 available (board runs 1.0.0)',
        'info manifest 1.1.0 verified (key k1)',
        'info downloading 1.1.0: 2 files, 2.3 KB, 1 to delete',
        'debug lib/display.py 100 B of 298 B',
        'info lib/display.py 298 B ✓ (1/2)',
        'info main.py 2.0 KB ✓ (2/2)',
        'info swapping in 1.1.0: 2 files',
        'info update 1.0.0 → 1.1.0 done in 2.3 s',
      ],
    );
  });

  it('calls the first release on a board an install', () => {
    const render = eventRenderer(() => 0);
    render({ ev: 'check', source: 'static', current: null });
    assert.equal(render({ ev: 'done', version: '1.0.0' }).text, 'install 1.0.0 done in 0.0 s');
  });

  it('shows errors and rollbacks at their level', () => {
    const render = eventRenderer();
    assert.deepEqual(render({ ev: 'error', code: 'http_404', msg: 'not found: x' }), {
      level: 'error',
      text: 'not found: x [http_404]',
    });
    assert.equal(
      render({ ev: 'rollback', version: '1.2.0', reason: 'boots', current: '1.1.0' }).level,
      'warn',
    );
  });

  it('formats sizes and port names briefly', () => {
    assert.equal(formatBytes(298), '298 B');
    assert.equal(formatBytes(1536), '1.5 KB');
    assert.equal(shortPortName('/dev/ttyACM0'), 'ttyACM0');
    assert.equal(shortPortName('/tmp/ota-virtual-board-12-34'), 'virtual');
    assert.equal(shortPortName('link:ota-virtual-board-1795966783825'), 'virtual');
    assert.equal(shortPortName('COM3'), 'COM3');
  });
});

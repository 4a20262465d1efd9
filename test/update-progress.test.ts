// The progress bar of an update: one percentage over all the files' bytes, fed by the events of
// the real updater updating a virtual board from a real static host.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { OtaEvent } from '../src/core/events';
import { updateProgress } from '../src/core/update-progress';
import * as fx from './support/release-fixture';

const cleanups: string[] = [];
after(() => fx.cleanup(...cleanups));

/** Describes each event in turn, as the notification does. */
function describeAll(events: OtaEvent[]) {
  const describe = updateProgress();
  return events.map((e) => ({ e, ...describe(e) }));
}

test(
  'the bar climbs once across every file of a real update, ending at 100 on done',
  { timeout: 60_000 },
  async () => {
    // Two big files (several progress events each) and a small one.
    const app = {
      ...fx.APP_1_1_0,
      'data/a.bin': randomBytes(90_000),
      'data/b.bin': randomBytes(60_000),
    };
    const rel = await fx.makeRelease('1.1.0', app);
    const host = fx.tempDir('host');
    cleanups.push(rel.dir, host);
    fx.publishStatic(host, rel);
    const srv = await fx.serveFolder(host);
    const fsDir = fx.makeBoard({ source: 'static', url: srv.url }, fx.APP_1_0_0, '1.0.0');
    cleanups.push(fsDir);
    try {
      const r = await fx.runBoard({ fsDir, code: 'import ota\nota.update()\n' });
      assert.equal(r.error, undefined, r.output);
      const steps = describeAll(fx.eventsOf(r.output));
      const start = steps.find((s) => s.e.ev === 'start')!;
      assert.equal(start.percent, 0);
      const progress = steps.filter((s) => s.e.ev === 'progress');
      const files = new Set(progress.map((s) => s.e.file));
      assert.ok(files.has('data/a.bin') && files.has('data/b.bin'), [...files].join(' '));
      const percents = progress.map((s) => s.percent!);
      // Never back to a low number when the next file starts, as a per-file bar would.
      assert.deepEqual(
        percents,
        [...percents].sort((a, b) => a - b),
      );
      const firstEnd = progress.findIndex((s) => s.e.done === s.e.total);
      assert.ok(
        percents[firstEnd] < 99,
        `the first finished file is not the whole update: ${percents.join(',')}`,
      );
      assert.equal(percents.at(-1), 99, 'every byte fetched: 99 until the swap is done');
      assert.match(progress.at(-1)!.message!, /^99% · /);
      assert.equal(steps.find((s) => s.e.ev === 'done')!.percent, 100);
    } finally {
      await srv.close();
    }
  },
);

test('bytes beyond the start event (a resumed file, a firmware image) never pass 99', () => {
  const steps = describeAll([
    { ev: 'start', version: '2.0.0', files: 1, bytes: 1000 },
    { ev: 'progress', file: 'main.py', done: 900, total: 1500 },
    { ev: 'progress', file: 'main.py', done: 1500, total: 1500 },
    { ev: 'progress', file: 'app.bin', done: 4096, total: 8192 },
  ]);
  assert.deepEqual(
    steps.map((s) => s.percent),
    [0, 90, 99, 99],
  );
});

test('an updater that reports no byte count gets messages without a percentage', () => {
  const steps = describeAll([
    { ev: 'start', version: '2.0.0' },
    { ev: 'progress', file: 'main.py', done: 10, total: 20 },
  ]);
  assert.deepEqual(
    steps.map((s) => [s.message, s.percent]),
    [
      ['Downloading 2.0.0…', 0],
      ['main.py', undefined],
    ],
  );
});

// A power cut at every mutation of a rollback the app asks for on its new firmware image (ota.rollback()
// from 1.1.0's main.py on the first boot): the next boot runs the old image with the old files, and
// the old image is not left "pending verify", which would hand the board back to the new image at a
// later reset.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readOtaData } from '../src/sim/partitions';
import {
  PART_KB,
  UPDATE,
  events,
  firmwareFixture,
  run,
  which,
  type FirmwareFixture,
} from './support/firmware-fixture';

let fix: FirmwareFixture;
before(async () => {
  fix = await firmwareFixture();
});
after(() => fix.close());

function sickBoard(): string {
  const d = fix.board();
  writeFileSync(join(d, 'sick'), '');
  return d;
}

test(
  'power cut at each mutation of a requested firmware rollback: old image, old files, kept',
  { timeout: 300_000 },
  async (t) => {
    // Up to the new image's first boot, the run is the update's; the rollback's mutations come after.
    const updated = await run(fix.board(), UPDATE);
    assert.equal(updated.running, 'ota_1', updated.output);
    const full = await run(sickBoard(), UPDATE);
    assert.equal(events(full, 'rollback').length, 1, full.output);
    const from = updated.mutations + 1;
    const total = full.mutations;
    assert.ok(total - from >= 5, `the rollback makes mutations ${from}..${total}`);
    for (let k = from; k < total; k++) {
      const fsDir = sickBoard();
      const cut = await run(fsDir, UPDATE, k);
      assert.ok(cut.powerCut, `cut after mutation ${k} of ${total}`);
      const b = await run(fsDir);
      assert.equal(b.error, undefined, b.output);
      assert.equal(which(fsDir, b), 'old', `k=${k}: ${b.output}`);
      assert.equal(events(b, 'state').at(-1)?.state, 'idle', `k=${k}`);
      // Marked valid: every later reset keeps the old image (pending verify would go back to the new one).
      assert.deepEqual(
        readOtaData({ dir: `${fsDir}.partitions`, sizeKb: PART_KB }),
        { boot: 'ota_0', state: 'valid' },
        `k=${k}`,
      );
    }
    t.diagnostic(
      `rollback mutations ${from}..${total - 1} each cut; the board ran the old image after every one`,
    );
  },
);

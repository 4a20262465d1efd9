// Firmware image OTA on the virtual board's esp32.Partition: the image streams into the next OTA
// partition, is verified, boots "pending verify", and stays only when the app confirms; otherwise the
// (simulated) ESP-IDF bootloader rolls it back and the updater puts the old files back too. A bad or
// oversized image is refused before anything boots, and a power cut at any mutation of the update leaves
// a board that runs the old image with the old files or the new image with the new files.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readOtaData } from '../src/sim/partitions';
import * as fx from './support/release-fixture';
import {
  NEW_FW,
  OLD_FW,
  PART_KB,
  UPDATE,
  events,
  firmwareFixture,
  holds,
  image,
  run,
  slot,
  which,
  type FirmwareFixture,
} from './support/firmware-fixture';

let fix: FirmwareFixture;
before(async () => {
  fix = await firmwareFixture();
});
after(() => fix.close());

const board = (url?: string): string => fix.board(url);

test('an update writes the image to ota_1, boots it pending verify; confirmed by the app, it stays', async () => {
  const fsDir = board();
  writeFileSync(join(fsDir, 'healthy'), '');
  const r = await run(fsDir, UPDATE);
  assert.deepEqual(fx.errorCodes(r.output), [], r.output);
  assert.equal(r.resets, 1, 'update() resets the board into the new image');
  assert.equal(r.running, 'ota_1');
  assert.ok(holds(fsDir, 'ota_1', NEW_FW), 'ota_1 holds the new image');
  assert.ok(holds(fsDir, 'ota_0', OLD_FW), 'ota_0 still holds the old image');
  // The start event's bytes (the host's one percentage) count the image as well as the changed files.
  const fileBytes = Number(events(r, 'start')[0]?.bytes) - NEW_FW.length;
  assert.ok(fileBytes > 0 && fileBytes < 8192, `start.bytes: ${NEW_FW.length} + ${fileBytes}`);
  const progress = events(r, 'progress').filter((e) => e.file === 'app-1.1.0.bin');
  assert.equal(progress.at(-1)?.done, NEW_FW.length, 'progress reaches the image size');
  assert.ok(
    events(r, 'verified').some((e) => e.firmware === 'app-1.1.0.bin'),
    r.output,
  );
  // The new image booted pending verify, and the app's ota.confirm() on that boot kept it.
  assert.equal(events(r, 'state').at(-1)?.state, 'confirm_pending');
  assert.equal(events(r, 'confirm').length, 1, r.output);
  assert.deepEqual(readOtaData({ dir: `${fsDir}.partitions`, sizeKb: PART_KB }), {
    boot: 'ota_1',
    state: 'valid',
  });
  assert.equal(which(fsDir, r), 'new');
  // Power cycles later the confirmed image still boots, with its files.
  for (let i = 0; i < 2; i++) {
    const b = await run(fsDir);
    assert.equal(b.running, 'ota_1');
    assert.equal(events(b, 'rollback').length, 0, b.output);
    assert.equal(which(fsDir, b), 'new');
  }
});

test('before the app confirms, the new image runs pending verify', async () => {
  const fsDir = board();
  const r = await run(fsDir, UPDATE);
  assert.equal(r.running, 'ota_1', r.output);
  assert.deepEqual(readOtaData({ dir: `${fsDir}.partitions`, sizeKb: PART_KB }), {
    boot: 'ota_1',
    state: 'pending_verify',
  });
  assert.equal(events(r, 'confirm').length, 0, r.output);
  assert.equal(which(fsDir, r), 'new');
});

test('an image not confirmed on its first boot is rolled back by the bootloader, files too', async () => {
  const fsDir = board();
  const u = await run(fsDir, UPDATE);
  assert.equal(u.running, 'ota_1', u.output);
  const b = await run(fsDir);
  assert.equal(b.running, 'ota_0', 'the bootloader went back to the old image');
  const rb = events(b, 'rollback');
  assert.equal(rb.length, 1, b.output);
  assert.equal(rb[0].version, '1.1.0');
  assert.match(String(rb[0].reason), /bootloader/);
  assert.equal(which(fsDir, b), 'old');
  const again = await run(fsDir);
  assert.equal(again.running, 'ota_0');
  assert.equal(events(again, 'state').at(-1)?.state, 'idle');
  assert.equal(which(fsDir, again), 'old');
});

test('a rollback the app asks for on the new image restarts into the old one and keeps it', async () => {
  const fsDir = board();
  writeFileSync(join(fsDir, 'sick'), '');
  const r = await run(fsDir, UPDATE);
  const rb = events(r, 'rollback');
  assert.equal(rb.length, 1, r.output);
  assert.equal(rb[0].reason, 'requested');
  assert.equal(r.resets, 2, 'into the new image, then back into the old one');
  assert.equal(r.running, 'ota_0');
  assert.equal(which(fsDir, r), 'old');
  assert.deepEqual(readOtaData({ dir: `${fsDir}.partitions`, sizeKb: PART_KB }), {
    boot: 'ota_0',
    state: 'valid',
  });
  const b = await run(fsDir);
  assert.equal(b.running, 'ota_0', 'the old image stays after the next reset');
  assert.equal(events(b, 'rollback').length, 0, b.output);
  assert.equal(which(fsDir, b), 'old');
});

test('a corrupted image (one flipped byte) is refused with hash_mismatch; the boot partition is unchanged', async () => {
  const bad = Buffer.from(NEW_FW);
  bad[150_000] ^= 0x01;
  const srv = await fix.host(NEW_FW, bad);
  try {
    const fsDir = board(srv.url);
    const r = await run(fsDir, UPDATE);
    assert.deepEqual(fx.errorCodes(r.output), ['hash_mismatch'], r.output);
    assert.equal(r.resets, 0);
    assert.equal(r.running, 'ota_0');
    assert.deepEqual(readOtaData({ dir: `${fsDir}.partitions`, sizeKb: PART_KB }), {
      boot: 'ota_0',
      state: 'valid',
    });
    assert.equal(which(fsDir, r), 'old');
    const b = await run(fsDir);
    assert.equal(b.running, 'ota_0');
    assert.equal(which(fsDir, b), 'old');
  } finally {
    await srv.close();
  }
});

test('an image larger than the OTA partition is refused before anything is downloaded', async () => {
  const srv = await fix.host(image(PART_KB * 1024 + 1));
  try {
    const fsDir = board(srv.url);
    const before = slot(fsDir, 'ota_1');
    const r = await run(fsDir, UPDATE);
    assert.deepEqual(fx.errorCodes(r.output), ['no_space'], r.output);
    assert.ok(
      srv.requests.every((q) => q.url.endsWith('.json') || q.url.endsWith('.sig')),
      `only the manifest was fetched: ${srv.requests.map((q) => q.url).join(' ')}`,
    );
    assert.ok(slot(fsDir, 'ota_1').equals(before), 'ota_1 untouched');
    assert.equal(r.running, 'ota_0');
    assert.equal(which(fsDir, r), 'old');
  } finally {
    await srv.close();
  }
});

test('update(reset=False): confirm() before the new image has started keeps nothing; the next reset starts it', async () => {
  const fsDir = board();
  const r = await run(fsDir, 'import ota\nota.update(False)\nprint("confirmed", ota.confirm())\n');
  assert.deepEqual(fx.errorCodes(r.output), [], r.output);
  assert.match(r.output, /confirmed False/);
  assert.equal(r.running, 'ota_0');
  assert.deepEqual(readOtaData({ dir: `${fsDir}.partitions`, sizeKb: PART_KB }), {
    boot: 'ota_1',
    state: 'new',
  });
  writeFileSync(join(fsDir, 'healthy'), '');
  const b = await run(fsDir);
  assert.equal(b.running, 'ota_1');
  assert.equal(events(b, 'confirm').length, 1, b.output);
  assert.equal(which(fsDir, b), 'new');
});

/** Image blocks written to ota_1 so far (not erased). */
function written(fsDir: string): number {
  const p = slot(fsDir, 'ota_1');
  let n = 0;
  for (let off = 0; off < p.length; off += 4096) if (p.subarray(off, off + 4096).some((x) => x !== 0xff)) n++;
  return n;
}

test(
  'power cut at mutations of a firmware update: the board runs the old or the new image with its files',
  { timeout: 300_000 },
  async (t) => {
    const full = await run(board(), UPDATE);
    assert.deepEqual(fx.errorCodes(full.output), [], full.output);
    const total = full.mutations;
    const blocks = Math.ceil(NEW_FW.length / 4096);
    // The first image block write: the smallest cut point after which ota_1 is no longer erased.
    let lo = 1;
    let hi = total;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const fsDir = board();
      await run(fsDir, UPDATE, mid);
      if (written(fsDir) > 0) hi = mid;
      else lo = mid + 1;
    }
    const first = lo;
    assert.ok(
      first > 1 && first + blocks < total,
      `image writes ${first}..${first + blocks - 1} of ${total}`,
    );
    // Every mutation from the image on, but of the image's block writes (alike) every 32nd and the last;
    // before the image, the app files' staging (cut at every mutation in device-powercut) every 3rd.
    const cuts: number[] = [];
    for (let k = 1; k < total; k++) {
      const i = k - first;
      if (i < 0 ? k % 3 === 0 || i === -1 : i >= blocks || i % 32 === 0 || i === blocks - 1) cuts.push(k);
    }
    const seen = { old: 0, new: 0 };
    for (const k of cuts) {
      const fsDir = board();
      const cut = await run(fsDir, UPDATE, k);
      assert.ok(cut.powerCut, `cut after mutation ${k} of ${total}`);
      if (k >= first && k < first + blocks) assert.equal(written(fsDir), k - first + 1, `k=${k}`);
      const b = await run(fsDir);
      assert.equal(b.error, undefined, b.output);
      const state = events(b, 'state').at(-1);
      assert.ok(state && state.state !== 'swapping' && state.state !== 'rolling_back', `k=${k}: ${b.output}`);
      seen[which(fsDir, b)]++;
      // Cut in the middle of the image: the next update writes it again and completes.
      if (k === first + 32) {
        const again = await run(fsDir, UPDATE);
        assert.deepEqual(fx.errorCodes(again.output), [], again.output);
        assert.equal(which(fsDir, again), 'new');
      }
    }
    assert.ok(seen.old > 0 && seen.new > 0, JSON.stringify(seen));
    t.diagnostic(
      `${total} mutations (image blocks ${first}..${first + blocks - 1}), ${cuts.length} cut points; ` +
        `the board then ran old ${seen.old}x, new ${seen.new}x`,
    );
  },
);

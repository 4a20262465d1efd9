// Firmware image OTA on the virtual board's esp32.Partition: the image streams into the next OTA
// partition, is verified, boots "pending verify", and stays only when the app confirms; otherwise the
// (simulated) ESP-IDF bootloader rolls it back and the updater puts the old files back too. A bad or
// oversized image is refused before anything boots, and a power cut at any mutation of the update leaves
// a board that runs the old image with the old files or the new image with the new files.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runBoard, type RunResult } from '../src/sim/board';
import { describeFirmware, serializeManifest } from '../src/core/manifest';
import { readOtaData } from '../src/sim/partitions';
import * as fx from './support/release-fixture';

const PART_KB = 512;
const keys = fx.makeKeys();
const cleanups: string[] = [];
const UPDATE = 'import ota\nota.update()\n';

/** A random "app image" with the ESP32 image magic byte in front. */
function image(size: number): Buffer {
  const b = randomBytes(size);
  b[0] = 0xe9;
  return b;
}

const OLD_FW = image(200 * 1024);
const NEW_FW = image(300 * 1024 + 123);
/** 1.1.0's main.py confirms the update on its first boot when the board is "healthy" (a marker file). */
const APP_FW: fx.AppFiles = {
  ...fx.APP_1_1_0,
  'main.py':
    'import os\ntry:\n    os.stat("healthy")\n    import ota\n    ota.confirm()\nexcept OSError:\n    pass\nprint("app 1.1.0")\n',
};
const NOT_APP = [...fx.NOT_APP, 'healthy'];
const OLD = fx.hashFiles(fx.APP_1_0_0);
const NEW = fx.hashFiles({ ...APP_FW, 'settings.json': fx.APP_1_0_0['settings.json'] });

/** Publishes 1.1.0 with `fw` as its firmware; `served` replaces the image bytes on the host. */
async function host(fw: Buffer, served?: Buffer): Promise<fx.StaticServer> {
  const rel = await fx.makeRelease('1.1.0', APP_FW, { keep: ['settings.json'], delete: ['old.py'] });
  const imgDir = fx.tempDir('fw');
  const img = join(imgDir, 'app-1.1.0.bin');
  writeFileSync(img, fw);
  const manifest = { ...rel.manifest, firmware: await describeFirmware(img) };
  const release = { ...rel, manifest, bytes: serializeManifest(manifest) };
  const root = fx.tempDir('host');
  cleanups.push(rel.dir, imgDir, root);
  fx.publishStatic(root, release, { sign: { keys, alg: 'hmac-sha256' } });
  writeFileSync(join(root, '1.1.0', manifest.firmware.name), served ?? fw);
  return fx.serveFolder(root);
}

let good: fx.StaticServer;
let template: string;

before(async () => {
  good = await host(NEW_FW);
  template = fx.makeBoard(
    { source: 'static', url: good.url, keys: [fx.boardKey(keys, 'hmac-sha256')] },
    fx.APP_1_0_0,
    '1.0.0',
  );
  cleanups.push(template);
  // The board runs the old image from ota_0; ota_1 is erased.
  const slot = Buffer.alloc(PART_KB * 1024, 0xff);
  OLD_FW.copy(slot);
  await runBoard({ fsDir: template, boot: false, partitions: { sizeKb: PART_KB } });
  writeFileSync(join(`${template}.partitions`, 'ota_0.bin'), slot);
  cleanups.push(`${template}.partitions`);
});
after(async () => {
  await good.close();
  fx.cleanup(...cleanups);
});

/** A fresh copy of the template board (files and partitions), optionally pointed at another host. */
function board(url?: string): string {
  const d = fx.tempDir('fwboard');
  cleanups.push(d, `${d}.partitions`);
  cpSync(template, d, { recursive: true });
  cpSync(`${template}.partitions`, `${d}.partitions`, { recursive: true });
  if (url) {
    const cfg = JSON.parse(readFileSync(join(d, 'ota_config.json'), 'utf8'));
    writeFileSync(join(d, 'ota_config.json'), JSON.stringify({ ...cfg, url }));
  }
  return d;
}

function run(fsDir: string, code?: string, cutAfterMutations?: number): Promise<RunResult> {
  return runBoard({ fsDir, code, cutAfterMutations, partitions: { sizeKb: PART_KB }, timeoutMs: 60_000 });
}

function slot(fsDir: string, label: string): Buffer {
  return readFileSync(join(`${fsDir}.partitions`, `${label}.bin`));
}

/** Whether a partition holds exactly this image (the rest of it erased or not: only the image counts). */
function holds(fsDir: string, label: string, img: Buffer): boolean {
  return slot(fsDir, label).subarray(0, img.length).equals(img);
}

/** What the board runs: the image in the running partition and the app files must be one release. */
function which(fsDir: string, r: RunResult): 'old' | 'new' {
  const files = JSON.stringify(fx.hashTree(fsDir, NOT_APP));
  const v = JSON.parse(readFileSync(join(fsDir, 'version.json'), 'utf8')).version;
  const running = r.running ?? assert.fail('the board reports no running partition');
  if (holds(fsDir, running, OLD_FW) && files === JSON.stringify(OLD) && v === '1.0.0') return 'old';
  if (holds(fsDir, running, NEW_FW) && files === JSON.stringify(NEW) && v === '1.1.0') return 'new';
  assert.fail(`running ${running} (old image: ${holds(fsDir, running, OLD_FW)}) with files of version ${v}`);
}

function events(r: RunResult, name: string): Record<string, unknown>[] {
  return fx.eventsOf(r.output).filter((e) => e.ev === name);
}

test('an update writes the image to ota_1, boots it pending verify; confirmed by the app, it stays', async () => {
  const fsDir = board();
  writeFileSync(join(fsDir, 'healthy'), '');
  const r = await run(fsDir, UPDATE);
  assert.deepEqual(fx.errorCodes(r.output), [], r.output);
  assert.equal(r.resets, 1, 'update() resets the board into the new image');
  assert.equal(r.running, 'ota_1');
  assert.ok(holds(fsDir, 'ota_1', NEW_FW), 'ota_1 holds the new image');
  assert.ok(holds(fsDir, 'ota_0', OLD_FW), 'ota_0 still holds the old image');
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
  await run(fsDir, UPDATE);
  const r = await run(fsDir, 'import ota\nota.rollback()\n');
  assert.equal(events(r, 'rollback').length, 1, r.output);
  assert.equal(r.running, 'ota_0', 'the board restarted into the old image');
  assert.equal(which(fsDir, r), 'old');
  assert.deepEqual(readOtaData({ dir: `${fsDir}.partitions`, sizeKb: PART_KB }), {
    boot: 'ota_0',
    state: 'valid',
  });
  const b = await run(fsDir);
  assert.equal(b.running, 'ota_0', 'the old image stays after the next reset');
  assert.equal(which(fsDir, b), 'old');
});

test('a corrupted image (one flipped byte) is refused with hash_mismatch; the boot partition is unchanged', async () => {
  const bad = Buffer.from(NEW_FW);
  bad[150_000] ^= 0x01;
  const srv = await host(NEW_FW, bad);
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
  const srv = await host(image(PART_KB * 1024 + 1));
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
    }
    assert.ok(seen.old > 0 && seen.new > 0, JSON.stringify(seen));
    t.diagnostic(
      `${total} mutations (image blocks ${first}..${first + blocks - 1}), ${cuts.length} cut points; ` +
        `the board then ran old ${seen.old}x, new ${seen.new}x`,
    );
  },
);

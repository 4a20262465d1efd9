// The firmware OTA fixture: a 1.0.0 board running an old image from ota_0 of the virtual board's OTA
// partitions, a static host serving 1.1.0 with a new image, and the checks that a board runs one
// release whole (the image in the running partition together with that release's files).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runBoard, type RunResult } from '../../src/sim/board';
import { describeFirmware, serializeManifest } from '../../src/core/manifest';
import * as fx from './release-fixture';

export const PART_KB = 512;
export const UPDATE = 'import ota\nota.update()\n';
const keys = fx.makeKeys();

/** A random "app image" with the ESP32 image magic byte in front. */
export function image(size: number): Buffer {
  const b = randomBytes(size);
  b[0] = 0xe9;
  return b;
}

export const OLD_FW = image(200 * 1024);
export const NEW_FW = image(300 * 1024 + 123);
/**
 * 1.1.0's main.py judges its first boot by a marker file: "healthy" -> ota.confirm(), "sick" ->
 * ota.rollback() (as an app's self-test would), neither -> nothing (a crash before confirming).
 */
const APP_FW: fx.AppFiles = {
  ...fx.APP_1_1_0,
  'main.py': [
    'import os, ota',
    'def has(p):',
    '    try:',
    '        os.stat(p)',
    '        return True',
    '    except OSError:',
    '        return False',
    'if has("healthy"):',
    '    ota.confirm()',
    'elif has("sick"):',
    '    ota.rollback()',
    'print("app 1.1.0")',
    '',
  ].join('\n'),
};
const NOT_APP = [...fx.NOT_APP, 'healthy', 'sick'];
const OLD = JSON.stringify(fx.hashFiles(fx.APP_1_0_0));
const NEW = JSON.stringify(fx.hashFiles({ ...APP_FW, 'settings.json': fx.APP_1_0_0['settings.json'] }));

export interface FirmwareFixture {
  /** Serves 1.1.0 with NEW_FW. */
  good: fx.StaticServer;
  /** Serves 1.1.0 with `fw` as its firmware; `served` replaces the image bytes on the host. */
  host(fw: Buffer, served?: Buffer): Promise<fx.StaticServer>;
  /** A fresh copy of `from` (default: the 1.0.0 template board), files and partitions; optionally another host. */
  board(url?: string, from?: string): string;
  close(): Promise<void>;
}

export async function firmwareFixture(): Promise<FirmwareFixture> {
  const cleanups: string[] = [];
  const host = async (fw: Buffer, served?: Buffer): Promise<fx.StaticServer> => {
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
  };
  const good = await host(NEW_FW);
  const template = fx.makeBoard(
    { source: 'static', url: good.url, keys: [fx.boardKey(keys, 'hmac-sha256')] },
    fx.APP_1_0_0,
    '1.0.0',
  );
  cleanups.push(template, `${template}.partitions`);
  // The board runs the old image from ota_0; ota_1 is erased.
  const slot0 = Buffer.alloc(PART_KB * 1024, 0xff);
  OLD_FW.copy(slot0);
  await runBoard({ fsDir: template, boot: false, partitions: { sizeKb: PART_KB } });
  writeFileSync(join(`${template}.partitions`, 'ota_0.bin'), slot0);
  return {
    good,
    host,
    board(url?: string, from = template): string {
      const d = fx.tempDir('fwboard');
      cleanups.push(d, `${d}.partitions`);
      cpSync(from, d, { recursive: true });
      cpSync(`${from}.partitions`, `${d}.partitions`, { recursive: true });
      if (url) {
        const cfg = JSON.parse(readFileSync(join(d, 'ota_config.json'), 'utf8'));
        writeFileSync(join(d, 'ota_config.json'), JSON.stringify({ ...cfg, url }));
      }
      return d;
    },
    async close() {
      await good.close();
      fx.cleanup(...cleanups);
    },
  };
}

export function run(fsDir: string, code?: string, cutAfterMutations?: number): Promise<RunResult> {
  return runBoard({ fsDir, code, cutAfterMutations, partitions: { sizeKb: PART_KB }, timeoutMs: 60_000 });
}

export function slot(fsDir: string, label: string): Buffer {
  return readFileSync(join(`${fsDir}.partitions`, `${label}.bin`));
}

/** Whether a partition holds exactly this image (the rest of it erased or not: only the image counts). */
export function holds(fsDir: string, label: string, img: Buffer): boolean {
  return slot(fsDir, label).subarray(0, img.length).equals(img);
}

/** What the board runs: the image in the running partition and the app files must be one release. */
export function which(fsDir: string, r: RunResult): 'old' | 'new' {
  const files = JSON.stringify(fx.hashTree(fsDir, NOT_APP));
  const v = JSON.parse(readFileSync(join(fsDir, 'version.json'), 'utf8')).version;
  const running = r.running ?? assert.fail('the board reports no running partition');
  if (holds(fsDir, running, OLD_FW) && files === OLD && v === '1.0.0') return 'old';
  if (holds(fsDir, running, NEW_FW) && files === NEW && v === '1.1.0') return 'new';
  assert.fail(`running ${running} (old image: ${holds(fsDir, running, OLD_FW)}) with files of version ${v}`);
}

export function events(r: RunResult, name: string): Record<string, unknown>[] {
  return fx.eventsOf(r.output).filter((e) => e.ev === name);
}

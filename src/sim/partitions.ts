// The virtual board's OTA partitions (an ESP32 with the two-slot OTA partition table): app partitions
// ota_0 and ota_1, each a host file of the partition's size, and the otadata record of which one boots
// and in what state, kept as JSON beside them. The bootloader step runs at every hard reset with
// ESP-IDF's rollback rules (CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE): an image set to boot runs once
// "pending verify"; booted again without mark_app_valid_cancel_rollback() it is aborted and the previous
// image boots. Used by the board (main thread) at reset and by the worker for esp32.Partition.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { OtaError } from '../core/errors';

export const SECTOR = 4096;
export const OTA_LABELS = ['ota_0', 'ota_1'] as const;

export interface PartitionTable {
  /** Host folder holding ota_0.bin, ota_1.bin and otadata.json. */
  dir: string;
  /** Size of each app partition. */
  sizeKb: number;
}

/** new: set to boot, not run yet; pending_verify: ran once, not confirmed yet. */
export type OtaState = 'new' | 'pending_verify' | 'valid';

export interface OtaData {
  boot: string;
  state: OtaState;
}

/** BoardOptions.partitions: true for the defaults (folder `<fsDir>.partitions`, 1024 KB each). */
export type PartitionsOption = boolean | { dir?: string; sizeKb?: number };

export function partitionTable(opt: PartitionsOption | undefined, fsDir: string): PartitionTable | undefined {
  if (!opt) return undefined;
  const o = opt === true ? {} : opt;
  const sizeKb = o.sizeKb ?? 1024;
  if (!Number.isInteger(sizeKb) || sizeKb < 4 || sizeKb % 4 !== 0)
    throw new OtaError('sim_partitions', 'partitions.sizeKb must be a positive multiple of 4');
  return { dir: path.resolve(o.dir ?? `${fsDir}.partitions`), sizeKb };
}

export function partitionFile(t: PartitionTable, label: string): string {
  return path.join(t.dir, `${label}.bin`);
}

/** The other OTA slot (esp_ota_get_next_update_partition with two slots). */
export function otherSlot(label: string): string {
  return label === OTA_LABELS[0] ? OTA_LABELS[1] : OTA_LABELS[0];
}

/** Creates missing partition files (erased flash, 0xFF) and otadata (ota_0 boots, valid). */
export function preparePartitions(t: PartitionTable): void {
  fs.mkdirSync(t.dir, { recursive: true });
  for (const label of OTA_LABELS) {
    const f = partitionFile(t, label);
    if (!fs.existsSync(f)) fs.writeFileSync(f, Buffer.alloc(t.sizeKb * 1024, 0xff));
    else if (fs.statSync(f).size !== t.sizeKb * 1024)
      throw new OtaError('sim_partitions', `${f} is not ${t.sizeKb} KB`);
  }
  if (!fs.existsSync(path.join(t.dir, 'otadata.json')))
    writeOtaData(t, { boot: OTA_LABELS[0], state: 'valid' });
}

export function readOtaData(t: PartitionTable): OtaData {
  return JSON.parse(fs.readFileSync(path.join(t.dir, 'otadata.json'), 'utf8')) as OtaData;
}

/** Written whole and renamed over the old record: ESP-IDF alternates two otadata sectors to the same end. */
export function writeOtaData(t: PartitionTable, d: OtaData): void {
  const file = path.join(t.dir, 'otadata.json');
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(d));
  fs.renameSync(`${file}.tmp`, file);
}

/** The second-stage bootloader at a hard reset: picks the image to run, applying the rollback rules. */
export function bootloader(t: PartitionTable): string {
  const d = readOtaData(t);
  if (d.state === 'new') {
    writeOtaData(t, { boot: d.boot, state: 'pending_verify' });
    return d.boot;
  }
  if (d.state === 'pending_verify') {
    const previous = otherSlot(d.boot);
    writeOtaData(t, { boot: previous, state: 'valid' });
    return previous;
  }
  return d.boot;
}

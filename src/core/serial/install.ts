/**
 * Puts the updater on a board: `installUpdater(board, { deviceDir, config, keyFile? })`.
 *
 * - the package files listed in `<deviceDir>/package.json` "urls" ([[dest, source], …],
 *   mip's format) go to `/<dest>`; files of an older updater no longer listed are removed;
 * - `config` is written to /ota_config.json, with the trust entry of `keyFile` (core/keys.ts)
 *   added to (or replacing the same id in) its "keys";
 * - /boot.py gets `import ota` / `ota.boot()` as its first lines, the user's code kept below.
 * Everything goes through syncFiles, so a second install with the same inputs writes nothing.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OtaError } from '../errors';
import { checkOtaConfig, type OtaConfig } from '../config';
import { deviceTrustEntry } from '../keys';
import { ROOTS_PATH, rootsFor } from '../tls-roots';
import * as fs from './board-fs';
import type { BoardConnection } from './board';
import { syncFiles, type SyncFile, type SyncResult } from './sync';

export interface InstallOptions {
  deviceDir: string;
  /** The ota_config.json to write; refused with 'bad_config' unless valid (core/config.ts). */
  config: OtaConfig;
  /** Key file whose trust entry the board should accept. */
  keyFile?: string;
  onProgress?: fs.WriteOptions['onProgress'];
}

export const BOOT_LINES = ['import ota', 'ota.boot()  # ota: finish or undo an interrupted update first'];
const PACKAGE_DIR = 'ota';

/** boot.py with the updater's lines first and everything else the user had, in order. */
export function withBootHook(existing: string): string {
  const nl = existing.includes('\r\n') ? '\r\n' : '\n';
  const keep = existing
    .split(/\r?\n/)
    .filter((l) => l.trim() !== 'import ota' && !/^ota\.boot\(\)/.test(l.trim()));
  while (keep.length && keep[0].trim() === '') keep.shift();
  return [...BOOT_LINES, ...keep].join(nl).replace(/\s*$/, '') + nl;
}

async function packageFiles(deviceDir: string): Promise<SyncFile[]> {
  const pkgPath = join(deviceDir, 'package.json');
  let urls: unknown;
  try {
    urls = (JSON.parse(await readFile(pkgPath, 'utf8')) as { urls?: unknown }).urls;
  } catch (err) {
    throw new OtaError(
      'no_package',
      `cannot read the updater's file list ${pkgPath}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  if (!Array.isArray(urls) || urls.length === 0) {
    throw new OtaError('no_package', `${pkgPath} has no "urls" list of [dest, source] pairs`);
  }
  const files: SyncFile[] = [];
  for (const entry of urls) {
    if (!Array.isArray(entry) || typeof entry[0] !== 'string' || typeof entry[1] !== 'string') {
      throw new OtaError('no_package', `${pkgPath}: every "urls" item must be [dest, source]`);
    }
    const [dest, source] = entry as [string, string];
    // mip sources are URLs (github:…); the same file sits in deviceDir under its dest.
    const local = /^[a-z]+:/.test(source) ? join(deviceDir, dest) : join(deviceDir, source);
    files.push({ path: dest, data: await readFile(local) });
  }
  return files;
}

async function configBytes(config: OtaConfig, keyFile?: string): Promise<Buffer> {
  const cfg = { ...checkOtaConfig(config) };
  if (keyFile) {
    const entry = await deviceTrustEntry(keyFile);
    const keys = cfg.keys ?? [];
    cfg.keys = [...keys.filter((k) => k?.id !== entry.id), entry];
  }
  return Buffer.from(JSON.stringify(cfg, null, 1) + '\n');
}

export interface InstallResult extends SyncResult {
  bootChanged: boolean;
}

export async function installUpdater(board: BoardConnection, opts: InstallOptions): Promise<InstallResult> {
  const files = await packageFiles(opts.deviceDir);
  files.push({ path: 'ota_config.json', data: await configBytes(opts.config, opts.keyFile) });
  // The CA roots the board verifies its release host with (device/ota/tls.py).
  files.push({ path: ROOTS_PATH, data: Buffer.from(rootsFor(opts.config)) });
  let boot = '';
  try {
    boot = (await board.read('/boot.py')).toString('utf8');
  } catch (err) {
    if (!(err instanceof OtaError && err.code === 'not_found')) throw err;
  }
  const hooked = withBootHook(boot);
  files.push({ path: 'boot.py', data: Buffer.from(hooked) });
  const listed = new Set(files.map((f) => '/' + f.path));
  const present = await board.ls(`/${PACKAGE_DIR}`).catch((err: unknown) => {
    if (err instanceof OtaError && err.code === 'board_exception') return []; // not installed yet
    throw err;
  });
  const stale = present.filter((e) => e.type === 'file' && !listed.has(e.path)).map((e) => e.path.slice(1));
  const result = await syncFiles(board, { files, remove: stale }, { onProgress: opts.onProgress });
  return { ...result, bootChanged: hooked !== boot };
}

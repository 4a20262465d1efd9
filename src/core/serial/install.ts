/**
 * Puts the updater on a board: `installUpdater(board, { deviceDir, config, keyFile? })`.
 *
 * - the package files listed in `<deviceDir>/package.json` "urls" ([[dest, source], …],
 *   mip's format) go to `/<dest>`; files of an older updater no longer listed are removed;
 * - `config` is written to /ota_config.json, with the trust entry of `keyFile` (core/keys.ts)
 *   added to (or replacing the same id in) its "keys"; a tls file it names inside ota/ or .ota/
 *   is refused (checkBoardFiles: a reinstall would delete it);
 * - /boot.py gets the updater's lines first (finish an interrupted install, finish or undo an
 *   interrupted push, `import ota`, `ota.boot()`), the user's code kept below.
 *
 * Power-cut safe (docs/updater-swap.md, "Updating the updater"): the files that differ are staged
 * under /.ota/pkg/ (boot.py with its lines among them) with the switch script /.ota/install.py
 * (device/install.py) and checked by SHA-256; then the marker /.ota/install.json is written and the
 * script copies the staged files over the live ones, boot.py first. boot.py runs the script before
 * `import ota` while the marker is there, so a cut at any step leaves the old updater whole, or
 * finishes the new one before it runs. boot.py itself is renamed over the old one where that is one
 * step (LittleFS); on FAT it is copied, and a cut inside that copy leaves it torn until the next
 * install. A second install with the same inputs writes nothing.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OtaError } from '../errors';
import { checkOtaConfig, type OtaConfig } from '../config';
import { readTrustFile } from '../keys';
import { ROOTS_PATH, rootsFor } from '../tls-roots';
import { RESERVED_WHY, reservedPath } from '../reserved';
import * as fs from './board-fs';
import type { BoardConnection } from './board';
import { syncFiles, type SyncFile, type SyncResult } from './sync';
import { sha256Hex } from './transfer';
import { PUSH_HOOK_LINES } from './board-helpers';

export interface InstallOptions {
  deviceDir: string;
  /** The ota_config.json to write; refused with 'bad_config' unless valid (core/config.ts). */
  config: OtaConfig;
  /** Key file whose trust entry the board should accept. */
  keyFile?: string;
  onProgress?: fs.WriteOptions['onProgress'];
}

/**
 * The script runs only while the marker is there: it is written after the script is whole, and
 * writes never rename (docs/updater-swap.md), so before the marker the script may be half copied.
 */
export const BOOT_LINES = [
  "try: import os; os.stat('.ota/install.json'); exec(open('.ota/install.py').read())  # ota: finish an interrupted updater install",
  'except OSError: pass  # ota',
  ...PUSH_HOOK_LINES,
  'import ota',
  'ota.boot()  # ota: finish or undo an interrupted update first',
];
/** Lines earlier versions put first, replaced by BOOT_LINES. */
const LEGACY_BOOT_LINES = [
  "try: exec(open('.ota/install.py').read())  # ota: finish an interrupted updater install",
];
const PACKAGE_DIR = 'ota';
const STAGE = '/.ota/pkg';
const MARKER = '/.ota/install.json';
const SWITCH = 'install.py';

/** boot.py with the updater's lines first and everything else the user had, in order. */
export function withBootHook(existing: string): string {
  const nl = existing.includes('\r\n') ? '\r\n' : '\n';
  const ours = new Set([...BOOT_LINES, ...LEGACY_BOOT_LINES].map((l) => l.trim()));
  const keep = existing.split(/\r?\n/).filter((l) => !ours.has(l.trim()) && !/^ota\.boot\(\)/.test(l.trim()));
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
    const { entry } = await readTrustFile(keyFile); // a key file, or its public entry alone
    const keys = cfg.keys ?? [];
    cfg.keys = [...keys.filter((k) => k?.id !== entry.id), entry];
  }
  return Buffer.from(JSON.stringify(cfg, null, 1) + '\n');
}

export interface InstallResult extends SyncResult {
  bootChanged: boolean;
}

/**
 * Why a file the config names on the board (a CA, a client certificate or key) would not outlive a
 * reinstall, or undefined: ota/ is the updater's package (a reinstall removes what it does not
 * ship) and .ota/ its working folders, so a path in either is refused, except the CA roots the
 * installer writes itself. `name` says which setting it is (e.g. tls.ca).
 */
export function boardFileProblem(name: string, value: string): string | undefined {
  const path = value.replace(/^(\.?\/)+/, '');
  const r = reservedPath(path);
  if ((r !== 'ota' && r !== '.ota') || path.toLowerCase() === ROOTS_PATH) return undefined;
  return (
    `${name} is ${JSON.stringify(value)}, inside ${r}/ (${RESERVED_WHY[r]}): a reinstall would delete it. ` +
    `Keep the file elsewhere on the board (for example /certs/${path.split('/').pop()}) and set ${name} to that path.`
  );
}

/** Every board file the config names (tls and fleet.tls), held to boardFileProblem ('reserved_path'). */
export function checkBoardFiles(config: OtaConfig): void {
  const c = config as { tls?: Record<string, unknown>; fleet?: { tls?: Record<string, unknown> } };
  for (const [prefix, tls] of [
    ['tls', c.tls],
    ['fleet.tls', c.fleet?.tls],
  ] as const) {
    for (const key of ['ca', 'cert', 'key'] as const) {
      const value = tls?.[key];
      const problem = typeof value === 'string' ? boardFileProblem(`${prefix}.${key}`, value) : undefined;
      if (problem) throw new OtaError('reserved_path', problem);
    }
  }
}

export async function installUpdater(board: BoardConnection, opts: InstallOptions): Promise<InstallResult> {
  checkBoardFiles(opts.config);
  const files = await packageFiles(opts.deviceDir);
  const switcher = await readFile(join(opts.deviceDir, SWITCH)).catch((err: unknown) => {
    throw new OtaError(
      'no_package',
      `cannot read the updater's install script ${SWITCH}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  });
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
  const listed = new Set(files.map((f) => '/' + f.path));
  const present = await board.ls(`/${PACKAGE_DIR}`).catch((err: unknown) => {
    if (err instanceof OtaError && err.code === 'board_exception') return []; // not installed yet
    throw err;
  });
  const stale = present.filter((e) => e.type === 'file' && !listed.has(e.path)).map((e) => e.path.slice(1));
  const live = await board.stat(files.map((f) => '/' + f.path));
  const changed = files.filter((f) => live.get('/' + f.path)?.sha256 !== sha256Hex(f.data));
  const unchanged = files.filter((f) => !changed.includes(f)).map((f) => f.path);
  const result = { uploaded: changed.map((f) => f.path), unchanged, removed: stale, bytes: 0 };
  // boot.py goes in with the rest, copied first: from then on it finishes the install at boot.
  if (hooked !== boot) changed.push({ path: 'boot.py', data: Buffer.from(hooked) });
  // 1. Stage what differs, and the script that switches it in; check both on the board.
  if (changed.length || stale.length) {
    const staged = await syncFiles(board, { files: changed, root: STAGE }, { onProgress: opts.onProgress });
    result.bytes = staged.bytes;
    await syncFiles(board, { files: [{ path: SWITCH, data: switcher }], root: '/.ota' });
    const have = await board.stat(changed.map((f) => `${STAGE}/${f.path}`));
    for (const f of changed) {
      if (have.get(`${STAGE}/${f.path}`)?.sha256 !== sha256Hex(f.data))
        throw new OtaError(
          'install_staging',
          `${f.path} did not reach the board intact; run the install again`,
        );
    }
  }
  if (changed.length || stale.length) {
    // 2. The marker, written last and in one piece: from here a cut finishes the install at boot.
    const marker = JSON.stringify({
      files: Object.fromEntries(changed.map((f) => [f.path, sha256Hex(f.data)])),
      remove: stale,
    });
    await board.exec(
      `f = open(${JSON.stringify(MARKER)}, 'w')\nf.write(${JSON.stringify(marker)})\nf.close()`,
    );
    // 3. The switch.
    await board.exec(`import os\nos.chdir('/')\nexec(open('.ota/${SWITCH}').read(), {})`);
  }
  // 4. The staged copies go, and the script (also what an earlier install cut short left: a script
  // whose marker is gone is never run at boot, so nothing else removes it).
  await board.rm(STAGE);
  await board.rm(`/.ota/${SWITCH}`);
  return { ...result, bootChanged: hooked !== boot };
}

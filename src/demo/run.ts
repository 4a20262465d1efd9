/**
 * `ota demo`: the whole product on one machine, no hardware, no account, no network beyond
 * 127.0.0.1, nothing but Node. A virtual board on its in-process serial link (the same raw REPL
 * bytes and client code as a USB port; no pseudo-terminal), a static release host, the updater installed
 * over serial, then two over-the-air updates of examples/weather-station (1.0.0, then 1.1.0 by
 * delta), ending with what moved and how long it took.
 *
 *   runDemo({ exampleDir, deviceDir, workDir?, keep?, log?, event? }) -> Promise<DemoSummary>
 *   findDemoAssets(from) -> { exampleDir, deviceDir }   (the repository's example and device/)
 *
 * Every step calls the parts' own APIs (sim, publish, serial, manifest): the demo holds no rule.
 * It lives outside src/core because it starts the virtual board (src/sim).
 */
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { OtaError } from '../core/errors';
import type { OtaEvent } from '../core/events';
import { parseManifest } from '../core/manifest';
import type { Manifest } from '../core/manifest-types';
import { publishFolder } from '../core/publish/folder';
import { serveFolder, type FolderServer } from '../core/publish/serve';
import { openBoard, type BoardConnection } from '../core/serial/board';
import { runUpdate } from '../core/serial/console';
import { installUpdater } from '../core/serial/install';
import { verifyTree, type VerifyReport } from '../core/verify';
import { VirtualBoard } from '../sim/board';
import { exposeOnLink } from '../sim/usb';

export interface DemoOptions {
  /** The app to release (examples/weather-station); `updates/<version>/` holds the files each later release changes. */
  exampleDir: string;
  /** The updater package (device/, with package.json "urls"). */
  deviceDir: string;
  /** Where the board's flash, the release host and the app copy live (default: a new temp dir). */
  workDir?: string;
  /** Leave workDir in place afterwards (default: removed). */
  keep?: boolean;
  /** A human-readable line per step. */
  log?: (line: string) => void;
  /** Every OTA event the board prints, tagged with the release being installed. */
  event?: (version: string, e: OtaEvent) => void;
}

export interface DemoUpdate {
  version: string;
  /** Release files and their total size. */
  files: number;
  releaseBytes: number;
  /** Files the board needed (its delta), from its `start` event. */
  needed: number;
  /** What the board downloaded: release paths, or the bundle's name when it took the bundle instead. */
  downloaded: string[];
  viaBundle: boolean;
  /** Every byte the release host sent during this update: latest.json, manifest, files. */
  bytesOverAir: number;
  /** The part of bytesOverAir that was latest.json and the manifest. */
  metadataBytes: number;
  bundleBytes: number;
  seconds: number;
  /** The board reset into the new release and the app called ota.confirm(). */
  confirmed: boolean;
  /** What the app printed after the reset. */
  appOutput: string[];
}

export interface DemoSummary {
  /** version.json's version on the board: before, after the first update, after the second. */
  versions: (string | null)[];
  install: { files: number; bytes: number; seconds: number };
  updates: DemoUpdate[];
  /** The board's files against the last release's manifest (extra: the updater's own files). */
  boardCheck: VerifyReport;
  seconds: number;
  workDir: string;
}

/** What the board prints that is not the app: its banner, the REPL prompt. */
const BOARD_CHATTER = /^(MicroPython v\d|Type "help\(\)"|>>>|MPY: soft reboot)/;

/**
 * What an ESP32 or RP2040 W leaves free for the updater, with room for the garbage made between the
 * updater's gc.collect() calls (the virtual board collects on no other occasion); the updater's
 * peak heap is measured in bench/updater.bench.ts.
 */
const DEMO_HEAP_KB = 160;

const FIRST = '1.0.0';
const SECOND = '1.1.0';
const APP_NAME = 'weather-station';

/** Finds examples/weather-station and device/ above `from` (dist/ or src/demo/). */
export function findDemoAssets(from: string): { exampleDir: string; deviceDir: string } {
  for (let dir = resolve(from); ; dir = dirname(dir)) {
    const exampleDir = join(dir, 'examples', APP_NAME);
    const deviceDir = join(dir, 'device');
    if (existsSync(join(exampleDir, 'main.py')) && existsSync(join(deviceDir, 'package.json'))) {
      return { exampleDir, deviceDir };
    }
    if (dirname(dir) === dir) {
      throw new OtaError('demo_assets', `cannot find examples/${APP_NAME} and device/ above ${from}`);
    }
  }
}

function elapsed(t0: number): number {
  return Math.round((performance.now() - t0) / 100) / 10;
}

async function boardVersion(conn: BoardConnection): Promise<string | null> {
  const v = (await conn.info()).versionJson as { version?: unknown } | null;
  return v && typeof v.version === 'string' ? v.version : null;
}

export async function runDemo(opts: DemoOptions): Promise<DemoSummary> {
  const t0 = performance.now();
  const log = opts.log ?? (() => undefined);
  const work = opts.workDir ?? (await mkdtemp(join(tmpdir(), 'ota-demo-')));
  const app = join(work, 'app');
  const host = join(work, 'host');
  const flash = join(work, 'board');
  await mkdir(host, { recursive: true });
  await mkdir(flash, { recursive: true });
  await cp(opts.exampleDir, app, { recursive: true });
  const created = new Date();

  const cleanups: (() => Promise<unknown>)[] = [];
  try {
    const board = await VirtualBoard.start({ fsDir: flash, heapKb: DEMO_HEAP_KB });
    cleanups.push(() => board.stop());
    const port = await exposeOnLink(board);
    cleanups.push(() => port.close());
    log(
      `virtual board powered on, serial port ${port.path} (in-process link, USB serial ${port.serialNumber})`,
    );

    const server = await serveFolder(host, { port: 0 });
    cleanups.push(() => server.close());
    log(`release host ${server.url} serving ${host}`);

    const publish = async (version: string): Promise<Manifest> => {
      const r = await publishFolder({
        dir: app,
        version,
        outDir: host,
        bundle: true,
        build: { name: APP_NAME, created },
      });
      const m = parseManifest(await readFile(join(r.versionDir, 'manifest.json')));
      log(
        `published ${APP_NAME} ${version}: ${r.files} files, ${r.bytes} bytes, bundle ${m.bundle?.size} bytes`,
      );
      return m;
    };

    const first = await publish(FIRST);

    const conn = await openBoard(port.path);
    cleanups.unshift(() => conn.close());
    const versions: (string | null)[] = [await boardVersion(conn)];
    const ti = performance.now();
    const installed = await installUpdater(conn, {
      deviceDir: opts.deviceDir,
      config: { source: 'static', url: server.url },
    });
    const install = {
      files: installed.uploaded.length,
      bytes: installed.bytes,
      seconds: elapsed(ti),
    };
    log(
      `updater installed over serial: ${install.files} files, ${install.bytes} bytes in ${install.seconds} s`,
    );

    const updates: DemoUpdate[] = [];
    const update = async (m: Manifest): Promise<void> => {
      log(`board checks for updates (it runs ${versions[versions.length - 1] ?? 'no release'})`);
      updates.push(await updateOnce(conn, server, m, log, (e) => opts.event?.(m.version, e)));
      versions.push(await boardVersion(conn));
    };
    await update(first);

    await cp(join(app, 'updates', SECOND), app, { recursive: true });
    const second = await publish(SECOND);
    await update(second);

    const boardCheck = await verifyTree(second, flash);
    return { versions, install, updates, boardCheck, seconds: elapsed(t0), workDir: work };
  } finally {
    for (const c of cleanups) await c().catch(() => undefined);
    if (!opts.keep && !opts.workDir) await rm(work, { recursive: true, force: true });
  }
}

async function updateOnce(
  conn: BoardConnection,
  server: FolderServer,
  m: Manifest,
  log: (line: string) => void,
  event: (e: OtaEvent) => void,
): Promise<DemoUpdate> {
  const t0 = performance.now();
  const sent0 = server.bytesSent;
  const requests0 = server.requests.length;
  let swapped = false;
  let needed = 0;
  let confirmed = false;
  const appOutput: string[] = [];
  const failures: OtaEvent[] = [];
  // Start from a fresh interpreter, as a board running its app would: the file helpers the
  // install left in the REPL's globals would otherwise hold heap the updater needs.
  await conn.softReset();
  const run = await runUpdate(conn, {
    // a few KB from 127.0.0.1: a board silent this long is stuck, not slow
    idleTimeoutMs: 30_000,
    event: (e) => {
      if (e.ev === 'error') failures.push(e);
      if (e.ev === 'start') needed = Number(e.files);
      if (e.ev === 'done') swapped = true;
      if (e.ev === 'confirm') confirmed = true;
      event(e);
    },
    text: (line) => {
      // After the swap the board resets and runs the new release's main.py before its REPL banner.
      const l = line.trim();
      if (swapped && l && !BOARD_CHATTER.test(l)) appOutput.push(l);
    },
  });
  if (failures.length) {
    const f = failures[0];
    throw new OtaError('demo_update', `the board refused ${m.version}: ${String(f.code)}: ${String(f.msg)}`);
  }
  if (!run.reset) throw new OtaError('demo_update', `the board did not install ${m.version} (no reset seen)`);
  const prefix = `/${m.version}/`;
  const served = server.requests.slice(requests0);
  const isMetadata = (path: string): boolean =>
    !path.startsWith(prefix) || /\/manifest\.json(\.sig)?$/.test(path);
  const downloaded = served
    .filter((r) => r.status < 300 && !isMetadata(r.path))
    .map((r) => decodeURIComponent(r.path.slice(prefix.length)));
  const result: DemoUpdate = {
    version: m.version,
    files: m.files.length,
    releaseBytes: m.files.reduce((n, f) => n + f.size, 0),
    needed,
    downloaded: [...new Set(downloaded)],
    viaBundle: m.bundle !== undefined && downloaded.includes(m.bundle.name),
    bytesOverAir: server.bytesSent - sent0,
    metadataBytes: served.filter((r) => isMetadata(r.path)).reduce((n, r) => n + r.bytes, 0),
    bundleBytes: m.bundle?.size ?? 0,
    seconds: elapsed(t0),
    confirmed,
    appOutput,
  };
  log(
    `board runs ${m.version}: downloaded ${result.downloaded.join(', ') || 'nothing'} ` +
      `(${result.bytesOverAir} bytes over the air) in ${result.seconds} s` +
      (confirmed ? ', app confirmed the release' : ''),
  );
  return result;
}

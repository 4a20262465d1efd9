// A fleet for tests: real mosquitto (TLS + password), a signed 1.1.0 on a real static host, boards with
// the real updater on the virtual board, and the host's own fleet connection and rollout controller.
// fleetTests() is every fleet test file's frame: the skip without mosquitto, the timeout, the teardown.
import { after, afterEach } from 'node:test';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { keyId, type KeyFile, type TrustEntry } from '../../src/core/keys';
import { connectFleet, type FleetConnection } from '../../src/core/fleet/connection';
import { releaseExists } from '../../src/core/fleet/release';
import { RolloutController } from '../../src/core/fleet/rollout';
import { signDocument } from '../../src/core/fleet/signed';
import type { RolloutDoc } from '../../src/core/fleet/protocol';
import * as fx from './release-fixture';
import { disposeMosquitto, mosquittoMissing, startMosquitto, type Mosquitto } from './mosquitto';

export const FLEET = 'greenhouse';

/** The release side alone: a signed 1.1.0 (latest) on a real static host, and its key. */
export interface Host {
  keys: fx.Keys;
  /** The release key as `ota keygen` writes it (host side). */
  key: KeyFile;
  /** The same key as a board's config "keys" entry. */
  trusted: TrustEntry[];
  rel: fx.Release;
  host: string;
  srv: fx.StaticServer;
  dirs: string[];
}

/** The release side and a real mosquitto the boards and the host's connections (conns) share. */
export interface Fleet extends Host {
  m: Mosquitto;
  conns: FleetConnection[];
}

export async function startHost(): Promise<Host> {
  const keys = fx.makeKeys();
  const rel = await fx.makeRelease('1.1.0', fx.APP_1_1_0, { keep: ['settings.json'], delete: ['old.py'] });
  const host = fx.tempDir('host');
  const kid = keyId(keys.hmac);
  fx.publishStatic(host, rel, { sign: { keys, alg: 'hmac-sha256', keyId: kid } });
  const srv = await fx.serveFolder(host);
  const key: KeyFile = { alg: 'hmac-sha256', id: kid, secret: keys.hmac.toString('base64') };
  const trusted: TrustEntry[] = [{ alg: 'hmac-sha256', id: kid, key: keys.hmac.toString('base64') }];
  return { keys, key, trusted, rel, host, srv, dirs: [rel.dir, host] };
}

export async function startFleet(): Promise<Fleet> {
  const m = await startMosquitto();
  return { ...(await startHost()), m, conns: [] };
}

export async function stopFleet(f: Host | Fleet | undefined): Promise<void> {
  if (!f) return;
  if ('m' in f) for (const c of f.conns) await c.close().catch(() => undefined);
  await f.srv.close();
  if ('m' in f) await disposeMosquitto(f.m);
  fx.cleanup(...f.dirs);
}

/**
 * The frame of a fleet test file: `T` skips (one line why) where mosquitto is missing outside CI, `NB`
 * (no broker) does not; every fleet or host started goes down after its test (`shared`: after the file).
 */
export function fleetTests(o: { timeout?: number; shared?: boolean } = {}) {
  const skip = mosquittoMissing();
  if (skip) console.log(`# skipped: ${skip}`);
  const live: Host[] = [];
  const stop = async (): Promise<void> => {
    for (const h of live.splice(0)) await stopFleet(h);
  };
  if (o.shared) after(stop);
  else afterEach(stop);
  const track = <H extends Host>(h: H): H => (live.push(h), h);
  const timeout = o.timeout ?? 240_000;
  return {
    T: { timeout, skip },
    /** For a test without a broker: it runs where mosquitto is missing too. */
    NB: { timeout },
    start: async (): Promise<Fleet> => track(await startFleet()),
    /** No broker: the release host alone (boards that follow rollout.json). */
    startHost: async (): Promise<Host> => track(await startHost()),
  };
}

/** 1.0.0 on the host beside 1.1.0 (latest again), signed with `keys` (the release key unless told). */
export async function publishPrevious(h: Host, keys: fx.Keys = h.keys): Promise<void> {
  const r100 = await fx.makeRelease('1.0.0', fx.APP_1_0_0);
  h.dirs.push(r100.dir);
  fx.publishStatic(h.host, r100, { sign: { keys, alg: 'hmac-sha256', keyId: keyId(keys.hmac) } });
  fx.publishStatic(h.host, h.rel, { sign: { keys: h.keys, alg: 'hmac-sha256', keyId: h.key.id } });
}

/** A rollout document signed with the release key (the bytes boards verify), dated now unless told. */
export function signedRollout(h: Host, doc: Partial<RolloutDoc> & { version: string }): Promise<Buffer> {
  return signDocument(
    { fleet: FLEET, percent: 0, groups: [], devices: [], paused: false, ts: Date.now(), ...doc },
    h.key,
  );
}

/** A board on 1.0.0 without a broker, following the rollout.json its release host publishes. */
export function rolloutBoard(h: Host, id: string, config: Record<string, unknown> = {}): string {
  const fsDir = fx.makeBoard(
    { source: 'static', url: h.srv.url, keys: h.trusted, rollout: true, id, ...config },
    fx.APP_1_0_0,
    '1.0.0',
  );
  h.dirs.push(fsDir);
  return fsDir;
}

export async function hostConn(f: Fleet): Promise<FleetConnection> {
  const c = await connectFleet({
    url: f.m.tlsUrl,
    fleet: FLEET,
    user: f.m.user,
    password: f.m.password,
    ca: f.m.caPem,
  });
  f.conns.push(c);
  await c.sync();
  return c;
}

/** A host connection and a rollout controller on it, signing with the release key. */
export async function control(
  f: Fleet,
  opts?: ConstructorParameters<typeof RolloutController>[2],
): Promise<{ conn: FleetConnection; ctl: RolloutController }> {
  const conn = await hostConn(f);
  return { conn, ctl: new RolloutController(conn, f.key, opts) };
}

/** Whether the release host publishes a version (a rollout of nothing is refused). */
export const published =
  (h: Host) =>
  (v: string): Promise<boolean> =>
    releaseExists({ url: h.srv.url }, v);

export interface BoardOpts {
  group?: string;
  fleet?: Record<string, unknown>;
  config?: Record<string, unknown>;
  app?: fx.AppFiles;
}

/** A board on 1.0.0 reporting to the fleet over mqtts with the test CA on its flash. */
export function makeFleetBoard(f: Fleet, id: string, o: BoardOpts = {}): string {
  const fsDir = fx.makeBoard(
    {
      source: 'static',
      url: f.srv.url,
      keys: f.trusted,
      confirm_boots: 9,
      fleet: {
        broker: f.m.tlsUrl,
        name: FLEET,
        id,
        group: o.group ?? 'north',
        user: f.m.user,
        password: f.m.password,
        tls: { ca: 'ca.pem' },
        timeout: 3,
        ...o.fleet,
      },
      ...o.config,
    },
    o.app ?? fx.APP_1_0_0,
    '1.0.0',
  );
  writeFileSync(join(fsDir, 'ca.pem'), f.m.caPem);
  f.dirs.push(fsDir);
  return fsDir;
}

/** One check on the board, as an app calls it. */
export function check(fsDir: string, extra = ''): ReturnType<typeof fx.runBoard> {
  return fx.runBoard({ fsDir, timeoutMs: 120_000, code: `import ota\nota.update()\n${extra}` });
}

/** Whether the board said event `ev` (start, held, rollback, confirm, …). */
export function saw(output: string, ev: string): boolean {
  return fx.eventsOf(output).some((e) => e.ev === ev);
}

/** The board's `fleet` events (what its session said). */
export function fleetEvents(output: string): { code: string; ok: boolean; msg?: string }[] {
  return fx
    .eventsOf(output)
    .filter((e) => e.ev === 'fleet')
    .map((e) => ({ code: String(e.code), ok: e.ok === true, msg: e.msg as string | undefined }));
}

export function versionOf(fsDir: string): string {
  return (JSON.parse(readFileSync(join(fsDir, 'version.json'), 'utf8')) as { version: string }).version;
}

/** Runs fn over items, `n` at a time (virtual boards are CPU-heavy; the machine has few cores). */
export async function pool<T, R>(items: T[], n: number, fn: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]);
      }
    }),
  );
  return out;
}

/** Waits until cond() holds (messages cross the broker asynchronously). */
export async function until(cond: () => boolean, what: string, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

// A fleet for tests: real mosquitto (TLS + password), a signed 1.1.0 on a real static host, boards with
// the real updater on the virtual board, and the host's own fleet connection and rollout controller.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { keyId, type KeyFile, type TrustEntry } from '../../src/core/keys';
import { connectFleet, type FleetConnection } from '../../src/core/fleet/connection';
import * as fx from './release-fixture';
import { disposeMosquitto, startMosquitto, type Mosquitto } from './mosquitto';

export const FLEET = 'greenhouse';

export interface Fleet {
  m: Mosquitto;
  keys: fx.Keys;
  /** The release key as `ota keygen` writes it (host side). */
  key: KeyFile;
  /** The same key as a board's config "keys" entry. */
  trusted: TrustEntry[];
  rel: fx.Release;
  host: string;
  srv: fx.StaticServer;
  dirs: string[];
  conns: FleetConnection[];
}

export async function startFleet(): Promise<Fleet> {
  const m = await startMosquitto();
  const keys = fx.makeKeys();
  const rel = await fx.makeRelease('1.1.0', fx.APP_1_1_0, { keep: ['settings.json'], delete: ['old.py'] });
  const host = fx.tempDir('host');
  const kid = keyId(keys.hmac);
  fx.publishStatic(host, rel, { sign: { keys, alg: 'hmac-sha256', keyId: kid } });
  const srv = await fx.serveFolder(host);
  const key: KeyFile = { alg: 'hmac-sha256', id: kid, secret: keys.hmac.toString('base64') };
  const trusted: TrustEntry[] = [{ alg: 'hmac-sha256', id: kid, key: keys.hmac.toString('base64') }];
  return { m, keys, key, trusted, rel, host, srv, dirs: [rel.dir, host], conns: [] };
}

export async function stopFleet(f: Fleet | undefined): Promise<void> {
  if (!f) return;
  for (const c of f.conns) await c.close().catch(() => undefined);
  await f.srv.close();
  await disposeMosquitto(f.m);
  fx.cleanup(...f.dirs);
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
  return fx.runBoard({ fsDir, code: `import ota\nota.update()\n${extra}` });
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
export async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

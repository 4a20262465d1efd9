/**
 * `ota demo --fleet`: a staged rollout on this machine, no network, no account. An embedded MQTT broker
 * (aedes, in this process), a static release host, six virtual boards running the real updater and
 * reporting to the broker, and the real rollout controller: 1.1.0 goes to 34% of the boards, then to
 * 100%; on one board the new release fails its health check and rolls itself back, and the controller
 * counts it.
 *
 *   startEmbeddedBroker() -> Promise<{ url, close() }>      // aedes on 127.0.0.1, any free port
 *   startFleetDemo({ deviceDir, boards? }) -> Promise<FleetDemo> // the parts, for the code-server e2e
 *   runFleetDemo({ deviceDir, workDir?, keep?, log? }) -> Promise<FleetDemoSummary>
 */
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OtaError } from '../core/errors';
import { deviceTrustEntry, generateKey, type KeyFile } from '../core/keys';
import { connectFleet } from '../core/fleet/connection';
import type { FleetBoard } from '../core/fleet/model';
import { inRollout } from '../core/fleet/protocol';
import { releaseExists } from '../core/fleet/release';
import { RolloutController, type RolloutProgress } from '../core/fleet/rollout';
import { publishFolder } from '../core/publish/folder';
import { serveFolder } from '../core/publish/serve';
import { runBoard } from '../sim/board';

export async function startEmbeddedBroker(): Promise<{ url: string; close(): Promise<void> }> {
  const { Aedes } = await import('aedes');
  const broker = await Aedes.createBroker();
  const server: Server = createServer((s) => broker.handle(s));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    close: async () => {
      server.close();
      await new Promise<void>((resolve) => broker.close(() => resolve()));
    },
  };
}

export interface FleetDemoSummary {
  boards: {
    id: string;
    group: string;
    version: string;
    state: string;
    result: string;
    error?: string;
    bad?: string;
  }[];
  steps: { percent: number; updated: string[]; held: string[] }[];
  rollout: RolloutProgress & { status: string };
  failedBoard: string;
  seconds: number;
  workDir: string;
}

const FLEET = 'greenhouse';
const IDS = ['station-1', 'station-2', 'station-3', 'station-4', 'station-5', 'station-6'];
const HEAP_KB = 160;

const MAIN_100 = `import json, ota
with open("board.json") as f:
    t = json.load(f)["sensor_c"]
print("greenhouse 1.0.0: %.1f C" % t)
ota.confirm()
`;

// 1.1.0 checks its sensor before trusting the release: a reading outside the sensor's range means the
// new driver does not work on this board, so it hands the board back to 1.0.0.
const MAIN_110 = `import json, ota
with open("board.json") as f:
    t = json.load(f)["sensor_c"]
if -40 <= t <= 85:
    print("greenhouse 1.1.0: %.1f C, healthy" % t)
    ota.confirm()
else:
    print("greenhouse 1.1.0: health check failed (sensor says %.1f C): rolling back" % t)
    ota.rollback()
`;

/** The demo's parts, running: what `ota demo --fleet` drives, and what the code-server e2e shows. */
export interface FleetDemo {
  /** mqtt://127.0.0.1:<port> (aedes in this process). */
  broker: string;
  fleet: string;
  /** The static release host (1.0.0 published, signed). */
  host: string;
  /** The release key's file (`ota keygen` format) that signs releases, rollouts and commands. */
  keyFile: string;
  key: KeyFile;
  ids: string[];
  /** The board whose sensor 1.1.0 will not accept. */
  failing: string;
  work: string;
  /** Publishes 1.1.0, whose health check fails on `failing`. */
  publish110(): Promise<void>;
  /** One `ota.update()` on every board, or on `only` (three at a time); the output of each. */
  checkAll(only?: string[]): Promise<Map<string, string>>;
  close(): Promise<void>;
}

/** Starts the broker, the release host with 1.0.0 and `boards` virtual boards on it (not yet reporting). */
export async function startFleetDemo(opts: {
  deviceDir: string;
  workDir?: string;
  keep?: boolean;
  boards?: number;
  log?: (line: string) => void;
}): Promise<FleetDemo> {
  const log = opts.log ?? (() => undefined);
  const work = opts.workDir ?? (await mkdtemp(join(tmpdir(), 'ota-fleet-demo-')));
  const ids = IDS.slice(0, opts.boards ?? IDS.length);
  const cleanups: (() => Promise<unknown>)[] = [];
  const close = async (): Promise<void> => {
    for (const c of cleanups) await c().catch(() => undefined);
    if (!opts.keep && !opts.workDir) await rm(work, { recursive: true, force: true });
  };
  try {
    const app = join(work, 'app');
    const host = join(work, 'host');
    await mkdir(app, { recursive: true });
    await mkdir(host, { recursive: true });
    // RSA: one pow() on the board, fast on every port.
    const keyFile = join(work, 'release-key.json');
    const { keyFile: key } = await generateKey('rsa-sha256', { path: keyFile });
    const trust = await deviceTrustEntry(key);

    const broker = await startEmbeddedBroker();
    cleanups.push(() => broker.close());
    log(`embedded MQTT broker (aedes) at ${broker.url}`);
    const server = await serveFolder(host, { port: 0 });
    cleanups.push(() => server.close());
    const created = new Date();
    const publish = async (version: string, main: string): Promise<void> => {
      await writeFile(join(app, 'main.py'), main);
      await publishFolder({
        dir: app,
        version,
        outDir: host,
        signKeyFile: keyFile,
        build: { name: FLEET, created },
      });
      log(`published ${FLEET} ${version} (signed) on ${server.url}`);
    };
    await publish('1.0.0', MAIN_100);

    // The board whose sensor 1.1.0 will not accept: outside the first 34%, inside the 100%.
    const doc = { version: '1.1.0', groups: [], devices: [] };
    const failing = ids.find((id) => !inRollout(id, null, { ...doc, percent: 34 }))!;
    const boards = new Map<string, string>();
    for (const [i, id] of ids.entries()) {
      const fsDir = join(work, 'boards', id);
      await mkdir(fsDir, { recursive: true });
      await cp(join(opts.deviceDir, 'ota'), join(fsDir, 'ota'), { recursive: true });
      await cp(join(host, '1.0.0', 'main.py'), join(fsDir, 'main.py'));
      await writeFile(join(fsDir, 'boot.py'), 'import ota\nota.boot()\n');
      await writeFile(join(fsDir, 'version.json'), JSON.stringify({ version: '1.0.0' }));
      await writeFile(
        join(fsDir, 'board.json'),
        JSON.stringify({ sensor_c: id === failing ? 999.0 : 20 + i }),
      );
      const group = i % 2 ? 'south' : 'north';
      await writeFile(
        join(fsDir, 'ota_config.json'),
        JSON.stringify({
          source: 'static',
          url: server.url,
          keys: [trust],
          confirm_boots: 3,
          fleet: { broker: broker.url, name: FLEET, id, group, timeout: 5 },
        }),
      );
      boards.set(id, fsDir);
    }
    log(
      `${ids.length} virtual boards on 1.0.0 (the updater, the app, ota_config.json with a "fleet" section)`,
    );

    const checkAll = async (only = ids): Promise<Map<string, string>> => {
      const out = new Map<string, string>();
      const queue = [...only];
      await Promise.all(
        [0, 1, 2].map(async () => {
          for (let id = queue.shift(); id; id = queue.shift()) {
            const r = await runBoard({
              fsDir: boards.get(id)!,
              heapKb: HEAP_KB,
              code: 'import ota\nota.update()\n',
            });
            out.set(id, r.output);
          }
        }),
      );
      return out;
    };
    return {
      broker: broker.url,
      fleet: FLEET,
      host: server.url,
      keyFile,
      key,
      ids,
      failing,
      work,
      publish110: () => publish('1.1.0', MAIN_110),
      checkAll,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

export async function runFleetDemo(opts: {
  deviceDir: string;
  workDir?: string;
  keep?: boolean;
  log?: (line: string) => void;
}): Promise<FleetDemoSummary> {
  const t0 = performance.now();
  const log = opts.log ?? (() => undefined);
  const demo = await startFleetDemo(opts);
  const cleanups: (() => Promise<unknown>)[] = [() => demo.close()];
  try {
    const conn = await connectFleet({ url: demo.broker, fleet: FLEET });
    cleanups.unshift(() => conn.close());
    const ctl = new RolloutController(conn, demo.key);
    const failing = demo.failing;
    const checkAll = async (): Promise<Map<string, string>> => {
      const out = await demo.checkAll();
      await conn.sync();
      return out;
    };
    const lines = (out: string): string[] =>
      out
        .split(/\r?\n/)
        .filter((l) => l.startsWith('greenhouse '))
        .map((l) => l.trim());

    await checkAll();
    log(
      `fleet: ${conn.model.size} boards reporting, all on ${Object.keys(conn.model.summary().versions).join(', ')}`,
    );

    await demo.publish110();
    const steps: FleetDemoSummary['steps'] = [];
    for (const percent of [34, 100]) {
      await ctl.start({ version: '1.1.0', percent, soakMs: 0, maxFailures: { count: 1 } }, (v) =>
        releaseExists({ url: demo.host }, v),
      );
      log(`rollout 1.1.0 at ${percent}% (signed, retained on the broker)`);
      const before = new Map(conn.model.boards.map((b) => [b.id, b.app]));
      const out = await checkAll();
      const updated = demo.ids.filter(
        (id) => before.get(id) !== '1.1.0' && out.get(id)?.includes('"ev": "done"'),
      );
      for (const id of updated)
        log(
          `  ${id}: ${lines(out.get(id) ?? '')
            .filter((l) => l.includes('1.1.0'))
            .join(' | ')}`,
        );
      await checkAll(); // every board reports what its app did after the reset
      const held = demo.ids.filter((id) => out.get(id)?.includes('"ev": "held"'));
      steps.push({ percent, updated, held });
      const line = await ctl.tick();
      const p = ctl.progress();
      log(
        `  ${percent}%: ${updated.length} installed it (${updated.join(', ') || '-'}), ${held.length} held back; ` +
          `rollout ${p.updated} updated / ${p.failed} failed / ${p.pending} pending` +
          (line ? ` — ${line}` : ''),
      );
    }
    const p = ctl.progress();
    const row = (b: FleetBoard): FleetDemoSummary['boards'][number] => ({
      id: b.id,
      group: b.group ?? '-',
      version: b.app ?? '?',
      state: b.state ?? '?',
      result: b.result ?? '?',
      ...(b.error ? { error: b.error } : {}),
      ...(b.bad ? { bad: b.bad } : {}),
    });
    const summary: FleetDemoSummary = {
      boards: conn.model.boards.map(row).sort((a, b) => (a.id < b.id ? -1 : 1)),
      steps,
      rollout: { ...p, status: ctl.state?.status ?? 'none' },
      failedBoard: failing,
      seconds: Math.round((performance.now() - t0) / 100) / 10,
      workDir: demo.work,
    };
    if (!summary.boards.some((b) => b.id === failing && b.version === '1.0.0' && b.bad === '1.1.0')) {
      throw new OtaError(
        'demo_fleet',
        `${failing} should have rolled 1.1.0 back: ${JSON.stringify(summary.boards)}`,
      );
    }
    return summary;
  } finally {
    for (const c of cleanups) await c().catch(() => undefined);
  }
}

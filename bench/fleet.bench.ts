// `npm run bench fleet`, against Debian's mosquitto on 127.0.0.1 (its file-descriptor limit raised):
// 1. scale: 10 000 light protocol-level boards (bench/fleet-swarm.ts, another process): time until the
//    host's fleet model holds them all, host RSS per 1 000 boards (against the RSS before), messages per
//    second the model sustains (against a bare mqtt.js client in the same run), the time for a rollout
//    decision to reach every board (against one message's round trip), and one controller tick;
// 2. bytes on the air for a check-in with nothing new, a real virtual board through a counting proxy;
// 3. board RAM: the updater's peak with fleet reporting against the same update without it.
import { spawn } from 'node:child_process';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { connectFleet } from '../src/core/fleet/connection';
import { RolloutController } from '../src/core/fleet/rollout';
import { fleetChildren } from '../src/core/fleet/view';
import { keyId, type KeyFile } from '../src/core/keys';
import * as fx from '../test/support/release-fixture';
import { UPDATE_PATH, updateHeap } from './board-heap';
import {
  mosquittoMissing,
  startMosquitto,
  disposeMosquitto,
  type Mosquitto,
} from '../test/support/mosquitto';

const BOARDS = Number(process.env.FLEET_BENCH_BOARDS ?? 10_000);
const FLEET = 'bench';
const EVENTS_PER_BOARD = 10;

const mb = (n: number): string => `${(n / 1024 / 1024).toFixed(1)} MB`;

function lines(
  child: ReturnType<typeof spawn>,
): (pred: (o: Record<string, number>) => boolean) => Promise<Record<string, number>> {
  const seen: Record<string, number>[] = [];
  const waiters: [(o: Record<string, number>) => boolean, (o: Record<string, number>) => void][] = [];
  let buf = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (d: string) => {
    buf += d;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const o = JSON.parse(buf.slice(0, nl)) as Record<string, number>;
      buf = buf.slice(nl + 1);
      if ('error' in o) throw new Error(`swarm: ${String(o.error)}`);
      seen.push(o);
      for (const w of [...waiters]) {
        if (!w[0](o)) continue;
        waiters.splice(waiters.indexOf(w), 1);
        w[1](o);
      }
    }
  });
  return (pred) =>
    new Promise((resolve) => {
      const hit = seen.find(pred);
      if (hit) resolve(hit);
      else waiters.push([pred, resolve]);
    });
}

async function until(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function scale(m: Mosquitto): Promise<void> {
  const secret = Buffer.alloc(32, 3);
  const key: KeyFile = { alg: 'hmac-sha256', id: keyId(secret), secret: secret.toString('base64') };
  global.gc?.();
  const rss0 = process.memoryUsage().rss;
  const conn = await connectFleet({ url: m.url, fleet: FLEET, user: m.user, password: m.password });
  let received = 0;
  conn.client.on('message', () => received++);
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(__dirname, 'fleet-swarm.ts'),
      '127.0.0.1',
      String(m.port),
      m.user,
      m.password,
      FLEET,
      String(BOARDS),
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const next = lines(child);
  try {
    const t0 = Date.now();
    const c = await next((o) => 'connected' in o);
    await until(() => conn.model.size >= BOARDS, 60_000);
    const visible = Date.now();
    console.log(
      `${BOARDS} boards connected (CONNECT, SUBSCRIBE, retained status) in ${((c.connected - t0) / 1000).toFixed(1)} s; ` +
        `the model held all ${conn.model.size} ${visible - c.connected} ms after the last connected`,
    );
    // The Fleet view's first render: the versions, the first version's groups, the first group's boards.
    const tv = performance.now();
    const versions = fleetChildren(conn.model);
    const biggest = versions.reduce((a, b) =>
      a.kind === 'version' && b.kind === 'version' && b.count > a.count ? b : a,
    );
    const groups = fleetChildren(conn.model, biggest);
    const first = fleetChildren(conn.model, groups[0]);
    const renderMs = performance.now() - tv;
    const tf = performance.now();
    fleetChildren(conn.model, undefined, 'sim0042');
    console.log(
      `Fleet view first render over ${conn.model.size} boards: ${renderMs.toFixed(1)} ms ` +
        `(${versions.length} versions, ${groups.length} groups, ${first.length} nodes under the first); ` +
        `a filter ${(performance.now() - tf).toFixed(1)} ms; goal < 200 ms`,
    );
    global.gc?.();
    const rss = process.memoryUsage().rss;
    console.log(
      `host RSS ${mb(rss)} (before connecting ${mb(rss0)}): ${mb(((rss - rss0) * 1000) / BOARDS)} per 1 000 boards`,
    );

    // Baseline: a bare mqtt.js client counting the same burst, without the model.
    const bare = await mqtt.connectAsync(m.url, {
      username: m.user,
      password: m.password,
      protocolVersion: 4,
    });
    let bareN = 0;
    let bareLast = 0;
    bare.on('message', () => {
      bareN++;
      bareLast = Date.now();
    });
    await bare.subscribeAsync(`ota/${FLEET}/devices/+/events`);
    conn.client.unsubscribe(conn.t.all);
    await new Promise((r) => setTimeout(r, 200));
    const total = BOARDS * EVENTS_PER_BOARD;
    child.stdin!.write(`events ${EVENTS_PER_BOARD}\n`);
    const s1 = await next((o) => 'sent' in o);
    await until(() => bareN >= total * 0.99, 120_000).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 300));
    const bareRate = bareN / ((bareLast - s1.at) / 1000);
    await bare.endAsync();

    await conn.client.subscribeAsync(conn.t.all, { qos: 1 });
    await conn.sync();
    let modelN = 0;
    let modelLast = 0;
    conn.model.on('event', () => {
      modelN++;
      modelLast = Date.now();
    });
    child.stdin!.write(`events ${EVENTS_PER_BOARD}\n`);
    const s2 = await next((o) => 'sent' in o && o.at !== s1.at);
    await until(() => modelN >= total * 0.99, 120_000).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 300));
    const modelRate = modelN / ((modelLast - s2.at) / 1000);
    console.log(
      `events into the fleet model: ${Math.round(modelRate)} messages/s (${modelN} of ${total}); ` +
        `bare mqtt.js client ${Math.round(bareRate)} messages/s (${bareN}): ${(modelRate / bareRate).toFixed(2)}x`,
    );

    // One message's round trip to one board, then the rollout decision to all of them.
    const tRtt = Date.now();
    await conn.sync();
    const rtt = Date.now() - tRtt;
    const ctl = new RolloutController(conn, key);
    const tRoll = Date.now();
    await ctl.start({ version: '1.1.0', percent: 10, soakMs: 3_600_000 }, async () => true);
    const r = await next((o) => 'rollout' in o);
    console.log(
      `rollout decision reached all ${BOARDS} boards in ${r.rollout - tRoll} ms (first after ${r.first - tRoll} ms); ` +
        `one message's round trip ${rtt} ms: ${((r.rollout - tRoll) / Math.max(1, rtt)).toFixed(1)}x`,
    );
    const tt = performance.now();
    await ctl.tick();
    const p = ctl.progress();
    console.log(
      `controller tick over ${conn.model.size} boards: ${(performance.now() - tt).toFixed(1)} ms (targeted ${p.targeted}, ~10%)`,
    );
    void received;
  } finally {
    child.stdin!.write('quit\n');
    await new Promise((r) => child.once('exit', r));
    await conn.close();
  }
}

/** A TCP proxy in front of the broker that counts the bytes each way. */
async function countingProxy(
  port: number,
): Promise<{ port: number; up: number; down: number; reset(): void; close(): Promise<void> }> {
  const socks: Socket[] = [];
  const st = { up: 0, down: 0 };
  const srv: Server = createServer((c) => {
    const b = connect({ host: '127.0.0.1', port });
    socks.push(c, b);
    c.on('data', (d) => ((st.up += d.length), b.write(d)));
    b.on('data', (d) => ((st.down += d.length), c.write(d)));
    c.on('close', () => b.destroy());
    b.on('close', () => c.destroy());
    c.on('error', () => b.destroy());
    b.on('error', () => c.destroy());
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    port: (srv.address() as { port: number }).port,
    get up() {
      return st.up;
    },
    get down() {
      return st.down;
    },
    reset() {
      st.up = st.down = 0;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of socks) s.destroy();
        srv.close(() => r());
      }),
  };
}

/** The signed static update's modules: the idle baseline with and without the fleet. */
const CORE = [...UPDATE_PATH, 'ota.sig'];

async function board(m: Mosquitto): Promise<void> {
  const keys = fx.makeKeys();
  const kid = keyId(keys.hmac);
  const rel = await fx.makeRelease('1.1.0', fx.APP_1_1_0, { keep: ['settings.json'], delete: ['old.py'] });
  const host = fx.tempDir('bench-host');
  fx.publishStatic(host, rel, { sign: { keys, alg: 'hmac-sha256', keyId: kid } });
  const srv = await fx.serveFolder(host);
  const proxy = await countingProxy(m.port);
  const trust = [{ alg: 'hmac-sha256', id: kid, key: keys.hmac.toString('base64') }];
  const fleet = {
    broker: `mqtt://127.0.0.1:${proxy.port}`,
    name: FLEET,
    id: 'ram1',
    user: m.user,
    password: m.password,
    plain_password: true,
  };
  const dirs: string[] = [host, rel.dir];
  const peak = async (cfg: Record<string, unknown>): Promise<{ all: number; raw: number }> => {
    const fsDir = fx.makeBoard(
      { source: 'static', url: srv.url, keys: trust, ...cfg },
      fx.APP_1_0_0,
      '1.0.0',
    );
    dirs.push(fsDir);
    return updateHeap({ fsDir, modules: CORE });
  };
  try {
    const base = await peak({});
    const withFleet = await peak({ fleet });
    const kb = (n: number): string => `${(n / 1024).toFixed(1)} KB`;
    console.log(
      `board heap, signed static update: live peak ${kb(base.all)} without fleet, ${kb(withFleet.all)} with it ` +
        `(+${kb(withFleet.all - base.all)}); needed (live + garbage) ${kb(base.raw)} vs ${kb(withFleet.raw)} (+${kb(withFleet.raw - base.raw)}); goal +6 KB`,
    );

    // A check-in with nothing new: the board is on 1.1.0 and confirmed, its session already exists.
    const fsDir = fx.makeBoard({ source: 'static', url: srv.url, keys: trust, fleet }, fx.APP_1_0_0, '1.0.0');
    dirs.push(fsDir);
    await fx.runBoard({ fsDir, code: 'import ota\nota.update()\n' });
    await fx.runBoard({ fsDir, code: 'import ota\nota.confirm()\nota.update()\n' });
    proxy.reset();
    const http0 = srv.requests.length;
    await fx.runBoard({ fsDir, code: 'import ota\nota.update()\n' });
    await new Promise((r) => setTimeout(r, 200));
    const httpBytes = srv.requests.slice(http0).reduce((n, q) => n + q.bytes, 0);
    console.log(
      `check-in with nothing new: ${proxy.up + proxy.down} bytes over MQTT (${proxy.up} up: CONNECT with will, ` +
        `PINGREQ, retained status, DISCONNECT; ${proxy.down} down), goal < 1024; ` +
        `the release check beside it: ${srv.requests.length - http0} HTTP request(s), ${httpBytes} body bytes`,
    );
  } finally {
    await proxy.close();
    await srv.close();
    fx.cleanup(...dirs);
  }
}

export async function run(): Promise<void> {
  if (process.env.FLEET_BENCH_ONLY === 'board') {
    const m = await startMosquitto();
    try {
      return await board(m);
    } finally {
      await disposeMosquitto(m);
    }
  }
  const missing = mosquittoMissing();
  if (missing) {
    console.log(`skipped: ${missing}`);
    return;
  }
  const m = await startMosquitto({ fdLimit: BOARDS + 1024 });
  try {
    await board(m);
    await scale(m);
  } finally {
    await disposeMosquitto(m);
  }
}

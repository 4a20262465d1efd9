// A hostile fleet account (host-side attack review): anyone with the broker's board password can
// publish retained statuses under as many board ids as it likes. The host keeps at most MAX_BOARDS
// ids per connection (src/core/fleet/model.ts); past that, new ids are ignored with one warning, and
// the boards already known keep reporting and taking commands. Real broker (Debian's mosquitto, as
// the fleet tests run it), real `mqtt` clients, and the built `ota fleet` in its own process.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import mqtt, { type MqttClient } from 'mqtt';
import { connectFleet, type FleetConnection } from '../src/core/fleet/connection';
import { FleetModel, MAX_BOARDS } from '../src/core/fleet/model';
import { topics } from '../src/core/fleet/protocol';
import { keyId, type KeyFile } from '../src/core/keys';
import { ota } from './support/cli';
import { disposeMosquitto, mosquittoMissing, startMosquitto, type Mosquitto } from './support/mosquitto';

const FLEET = 'f';
const t = topics(FLEET);
const KNOWN = ['k1', 'k2', 'k3'];
const FLOOD = MAX_BOARDS + 5000;

const status = (id: string, extra: Record<string, unknown> = {}) =>
  Buffer.from(JSON.stringify({ id, app: '1.0.0', state: 'idle', checked: 1, ...extra }));

const noBroker = mosquittoMissing();
let broker: Mosquitto | undefined;
let work: string;
const clients: MqttClient[] = [];
const conns: FleetConnection[] = [];

before(() => {
  work = mkdtempSync(join(tmpdir(), 'ota-hostile-broker-'));
});
after(async () => {
  for (const c of conns) await c.close();
  for (const c of clients) await c.endAsync();
  if (broker) await disposeMosquitto(broker);
  rmSync(work, { recursive: true, force: true });
});

async function client(m: Mosquitto): Promise<MqttClient> {
  const c = await mqtt.connectAsync(m.url, {
    protocolVersion: 4,
    reconnectPeriod: 0,
    username: m.user,
    password: m.password,
  });
  clients.push(c);
  return c;
}

test(
  `a broker flooded with ${FLOOD} retained board ids: the host keeps ${MAX_BOARDS}, warns once, and the known boards keep working`,
  { skip: noBroker },
  async () => {
    const m = (broker = await startMosquitto());
    const login = { url: m.url, fleet: FLEET, user: m.user, password: m.password };
    // The real boards report first; the host is watching.
    const boards = await client(m);
    for (const id of KNOWN) await boards.publishAsync(t.status(id), status(id), { qos: 1, retain: true });
    const warnings: string[] = [];
    const host = await connectFleet({ ...login, onWarning: (w) => warnings.push(w) });
    conns.push(host);
    await host.sync();
    assert.equal(host.model.size, KNOWN.length);

    // The flood: a retained status and an event under each of FLOOD new ids (QoS 0, as fast as the
    // broker takes them), then one QoS 1 message: acknowledged only after the broker routed the flood.
    const flooder = await client(m);
    for (let i = 0; i < FLOOD; i++) {
      const id = `x${i}`;
      flooder.publish(t.status(id), JSON.stringify({ id }), { qos: 0, retain: true });
      flooder.publish(t.events(id), '{"ev": "check"}', { qos: 0 });
      if (i % 1000 === 999) await flooder.publishAsync(t.events(id), '{"ev": "check"}', { qos: 1 });
    }
    await flooder.publishAsync(t.events('x0'), '{"ev": "check"}', { qos: 1 });
    await host.sync(60_000);
    assert.equal(host.model.size, MAX_BOARDS);
    assert.equal(warnings.length, 1, 'one warning');
    assert.match(warnings[0], new RegExp(`more than ${MAX_BOARDS} board ids.*ignored`));
    assert.ok(host.model.ignored > 0);

    // The boards already known keep reporting, and a signed command still reaches one.
    await boards.publishAsync(t.status('k2'), status('k2', { app: '1.1.0' }), { qos: 1, retain: true });
    const secret = randomBytes(32);
    const key: KeyFile = { alg: 'hmac-sha256', id: keyId(secret), secret: secret.toString('base64') };
    const got = new Promise<Buffer>((resolve) => boards.on('message', (_t, p) => resolve(p)));
    await boards.subscribeAsync(t.cmd('k1'), { qos: 1 });
    await host.command('k1', 'check', key);
    assert.match((await got).toString(), /"cmd":"check"/);
    await host.sync();
    assert.equal(host.model.get('k2')?.app, '1.1.0');
    assert.equal(warnings.length, 1, 'still one warning');

    // A fresh `ota fleet status` reads the retained flood: the cap, one warning line, the known boards in it.
    const r = await ota(
      ['fleet', 'status', '--json', '--broker', m.url, '--fleet', FLEET, '--user', m.user],
      {
        home: work,
        env: { OTA_FLEET_PASSWORD: m.password },
        timeoutMs: 120_000,
      },
    );
    assert.equal(r.status, 0, r.stderr);
    const warned = r.stderr.split('\n').filter((l) => l.startsWith('warning: '));
    assert.equal(warned.length, 1, r.stderr);
    assert.match(warned[0], new RegExp(`^warning: fleet ${FLEET}: more than ${MAX_BOARDS} board ids`));
    const listed = (JSON.parse(r.stdout) as { boards: { id: string; app?: string }[] }).boards;
    assert.equal(listed.length, MAX_BOARDS);
    assert.deepEqual(
      KNOWN.map((id) => listed.find((b) => b.id === id)?.app),
      ['1.0.0', '1.1.0', '1.0.0'],
    );
  },
);

test('memory: ids past the cap cost nothing kept, and a board keeps at most 8 KB of events', () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const heap = () => {
    gc();
    return process.memoryUsage().heapUsed;
  };
  const m = new FleetModel(FLEET);
  const h0 = heap();
  for (let i = 0; i < MAX_BOARDS; i++) m.handle(t.status(`b${i}`), status(`b${i}`, { msg: 'm'.repeat(200) }));
  const h1 = heap();
  // Twice as many ids again, with statuses and events near the largest a message may carry.
  const big = 'm'.repeat(7000);
  const event = Buffer.from(JSON.stringify({ ev: 'error', msg: big }));
  for (let i = 0; i < 2 * MAX_BOARDS; i++) {
    m.handle(t.status(`y${i}`), status(`y${i}`, { msg: big }));
    m.handle(t.events(`y${i}`), event);
  }
  const h2 = heap();
  assert.equal(m.size, MAX_BOARDS);
  const full = h1 - h0;
  const flood = h2 - h1;
  console.log(
    `# ${MAX_BOARDS} boards: ${(full / 1024 / 1024).toFixed(1)} MB heap; ${2 * MAX_BOARDS} more ids: ${(flood / 1024).toFixed(0)} KB`,
  );
  assert.ok(flood < full / 20, `the flood kept ${flood} bytes against ${full} for the boards`);

  // One board's events: a flood of large ones keeps the newest within 8 KB.
  for (let i = 0; i < 100; i++)
    m.handle(t.events('b0'), Buffer.from(JSON.stringify({ ev: 'error', n: i, msg: big })));
  const kept = m.get('b0')!.events;
  assert.equal(kept.length, 1);
  assert.equal(kept[0].n, 99);
  for (let i = 0; i < 100; i++) m.handle(t.events('b1'), Buffer.from(`{"ev": "check", "n": ${i}}`));
  assert.equal(m.get('b1')!.events.length, 20, 'small events: the twenty newest');
});

// An abort's way back, attacked: it moves only a board whose release is still the one the rollout installed
// (not one put on that version by hand, nor one with a record of another shape), and a way back that cannot
// be taken (the previous release signed by a key the board no longer trusts) is said once, not retried at
// every check; an abort from a host whose clock is behind the rollout's still acts. Real mosquitto, the real static host and boards running the real updater.
import { afterEach, mock, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as fx from './support/release-fixture';
import { mosquittoMissing } from './support/mosquitto';
import {
  check,
  fleetEvents,
  hostConn,
  makeFleetBoard,
  startFleet,
  stopFleet,
  versionOf,
  type Fleet,
} from './support/fleet-fixture';
import { RolloutController } from '../src/core/fleet/rollout';
import { releaseExists } from '../src/core/fleet/release';
import { keyId } from '../src/core/keys';
import { signDocument } from '../src/core/fleet/signed';
import { FLEET } from './support/fleet-fixture';

const skip = mosquittoMissing();
if (skip) console.log(`# skipped: ${skip}`);
const T = { timeout: 240_000, skip };
let f: Fleet | undefined;
afterEach(async () => {
  await stopFleet(f);
  f = undefined;
});

const started = (out: string): boolean => fx.eventsOf(out).some((e) => e.ev === 'start');
const errors = (out: string) => fx.eventsOf(out).filter((e) => e.ev === 'error');

/** 1.0.0 on the host beside 1.1.0 (latest), signed with `keys` (the board's own key unless told). */
async function publish100(fl: Fleet, keys: fx.Keys = fl.keys): Promise<void> {
  const r100 = await fx.makeRelease('1.0.0', fx.APP_1_0_0);
  fl.dirs.push(r100.dir);
  fx.publishStatic(fl.host, r100, { sign: { keys, alg: 'hmac-sha256', keyId: keyId(keys.hmac) } });
  fx.publishStatic(fl.host, fl.rel, { sign: { keys: fl.keys, alg: 'hmac-sha256', keyId: fl.key.id } });
}

test(
  'an abort leaves alone a board put on the version by hand after the rollout failed to install it',
  T,
  async () => {
    f = await startFleet();
    const fl = f;
    await publish100(fl);
    const conn = await hostConn(fl);
    const ctl = new RolloutController(conn, fl.key);
    const b = makeFleetBoard(fl, 'h1');
    // The rollout picks the board, but its install fails (1.1.0's manifest missing for a moment).
    const m = join(fl.host, '1.1.0', 'manifest.json');
    await ctl.start({ version: '1.1.0', devices: ['h1'], percent: 0 }, (v) =>
      releaseExists({ url: fl.srv.url }, v),
    );
    renameSync(m, `${m}.away`);
    const r1 = await check(b);
    renameSync(`${m}.away`, m);
    assert.equal(versionOf(b), '1.0.0', r1.output);
    assert.ok(!started(r1.output), r1.output);
    // Its owner installs 1.1.0 by hand.
    fx.writeTree(b, fx.APP_1_1_0);
    writeFileSync(join(b, 'version.json'), JSON.stringify({ version: '1.1.0' }));
    const app110 = fx.hashTree(b, [...fx.NOT_APP, 'ca.pem']);
    await ctl.abort();
    const r2 = await check(b);
    assert.equal(versionOf(b), '1.1.0', r2.output);
    assert.ok(!started(r2.output), r2.output);
    assert.deepEqual(fx.hashTree(b, [...fx.NOT_APP, 'ca.pem']), app110);
  },
);

test(
  'a way back signed by a key no longer trusted, or gone from the host, is refused once, clearly; a tampered record is ignored',
  T,
  async () => {
    f = await startFleet();
    const fl = f;
    await publish100(fl, fx.makeKeys()); // 1.0.0 signed by a retired key
    const conn = await hostConn(fl);
    const ctl = new RolloutController(conn, fl.key);
    const ids = ['g1', 'g2'];
    const boards = ids.map((id) => makeFleetBoard(fl, id));
    await ctl.start({ version: '1.1.0', devices: ids, percent: 0 }, (v) =>
      releaseExists({ url: fl.srv.url }, v),
    );
    for (const b of boards) {
      const r = await check(b);
      assert.equal(versionOf(b), '1.1.0', r.output);
      const c = await fx.runBoard({ fsDir: b, code: 'import ota\nprint("confirmed", ota.confirm())\n' });
      assert.match(c.output, /confirmed True/);
    }
    const [g1, g2] = boards;
    const app110 = fx.hashTree(g1, [...fx.NOT_APP, 'ca.pem']);
    await ctl.abort();

    const r1 = await check(g1);
    assert.equal(versionOf(g1), '1.1.0', r1.output);
    assert.deepEqual(fx.hashTree(g1, [...fx.NOT_APP, 'ca.pem']), app110);
    assert.ok(
      errors(r1.output).some((e) => e.code === 'bad_signature'),
      r1.output,
    );
    assert.ok(
      fleetEvents(r1.output).some(
        (e) => e.code === 'revert' && !e.ok && /1\.0\.0.*bad_signature/.test(e.msg ?? ''),
      ),
      r1.output,
    );
    // Not retried at every check: the board stays on its release and checks as usual.
    const r2 = await check(g1);
    assert.equal(versionOf(g1), '1.1.0', r2.output);
    assert.deepEqual(errors(r2.output), [], r2.output);
    assert.ok(!fleetEvents(r2.output).some((e) => e.code === 'revert'), r2.output);

    // 1.0.0 gone from the host: the same, said once.
    renameSync(join(fl.host, '1.0.0'), join(fl.host, '1.0.0.gone'));
    for (const want of [['http_404'], []]) {
      const r = await check(g2);
      assert.equal(versionOf(g2), '1.1.0', r.output);
      assert.deepEqual(
        errors(r.output).map((e) => e.code),
        want,
        r.output,
      );
      assert.equal(
        fleetEvents(r.output).some((e) => e.code === 'revert' && !e.ok),
        want.length > 0,
        r.output,
      );
    }

    // A record of another shape (tampered) authorises nothing and breaks no check.
    const st = join(g2, '.ota', 'fleet.json');
    const held = JSON.parse(readFileSync(st, 'utf8')) as Record<string, unknown>;
    for (const via of ['x', [1], ['1.1.0', '1.0.0', 0]]) {
      writeFileSync(st, JSON.stringify({ ...held, rts: 1, via }));
      const r = await check(g2);
      assert.equal(versionOf(g2), '1.1.0', r.output);
      assert.deepEqual(errors(r.output), [], r.output);
      assert.ok(!fleetEvents(r.output).some((e) => e.code === 'revert'), r.output);
    }
  },
);

test("an abort from a host whose clock is behind the rollout's still sends the board back", T, async () => {
  f = await startFleet();
  const fl = f;
  const a = await hostConn(fl);
  const ctlA = new RolloutController(a, fl.key);
  const b = makeFleetBoard(fl, 'k1');
  await ctlA.start({ version: '1.1.0', devices: ['k1'], percent: 0 }, (v) =>
    releaseExists({ url: fl.srv.url }, v),
  );
  const r1 = await check(b);
  assert.equal(versionOf(b), '1.1.0', r1.output);
  await a.close();
  fl.conns.splice(fl.conns.indexOf(a), 1);

  // Another machine, its clock ten minutes behind, aborts.
  const real = Date.now.bind(Date);
  const lag = mock.method(Date, 'now', () => real() - 600_000);
  try {
    const c = await hostConn(fl);
    const ctlB = new RolloutController(c, fl.key);
    await c.sync();
    assert.equal(ctlB.state?.version, '1.1.0');
    await ctlB.abort();
  } finally {
    lag.mock.restore();
  }
  const r2 = await check(b);
  assert.equal(versionOf(b), '1.0.0', r2.output);
  assert.ok(
    fx.eventsOf(r2.output).some((e) => e.ev === 'rollback'),
    r2.output,
  );
});

// No broker here: the board's own code saves a rollout document as a message from the broker does.
test('a power cut while a rollout document is saved (FAT) leaves the old document or the new one in force', async () => {
  const keys = fx.makeKeys();
  const kid = keyId(keys.hmac);
  const key = { alg: 'hmac-sha256' as const, id: kid, secret: keys.hmac.toString('base64') };
  const cfg = {
    source: 'static',
    url: 'http://127.0.0.1:9/',
    keys: [{ alg: 'hmac-sha256', id: kid, key: keys.hmac.toString('base64') }],
    fleet: { broker: 'mqtt://127.0.0.1:9', name: FLEET, id: 'p1' },
  };
  // The document in force before: a rollout of 1.0.9; the one saved: an abort of 1.1.0.
  const doc = async (ts: number, version: string, aborted: boolean) =>
    (await signDocument({ fleet: FLEET, version, percent: 100, aborted, ts }, key)).toString('base64');
  const save = async (ts: number, version: string, aborted: boolean) =>
    `import binascii\nfrom ota import fleetdoc\nfleetdoc._save_rollout(binascii.a2b_base64("${await doc(ts, version, aborted)}"), ${ts})\n`;
  // Whether the gate lets 1.1.0 through, and why not.
  const gate =
    'from ota import fleetdoc, updater\nclass R:\n    version = "1.1.0"\nprint("GATE", fleetdoc.allowed(updater.load_config(), R()))\n';
  const fs = { fs: 'fat' as const, sectorSize: 4096, boot: false };
  const dirs: string[] = [];
  const copy = (from: string): string => {
    const d = fx.tempDir('cut');
    dirs.push(d, `${d}.fsmeta.json`);
    cpSync(from, d, { recursive: true });
    return d;
  };
  try {
    const template = fx.makeBoard(cfg, fx.APP_1_0_0, '1.1.0');
    dirs.push(template, `${template}.fsmeta.json`);
    // Two documents saved already, so the next goes into each copy in turn.
    for (const ts of [1000, 2000]) {
      const r = await fx.runBoard({ fsDir: template, ...fs, code: await save(ts, '1.0.9', false) });
      assert.ok(!r.error, r.output + (r.error ?? ''));
    }
    const next = await save(3000, '1.1.0', true);
    const full = await fx.runBoard({ fsDir: copy(template), ...fs, code: next });
    assert.ok(!full.error && !full.powerCut, full.output);
    assert.ok(full.mutations > 1, `${full.mutations} block writes`);
    for (const mode of ['drop', 'tear'] as const) {
      for (let k = 1; k <= full.mutations; k++) {
        const d = copy(template);
        await fx.runBoard({ fsDir: d, ...fs, code: next, cutAfterMutations: k, cutMode: mode });
        const r = await fx.runBoard({ fsDir: d, ...fs, code: gate });
        const at = `${mode} k=${k}/${full.mutations}: ${r.output}`;
        assert.match(r.output, /GATE False/, at);
        const why = fx.eventsOf(r.output).filter((e) => e.ev === 'held');
        assert.equal(why.length, 1, at);
        assert.ok(!why[0].code && /rollout is for 1\.0\.9|rollout paused/.test(String(why[0].msg)), at);
        rmSync(d, { recursive: true, force: true });
      }
    }
  } finally {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
});

// An abort's way back, attacked: it moves only a board whose release is still the one the rollout installed
// (not one put on that version by hand, nor one with a record of another shape), and a way back that cannot
// be taken (the previous release signed by a key the board no longer trusts) is said once, not retried at
// every check; an abort from a host whose clock is behind the rollout's still acts. A board without a
// broker takes the same signed abort from rollout.json (static host, GitHub release asset) the same way.
// Real mosquitto, real static host and GitHub mock, boards running the real updater.
import { mock, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as fx from './support/release-fixture';
import * as ff from './support/fleet-fixture';
import { publishRolloutAsset, writeRolloutFile } from '../src/core/fleet/release';
import { startGitHubMock } from './support/github-mock';
import { keyId } from '../src/core/keys';
import { signDocument } from '../src/core/fleet/signed';

const { T, NB, start, startHost } = ff.fleetTests();

const errors = (out: string) => fx.eventsOf(out).filter((e) => e.ev === 'error');
/**
 * The way back to 1.0.0 fails for a final reason (`code`): the board says so once (the error and a failed
 * `revert` event naming both), stays on 1.1.0, and the next check does not try again.
 */
async function saidOnce(fsDir: string, code: string): Promise<void> {
  for (const want of [[code], []]) {
    const r = await ff.check(fsDir);
    assert.equal(ff.versionOf(fsDir), '1.1.0', r.output);
    assert.deepEqual(
      errors(r.output).map((e) => e.code),
      want,
      r.output,
    );
    const reverts = ff.fleetEvents(r.output).filter((e) => e.code === 'revert');
    const failed = reverts.filter((e) => !e.ok);
    assert.equal(failed.length, want.length, r.output);
    for (const e of failed) assert.match(e.msg ?? '', new RegExp(`1\\.0\\.0.*${code}`), r.output);
    if (!want.length) assert.deepEqual(reverts, [], r.output); // not tried again
  }
}

/** What the board keeps of the rollouts it took (device/ota/fleetdoc.py STATE). */
const fleetState = (fsDir: string) =>
  JSON.parse(readFileSync(join(fsDir, '.ota', 'fleet.json'), 'utf8')) as {
    rts?: number;
    via?: [string, string, number, string];
  };

test(
  'an abort leaves alone a board put on the version by hand after the rollout failed to install it',
  T,
  async () => {
    const fl = await start();
    await ff.publishPrevious(fl);
    const { ctl } = await ff.control(fl);
    const b = ff.makeFleetBoard(fl, 'h1');
    // The rollout picks the board, but its install fails (1.1.0's manifest missing for a moment).
    const m = join(fl.host, '1.1.0', 'manifest.json');
    await ctl.start({ version: '1.1.0', devices: ['h1'], percent: 0 }, ff.published(fl));
    renameSync(m, `${m}.away`);
    const r1 = await ff.check(b);
    renameSync(`${m}.away`, m);
    assert.equal(ff.versionOf(b), '1.0.0', r1.output);
    assert.ok(!ff.saw(r1.output, 'start'), r1.output);
    // Its owner installs 1.1.0 by hand.
    fx.writeTree(b, fx.APP_1_1_0);
    writeFileSync(join(b, 'version.json'), JSON.stringify({ version: '1.1.0' }));
    const app110 = fx.hashTree(b, [...fx.NOT_APP, 'ca.pem']);
    await ctl.abort();
    const r2 = await ff.check(b);
    assert.equal(ff.versionOf(b), '1.1.0', r2.output);
    assert.ok(!ff.saw(r2.output, 'start'), r2.output);
    assert.deepEqual(fx.hashTree(b, [...fx.NOT_APP, 'ca.pem']), app110);
  },
);

test(
  'a way back signed by a key no longer trusted, or gone from the host, is refused once, clearly; a tampered record is ignored',
  T,
  async () => {
    const fl = await start();
    await ff.publishPrevious(fl, fx.makeKeys()); // 1.0.0 signed by a retired key
    const { ctl } = await ff.control(fl);
    const ids = ['g1', 'g2'];
    const boards = ids.map((id) => ff.makeFleetBoard(fl, id));
    await ctl.start({ version: '1.1.0', devices: ids, percent: 0 }, ff.published(fl));
    for (const b of boards) {
      const r = await ff.check(b);
      assert.equal(ff.versionOf(b), '1.1.0', r.output);
      const c = await fx.runBoard({ fsDir: b, code: 'import ota\nprint("confirmed", ota.confirm())\n' });
      assert.match(c.output, /confirmed True/);
    }
    const [g1, g2] = boards;
    const app110 = fx.hashTree(g1, [...fx.NOT_APP, 'ca.pem']);
    await ctl.abort();

    await saidOnce(g1, 'bad_signature');
    assert.deepEqual(fx.hashTree(g1, [...fx.NOT_APP, 'ca.pem']), app110);

    // 1.0.0 gone from the host: the same, said once.
    renameSync(join(fl.host, '1.0.0'), join(fl.host, '1.0.0.gone'));
    await saidOnce(g2, 'http_404');

    // A record of another shape (tampered) authorises nothing and breaks no check.
    const st = join(g2, '.ota', 'fleet.json');
    const held = JSON.parse(readFileSync(st, 'utf8')) as Record<string, unknown>;
    for (const via of ['x', [1], ['1.1.0', '1.0.0', 0]]) {
      writeFileSync(st, JSON.stringify({ ...held, rts: 1, via }));
      const r = await ff.check(g2);
      assert.equal(ff.versionOf(g2), '1.1.0', r.output);
      assert.deepEqual(errors(r.output), [], r.output);
      assert.ok(!ff.fleetEvents(r.output).some((e) => e.code === 'revert'), r.output);
    }
  },
);

test("an abort from a host whose clock is behind the rollout's still sends the board back", T, async () => {
  const fl = await start();
  const { conn: a, ctl: ctlA } = await ff.control(fl);
  const b = ff.makeFleetBoard(fl, 'k1');
  await ctlA.start({ version: '1.1.0', devices: ['k1'], percent: 0 }, ff.published(fl));
  const r1 = await ff.check(b);
  assert.equal(ff.versionOf(b), '1.1.0', r1.output);
  await a.close();
  fl.conns.splice(fl.conns.indexOf(a), 1);

  // Another machine, its clock ten minutes behind, aborts.
  const real = Date.now.bind(Date);
  const lag = mock.method(Date, 'now', () => real() - 600_000);
  try {
    const { conn: c, ctl: ctlB } = await ff.control(fl);
    await c.sync();
    assert.equal(ctlB.state?.version, '1.1.0');
    await ctlB.abort();
  } finally {
    lag.mock.restore();
  }
  const r2 = await ff.check(b);
  assert.equal(ff.versionOf(b), '1.0.0', r2.output);
  assert.ok(ff.saw(r2.output, 'rollback'), r2.output);
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
    fleet: { broker: 'mqtt://127.0.0.1:9', name: ff.FLEET, id: 'p1' },
  };
  // The document in force before: a rollout of 1.0.9; the one saved: an abort of 1.1.0.
  const doc = async (ts: number, version: string, aborted: boolean) =>
    (await signDocument({ fleet: ff.FLEET, version, percent: 100, aborted, ts }, key)).toString('base64');
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

test(
  'without a broker: the signed abort in rollout.json sends boards back as on the broker; forged, replayed and impossible ways back do not',
  NB,
  async () => {
    const h = await startHost();
    await ff.publishPrevious(h);
    const ids = ['s1', 's2', 's3'];
    const rollout = await ff.signedRollout(h, { version: '1.1.0', devices: ids });
    const rolloutTs = JSON.parse(rollout.toString().split('\n')[0]).ts as number;
    await writeRolloutFile(h.host, rollout);
    const boards = ids.map((id) => ff.rolloutBoard(h, id));
    const [pending, confirmed, stuck] = boards;
    for (const b of boards) {
      const r = await ff.check(b);
      assert.equal(ff.versionOf(b), '1.1.0', r.output);
      // The same record as a board on the broker keeps: [version, previous, document ts, version.json sha].
      const sha = createHash('sha256')
        .update(readFileSync(join(b, 'version.json')))
        .digest('hex');
      assert.deepEqual(fleetState(b).via, ['1.1.0', '1.0.0', rolloutTs, sha], r.output);
    }
    for (const b of [confirmed, stuck]) {
      const c = await fx.runBoard({ fsDir: b, code: 'import ota\nprint("confirmed", ota.confirm())\n' });
      assert.match(c.output, /confirmed True/);
    }
    const app110 = fx.hashTree(confirmed, fx.NOT_APP);
    const app100 = fx.hashFiles(fx.APP_1_0_0);

    // An abort not signed by the release key, newer than anything: refused, said, nothing moves.
    const other = { ...h.key, secret: Buffer.alloc(32, 7).toString('base64') };
    const aborted = { fleet: ff.FLEET, version: '1.1.0', percent: 0, groups: [], devices: [], paused: false };
    await writeRolloutFile(h.host, await signDocument({ ...aborted, aborted: true, ts: 9e12 }, other));
    const rf = await ff.check(confirmed);
    assert.equal(ff.versionOf(confirmed), '1.1.0', rf.output);
    assert.deepEqual(fx.hashTree(confirmed, fx.NOT_APP), app110);
    assert.ok(
      fx.eventsOf(rf.output).some((e) => e.ev === 'warning' && e.code === 'bad_signature'),
      rf.output,
    );
    assert.equal(fleetState(confirmed).rts, rolloutTs, 'the forged document was not taken');

    // The signed abort: the pending board rolls back, the confirmed one fetches 1.0.0 with every check.
    const abort = await ff.signedRollout(h, { version: '1.1.0', aborted: true });
    await writeRolloutFile(h.host, abort);
    const rp = await ff.check(pending);
    assert.equal(ff.versionOf(pending), '1.0.0', rp.output);
    assert.ok(ff.saw(rp.output, 'rollback'), rp.output);
    const rc = await ff.check(confirmed);
    assert.equal(ff.versionOf(confirmed), '1.0.0', rc.output);
    assert.ok(
      fx.eventsOf(rc.output).some((e) => e.ev === 'done' && e.version === '1.0.0'),
      rc.output,
    );
    for (const b of [pending, confirmed]) {
      assert.deepEqual(fx.hashTree(b, fx.NOT_APP), app100);
      assert.equal(fleetState(b).via, undefined, 'the record goes once the board is back');
    }
    // The same abort read again does nothing more; the rollout it ended holds 1.1.0 back.
    const again = await ff.check(confirmed);
    assert.ok(!ff.saw(again.output, 'start') && ff.saw(again.output, 'held'), again.output);
    // The rollout document before the abort, served again (a replay or a stale copy): not taken.
    await writeRolloutFile(h.host, rollout);
    const rr = await ff.check(confirmed);
    assert.equal(ff.versionOf(confirmed), '1.0.0', rr.output);
    assert.ok(!ff.saw(rr.output, 'start') && ff.saw(rr.output, 'held'), rr.output);
    assert.equal(fleetState(confirmed).rts, JSON.parse(abort.toString().split('\n')[0]).ts);

    // A way back that cannot be taken (1.0.0 gone from the host): tried once, said, not retried.
    await writeRolloutFile(h.host, abort);
    renameSync(join(h.host, '1.0.0'), join(h.host, '1.0.0.gone'));
    const stuckApp = fx.hashTree(stuck, fx.NOT_APP);
    await saidOnce(stuck, 'http_404');
    assert.deepEqual(fx.hashTree(stuck, fx.NOT_APP), stuckApp);
  },
);

test(
  'GitHub only: the abort attached to the release sends a confirmed board back to its previous release',
  NB,
  async () => {
    const h = await startHost();
    const r100 = await fx.makeRelease('1.0.0', fx.APP_1_0_0);
    h.dirs.push(r100.dir);
    const sign = { keys: h.keys, alg: 'hmac-sha256' as const, keyId: h.key.id };
    const token = 'gh-token';
    const gh = await startGitHubMock({ token });
    try {
      gh.addRepo('me', 'app');
      gh.addRelease('me', 'app', { tag: 'v1.0.0', assets: fx.githubAssets(r100, sign) });
      gh.addRelease('me', 'app', { tag: 'v1.1.0', assets: fx.githubAssets(h.rel, sign) });
      const repo = { repo: 'me/app', token, apiUrl: gh.apiUrl };
      await publishRolloutAsset(
        repo,
        '1.1.0',
        await ff.signedRollout(h, { version: '1.1.0', devices: ['gh1'] }),
      );
      const github = { source: 'github', repo: 'me/app', api: gh.apiUrl, retries: 0, url: undefined };
      const b = ff.rolloutBoard(h, 'gh1', { ...github, rollout: undefined });
      const r1 = await ff.check(b);
      assert.equal(ff.versionOf(b), '1.1.0', r1.output);
      const c = await fx.runBoard({ fsDir: b, code: 'import ota\nprint("confirmed", ota.confirm())\n' });
      assert.match(c.output, /confirmed True/);

      await publishRolloutAsset(
        repo,
        '1.1.0',
        await ff.signedRollout(h, { version: '1.1.0', aborted: true }),
      );
      const r2 = await ff.check(b);
      assert.equal(ff.versionOf(b), '1.0.0', r2.output);
      assert.ok(
        fx.eventsOf(r2.output).some((e) => e.ev === 'done' && e.version === '1.0.0'),
        r2.output,
      );
      assert.deepEqual(fx.hashTree(b, fx.NOT_APP), fx.hashFiles(fx.APP_1_0_0));
      const r3 = await ff.check(b);
      assert.ok(!ff.saw(r3.output, 'start') && ff.saw(r3.output, 'held'), r3.output);
    } finally {
      await gh.close();
    }
  },
);

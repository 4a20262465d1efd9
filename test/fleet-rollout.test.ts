// Staged rollouts with the real controller, real mosquitto and boards running the real updater: exactly
// the boards the hash selects update, raising only adds, failures pause, abort rolls back, a restarted
// controller carries on, a version that is not published is refused, a static host alone works, and a
// replayed controller state steers no signature.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as fx from './support/release-fixture';
import * as ff from './support/fleet-fixture';
import { RolloutController } from '../src/core/fleet/rollout';
import { BOARD_MAX_MSG, inRollout, topics } from '../src/core/fleet/protocol';
import { readDocument } from '../src/core/fleet/signed';
import { publishRolloutAsset, releaseExists, writeRolloutFile } from '../src/core/fleet/release';
import { startGitHubMock } from './support/github-mock';

const { T, NB, start, startHost } = ff.fleetTests({ timeout: 180_000 });

const IDS = ['r1', 'r2', 'r3', 'r4', 'r5', 'r6'];
const held = (out: string): boolean => ff.saw(out, 'held');
const app100 = fx.hashFiles(fx.APP_1_0_0);
const appOf = (fsDir: string): Record<string, string> => fx.hashTree(fsDir, [...fx.NOT_APP, 'ca.pem']);

test(
  'a 50% rollout updates exactly the boards the hash selects; raising it to 75% only adds boards',
  T,
  async () => {
    const fl = await start();
    const { ctl } = await ff.control(fl);
    await ctl.start({ version: '1.1.0', percent: 50, soakMs: 3_600_000 }, ff.published(fl));
    const boards = IDS.map((id) => ({ id, fsDir: ff.makeFleetBoard(fl, id) }));
    const doc = { version: '1.1.0', groups: [], devices: [] };
    const at50 = IDS.filter((id) => inRollout(id, 'north', { ...doc, percent: 50 }));
    assert.ok(at50.length > 0 && at50.length < IDS.length, `a proper subset: ${at50.join(',')}`);

    const out = await ff.pool(boards, 3, (b) => ff.check(b.fsDir));
    for (const [i, b] of boards.entries()) {
      const want = at50.includes(b.id) ? '1.1.0' : '1.0.0';
      assert.equal(ff.versionOf(b.fsDir), want, `${b.id}: ${out[i].output}`);
      if (want === '1.0.0') {
        assert.ok(held(out[i].output), out[i].output);
        assert.deepEqual(appOf(b.fsDir), app100, `${b.id} untouched`);
      }
    }
    await ff.until(() => ctl.progress().updated === at50.length, 'statuses');
    assert.deepEqual(ctl.progress(), { targeted: at50.length, updated: at50.length, failed: 0, pending: 0 });

    await ctl.start({ version: '1.1.0', percent: 75 }, ff.published(fl));
    const at75 = IDS.filter((id) => inRollout(id, 'north', { ...doc, percent: 75 }));
    assert.ok(at50.every((id) => at75.includes(id)) && at75.length > at50.length);
    const out2 = await ff.pool(boards, 3, (b) => ff.check(b.fsDir));
    for (const [i, b] of boards.entries()) {
      assert.equal(
        ff.versionOf(b.fsDir),
        at75.includes(b.id) ? '1.1.0' : '1.0.0',
        `${b.id}: ${out2[i].output}`,
      );
      // Boards of the first step have nothing new to download.
      if (at50.includes(b.id)) assert.ok(!fx.eventsOf(out2[i].output).some((e) => e.ev === 'start'));
    }
  },
);

test('failures over --max-failures pause the rollout; abort rolls the updated boards back', T, async () => {
  const fl = await start();
  const { conn, ctl } = await ff.control(fl);
  await ctl.start(
    { version: '1.1.0', percent: 100, soakMs: 3_600_000, maxFailures: { percent: 20 } },
    ff.published(fl),
  );
  const ids = ['p1', 'p2', 'p3', 'p4'];
  const boards = ids.map((id) =>
    ff.makeFleetBoard(fl, id, {
      // p2 trusts another key: it refuses the release (an error event), as a board with a problem does.
      config:
        id === 'p2'
          ? { keys: [{ alg: 'hmac-sha256', id: 'k1', key: Buffer.alloc(32, 1).toString('base64') }] }
          : {},
    }),
  );
  await ff.pool(boards, 2, (d) => ff.check(d));
  await ff.until(() => ctl.progress().updated === 3 && conn.model.get('p2')?.result === 'error', 'statuses');
  const line = await ctl.tick();
  assert.match(line ?? '', /paused: 1 of 4 boards failed \(p2\)/);
  assert.equal(ctl.state?.status, 'paused');
  // The retained document the boards read says paused, signed with the release key.
  const late = await ff.hostConn(fl);
  let retained: Buffer | undefined;
  late.client.on('message', (topic, p) => {
    if (topic === topics(ff.FLEET).rollout) retained = p;
  });
  await late.client.subscribeAsync(topics(ff.FLEET).rollout);
  await late.sync();
  assert.equal(readDocument(retained!, fl.trusted).paused, true);
  const p5 = ff.makeFleetBoard(fl, 'p5');
  const r5 = await ff.check(p5);
  assert.ok(held(r5.output), r5.output);
  assert.equal(ff.versionOf(p5), '1.0.0');

  const commanded = await ctl.abort();
  assert.deepEqual(commanded.sort(), ['p1', 'p3', 'p4']);
  await ff.pool(boards, 2, (d) => ff.check(d));
  for (const d of boards) {
    assert.equal(ff.versionOf(d), '1.0.0');
    assert.deepEqual(appOf(d), app100);
  }
  await ff.until(() => ids.every((id) => conn.model.get(id)?.app === '1.0.0'), 'rolled-back statuses');
});

test(
  'abort sends back every board the rollout moved, confirmed ones too; an unsigned or replayed abort is refused',
  T,
  async () => {
    const fl = await start();
    // The host holds 1.0.0 too: a confirmed board has no backup left and fetches it again.
    await ff.publishPrevious(fl);
    const { conn, ctl } = await ff.control(fl);
    await ctl.start({ version: '1.1.0', percent: 50, soakMs: 3_600_000 }, ff.published(fl));
    const at50 = IDS.filter((id) =>
      inRollout(id, 'north', { version: '1.1.0', percent: 50, groups: [], devices: [] }),
    );
    const boards = IDS.map((id) => ({ id, fsDir: ff.makeFleetBoard(fl, id) }));
    // A board on 1.1.0 that did not get it from this rollout (installed by hand).
    const hand = ff.makeFleetBoard(fl, 'hand', { app: fx.APP_1_1_0 });
    writeFileSync(join(hand, 'version.json'), JSON.stringify({ version: '1.1.0' }));
    const app110 = appOf(hand);
    await ff.pool(boards, 3, (b) => ff.check(b.fsDir));
    const moved = boards.filter((b) => at50.includes(b.id));
    assert.ok(moved.length >= 2 && moved.length < boards.length, `moved: ${at50.join(',')}`);
    // All but one confirm: their backup of 1.0.0 is gone.
    const [pending, ...confirmed] = moved;
    for (const b of confirmed) {
      const r = await fx.runBoard({
        fsDir: b.fsDir,
        code: 'import ota\nprint("confirmed", ota.confirm())\n',
      });
      assert.match(r.output, /confirmed True/);
    }
    await ff.until(() => ctl.progress().updated === moved.length, 'statuses');

    // An unsigned abort, newer than anything, from someone with a broker account: refused.
    const t = topics(ff.FLEET);
    const forged = JSON.stringify({ fleet: ff.FLEET, version: '1.1.0', aborted: true, percent: 0, ts: 9e12 });
    await conn.publish(t.rollout, forged, true, 1);
    const rf = await ff.check(confirmed[0].fsDir);
    assert.equal(ff.versionOf(confirmed[0].fsDir), '1.1.0', rf.output);
    assert.ok(
      ff.fleetEvents(rf.output).some((e) => !e.ok && /signature/i.test(`${e.code} ${e.msg}`)),
      rf.output,
    );

    const ids = await ctl.abort();
    assert.deepEqual(ids.sort(), at50.slice().sort());
    const late = await ff.hostConn(fl);
    let abortDoc: Buffer | undefined;
    late.client.on('message', (topic, p) => {
      if (topic === t.rollout) abortDoc ??= p; // the abort, not the rollout after it
    });
    await late.client.subscribeAsync(t.rollout);
    await late.sync();
    assert.equal(readDocument(abortDoc!, fl.trusted).aborted, true);

    const out = await ff.pool([...boards.map((b) => b.fsDir), hand], 3, (d) => ff.check(d));
    for (const [i, b] of boards.entries()) {
      assert.equal(ff.versionOf(b.fsDir), '1.0.0', `${b.id}: ${out[i].output}`);
      assert.deepEqual(appOf(b.fsDir), app100, b.id);
      const evs = fx.eventsOf(out[i].output);
      if (!at50.includes(b.id)) assert.ok(!evs.some((e) => e.ev === 'start' || e.ev === 'rollback'), b.id);
      else if (b === pending)
        assert.ok(
          evs.some((e) => e.ev === 'rollback'),
          out[i].output,
        );
      else
        assert.ok(
          evs.some((e) => e.ev === 'done' && e.version === '1.0.0'),
          out[i].output,
        );
    }
    assert.equal(ff.versionOf(hand), '1.1.0', 'a board the rollout did not move keeps its release');
    assert.deepEqual(appOf(hand), app110);
    // The same abort again (retained, sent at every connect) does nothing more.
    const again = await ff.check(confirmed[0].fsDir);
    assert.ok(!fx.eventsOf(again.output).some((e) => e.ev === 'start'), again.output);
    await ff.until(() => at50.every((id) => conn.model.get(id)?.app === '1.0.0'), 'reverted statuses');

    // A new rollout brings 1.1.0 back to one board; replaying the old abort does not undo it.
    const x = confirmed[0];
    await fx.runBoard({ fsDir: x.fsDir, code: 'import ota\nota.confirm()\n' }); // its app confirms 1.0.0
    await ctl.start({ version: '1.1.0', devices: [x.id], percent: 0 }, ff.published(fl));
    const back = await ff.check(x.fsDir);
    assert.equal(ff.versionOf(x.fsDir), '1.1.0', back.output);
    await fx.runBoard({ fsDir: x.fsDir, code: 'import ota\nota.confirm()\n' });
    await late.publish(t.rollout, abortDoc!, true, 1);
    // Queued QoS 1 messages may reach a battery board over more than one check-in.
    let seen = '';
    for (let n = 0; n < 3 && !ff.fleetEvents(seen).some((e) => e.code === 'replay'); n++) {
      const r = await ff.check(x.fsDir);
      seen += r.output;
      assert.equal(ff.versionOf(x.fsDir), '1.1.0', r.output);
    }
    assert.ok(
      ff.fleetEvents(seen).some((e) => e.code === 'replay'),
      seen,
    );
  },
);

test(
  'a controller restarted mid-rollout continues: next step after the soak, silent boards count as failed',
  T,
  async () => {
    const fl = await start();
    const { conn: a, ctl: ctlA } = await ff.control(fl);
    await ctlA.start(
      { version: '1.1.0', steps: [10, 100], soakMs: 800, maxFailures: { count: 5 } },
      ff.published(fl),
    );
    await a.close();
    fl.conns.splice(fl.conns.indexOf(a), 1);

    const { conn: b, ctl: ctlB } = await ff.control(fl, { silentMs: 200 });
    await b.sync();
    assert.equal(ctlB.state?.version, '1.1.0');
    assert.deepEqual([ctlB.state?.step, ctlB.state?.status], [0, 'running']);
    await new Promise((r) => setTimeout(r, 900));
    assert.equal(await ctlB.tick(), 'step 2/2: 100%');

    // A board that starts the update and is then never heard from again.
    const t = topics(ff.FLEET);
    await b.publish(t.status('ghost'), JSON.stringify({ id: 'ghost', app: '1.0.0', group: 'north' }), true);
    await b.publish(t.events('ghost'), JSON.stringify({ ev: 'start', version: '1.1.0' }));
    await b.sync();
    await ctlB.tick(Date.now() + 1000);
    assert.deepEqual(ctlB.state?.failed, ['ghost']);
    await b.publish(t.status('ghost'), '', true);

    // A third controller sees the step and the failure; a board now takes 1.1.0.
    const { conn: c, ctl: ctlC } = await ff.control(fl);
    await c.sync();
    assert.equal(ctlC.state?.step, 1);
    assert.deepEqual(ctlC.state?.failed, ['ghost']);
    const d = ff.makeFleetBoard(fl, 'late1');
    await ff.check(d);
    assert.equal(ff.versionOf(d), '1.1.0');
  },
);

test(
  'a rollout of a version that is not published is refused, and nothing reaches the boards',
  T,
  async () => {
    const fl = await start();
    const { conn, ctl } = await ff.control(fl);
    await assert.rejects(
      ctl.start({ version: '9.9.9', percent: 10 }, ff.published(fl)),
      (e: Error & { code?: string }) =>
        e.code === 'fleet_no_release' && /9\.9\.9 is not published/.test(e.message),
    );
    await assert.rejects(ctl.start({ version: 'not-a-version' }, ff.published(fl)), /not semver/);
    await conn.sync();
    assert.equal(ctl.state, undefined);
  },
);

test('without a broker: rollout.json beside latest.json gives the same percentage rollout', NB, async () => {
  const fl = await startHost();
  await writeRolloutFile(
    fl.host,
    await ff.signedRollout(fl, { version: '1.1.0', percent: 50, devices: ['r2'] }),
  );
  const dirs = ['r1', 'r2', 'r3'].map((id) => ff.rolloutBoard(fl, id));
  const out = await ff.pool(dirs, 3, (d) => ff.check(d));
  // r1 is in the 50% by its hash, r2 is listed by id, r3 is outside.
  assert.deepEqual(
    dirs.map((d) => ff.versionOf(d)),
    ['1.1.0', '1.1.0', '1.0.0'],
    out.map((o) => o.output).join('\n'),
  );
  assert.ok(held(out[2].output));
  // A forged rollout.json (not signed by the release key) holds every board back.
  const forged = Buffer.from(
    readFileSync(join(fl.host, 'rollout.json'), 'utf8').replace('"percent":50', '"percent":100'),
  );
  // So does one larger than any the host signs (it would be read into the board's RAM).
  const huge = Buffer.concat([forged, Buffer.alloc(BOARD_MAX_MSG, 0x20)]);
  for (const [doc, code] of [
    [forged, 'bad_signature'],
    [huge, 'doc_too_large'],
  ] as const) {
    await writeRolloutFile(fl.host, doc);
    const r = await ff.check(dirs[2]);
    assert.equal(ff.versionOf(dirs[2]), '1.0.0');
    assert.ok(
      fx.eventsOf(r.output).some((e) => e.ev === 'held' && e.code === code),
      r.output,
    );
  }
});

test('GitHub only: rollout.json published as a release asset gives the same rollout', NB, async () => {
  const fl = await startHost();
  const token = 'gh-token';
  const gh = await startGitHubMock({ token });
  try {
    gh.addRepo('me', 'app');
    gh.addRelease('me', 'app', { tag: 'v1.0.0', assets: [] });
    gh.addRelease('me', 'app', {
      tag: 'v1.1.0',
      assets: fx.githubAssets(fl.rel, { keys: fl.keys, alg: 'hmac-sha256', keyId: fl.key.id }),
    });
    const signed = await ff.signedRollout(fl, { version: '1.1.0', percent: 50 });
    await publishRolloutAsset({ repo: 'me/app', token, apiUrl: gh.apiUrl }, '1.1.0', signed);
    // Published twice: the asset is replaced, not duplicated.
    await publishRolloutAsset({ repo: 'me/app', token, apiUrl: gh.apiUrl }, '1.1.0', signed);
    // Nothing in the config asks for a rollout: the release's rollout.json asset does.
    const github = { source: 'github', repo: 'me/app', api: gh.apiUrl, retries: 0, url: undefined };
    const dirs = ['r1', 'r2'].map((id) => ff.rolloutBoard(fl, id, { ...github, rollout: undefined }));
    const out = await ff.pool(dirs, 2, (d) => ff.check(d));
    // r1 is in the 50% by its hash, r2 is not.
    assert.deepEqual(
      dirs.map((d) => ff.versionOf(d)),
      ['1.1.0', '1.0.0'],
      out.map((o) => o.output).join('\n'),
    );
    assert.ok(held(out[1].output), out[1].output);
    assert.ok(await releaseExists({ repo: 'me/app', token, apiUrl: gh.apiUrl }, '1.1.0'));
    assert.equal(await releaseExists({ repo: 'me/app', token, apiUrl: gh.apiUrl }, '9.0.0'), false);
  } finally {
    await gh.close();
  }
});

test('a controller state forged by a broker account is ignored, never signed into a rollout', T, async () => {
  const fl = await start();
  const { conn: a, ctl } = await ff.control(fl);
  await ctl.start({ version: '1.1.0', percent: 10, soakMs: 3_600_000 }, ff.published(fl));
  const forged = { ...ctl.state!, steps: [100], ts: ctl.state!.ts + 1 };
  await a.publish(topics(ff.FLEET).controller, JSON.stringify(forged), true);
  await a.sync();
  assert.deepEqual(ctl.state?.steps, [10], 'the running controller ignores it');
  assert.match(ctl.rejected ?? '', /ignored: the document has no signature/);
  const { conn: b, ctl: ctlB } = await ff.control(fl);
  assert.equal(ctlB.state, undefined);
  assert.match(ctlB.rejected ?? '', /no signature/);
  await assert.rejects(ctlB.pause(), /no rollout is under way/);
  assert.equal(readDocument(b.latest.get(topics(ff.FLEET).rollout)!, fl.trusted).percent, 10);
});

test(
  'a signed controller state replayed through the broker steers no signature; abort naming the version still works',
  T,
  async () => {
    const fl = await start();
    const t = topics(ff.FLEET);
    const { conn, ctl } = await ff.control(fl);
    // An earlier rollout of 1.1.0, paused before it reached anyone: a broker account keeps its signed bytes.
    await ctl.start({ version: '1.1.0', percent: 0, soakMs: 3_600_000 }, ff.published(fl));
    await ctl.pause();
    await conn.sync();
    const oldState = conn.latest.get(t.controller)!;
    const oldDoc = conn.latest.get(t.rollout)!;
    assert.equal(readDocument(oldState, fl.trusted).status, 'paused');
    // resume names the rollout's version: another one is refused, nothing signed.
    await assert.rejects(
      ctl.resume('1.2.0'),
      (e: Error & { code?: string }) =>
        e.code === 'fleet_wrong_version' && /under way is 1\.1\.0/.test(e.message),
    );
    await conn.sync();
    assert.equal(conn.latest.get(t.rollout), oldDoc);
    assert.equal((await ctl.resume('1.1.0')).status, 'running');
    await conn.sync();
    const runningState = conn.latest.get(t.controller)!;

    // The newer rollout moves both boards to 1.1.0; their statuses report the document they took.
    await ctl.start({ version: '1.1.0', devices: ['q1', 'q2'], percent: 0 }, ff.published(fl));
    await conn.sync();
    const newTs = readDocument(conn.latest.get(t.rollout)!, fl.trusted).ts;
    const boards = ['q1', 'q2'].map((id) => ff.makeFleetBoard(fl, id));
    await ff.pool(boards, 2, (d) => ff.check(d));
    for (const d of boards) assert.equal(ff.versionOf(d), '1.1.0');
    const app110 = boards.map(appOf);
    await ff.until(() => ['q1', 'q2'].every((id) => conn.model.get(id)?.rts === newTs), 'statuses with rts');

    // The replay: the old state alone is older than the signed document the broker holds...
    const attacker = await ff.hostConn(fl);
    await attacker.publish(t.controller, oldState, true, 1);
    await attacker.sync();
    const x = new RolloutController(await ff.hostConn(fl), fl.key);
    assert.equal(x.state?.status, 'paused');
    assert.match(x.stale() ?? '', /older than the signed rollout document in the broker/);
    // ...and with the old document replayed too, the boards' statuses still prove it old.
    await attacker.publish(t.rollout, oldDoc, true, 1);
    await attacker.sync();
    const { conn: b, ctl: ctlB } = await ff.control(fl);
    assert.equal(ctlB.state?.status, 'paused');
    assert.match(ctlB.stale() ?? '', /older than the rollout document board q[12] took/);
    const refused = (e: Error & { code?: string }) =>
      e.code === 'fleet_stale_state' && /replayed state, so nothing was signed/.test(e.message);
    await assert.rejects(ctlB.abort('1.1.0'), refused);
    await assert.rejects(ctlB.resume('1.1.0'), refused);
    await assert.rejects(ctlB.pause(), refused);
    await b.sync();
    assert.equal(b.latest.get(t.rollout)?.equals(oldDoc), true, 'nothing was signed');
    assert.equal(b.latest.get(t.controller)?.equals(oldState), true);
    const out = await ff.pool(boards, 2, (d) => ff.check(d));
    for (const [i, d] of boards.entries()) {
      assert.equal(ff.versionOf(d), '1.1.0', out[i].output);
      assert.deepEqual(appOf(d), app110[i], 'byte-identical');
    }

    // A replayed running state: a controller that watches refuses to step it (once) and signs nothing.
    await attacker.publish(t.controller, runningState, true, 1);
    await attacker.sync();
    const w = new RolloutController(await ff.hostConn(fl), fl.key);
    assert.equal(w.state?.status, 'running');
    assert.match((await w.tick(Date.now() + 7_200_000)) ?? '', /^refused: .*a replayed state/);
    assert.equal(await w.tick(Date.now() + 7_200_000), undefined);
    await b.sync();
    assert.equal(b.latest.get(t.controller)?.equals(runningState), true, 'nothing was signed');
    assert.equal(b.latest.get(t.rollout)?.equals(oldDoc), true);

    // Statuses are not signed: a forged rts far ahead proves nothing; one an hour ahead holds the state
    // back only until the rollout is started again, which signs above it.
    const fake = (id: string, rts: number) => JSON.stringify({ id, app: '1.0.0', group: 'south', rts });
    await attacker.publish(t.status('fake1'), fake('fake1', 9e12), true, 1);
    await attacker.publish(t.status('fake2'), fake('fake2', Date.now() + 3_600_000), true, 1);
    await attacker.sync();
    await b.sync();
    assert.match(ctlB.stale() ?? '', /board fake2 took/);
    // The operator starts over (the stale state lends it nothing), then aborts naming the version.
    await ctlB.start({ version: '1.1.0', devices: ['q1', 'q2'], percent: 0 }, ff.published(fl));
    await assert.rejects(
      ctlB.abort('1.0.0'),
      (e: Error & { code?: string }) => e.code === 'fleet_wrong_version',
    );
    assert.equal(ctlB.stale(), undefined);
    assert.ok(ctlB.state!.ts > 3_600_000 + Date.now() - 60_000 && ctlB.state!.ts < 9e12);
    assert.deepEqual((await ctlB.abort('1.1.0')).sort(), ['q1', 'q2']);
    const back = await ff.pool(boards, 2, (d) => ff.check(d));
    for (const [i, d] of boards.entries()) {
      assert.equal(ff.versionOf(d), '1.0.0', back[i].output);
      assert.deepEqual(appOf(d), app100);
    }
  },
);

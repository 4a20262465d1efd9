// `ota fleet` (dist/cli.js) against real mosquitto: status from retained statuses, signed commands, a
// rollout of an unpublished version refused, a rollout started and written beside latest.json, pause, and
// resume/abort naming the rollout's version.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mosquittoMissing } from './support/mosquitto';
import { FLEET, hostConn, startFleet, stopFleet, type Fleet } from './support/fleet-fixture';
import { topics } from '../src/core/fleet/protocol';
import { readDocument } from '../src/core/fleet/signed';

const skip = mosquittoMissing();
if (skip) console.log(`# skipped: ${skip}`);
const T = { timeout: 120_000, skip };
let f: Fleet;
let env: NodeJS.ProcessEnv;

before(async () => {
  if (skip) return;
  f = await startFleet();
  const keyPath = join(f.host, '..', `key-${Date.now()}.json`);
  writeFileSync(keyPath, JSON.stringify(f.key), { mode: 0o600 });
  f.dirs.push(keyPath);
  writeFileSync(join(f.host, 'ca-for-cli.pem'), f.m.caPem);
  env = {
    ...process.env,
    OTA_FLEET_BROKER: f.m.tlsUrl,
    OTA_FLEET_NAME: FLEET,
    OTA_FLEET_USER: f.m.user,
    OTA_FLEET_PASSWORD: f.m.password,
    OTA_FLEET_CA: join(f.host, 'ca-for-cli.pem'),
    OTA_KEY: keyPath,
  };
});
after(() => stopFleet(f));

function ota(args: string[], e = env): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['dist/cli.js', 'fleet', ...args], { env: e });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('close', (code) => resolve({ code: code ?? -1, out, err }));
  });
}

test('ota fleet status lists the boards from their retained statuses; --json for scripts', T, async () => {
  const conn = await hostConn(f);
  const t = topics(FLEET);
  await conn.publish(
    t.status('cli1'),
    JSON.stringify({ id: 'cli1', online: true, app: '1.0.0', state: 'idle', group: 'north', free: 90_000 }),
    true,
  );
  await conn.publish(
    t.status('cli2'),
    JSON.stringify({
      id: 'cli2',
      online: false, // as its last will says, with what it last reported
      app: '1.1.0',
      state: 'idle',
      result: 'error',
      code: 'no_space',
      msg: 'needs 9 bytes',
    }),
    true,
  );
  const r = await ota(['status']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /2 boards, 1 online, 1 with errors/);
  assert.match(r.out, /cli1 +online +1\.0\.0 +idle +north/);
  assert.match(r.out, /cli2 +offline.*error: not enough free flash for the update \(needs 9 bytes\)/);
  const j = await ota(['status', '--json']);
  const doc = JSON.parse(j.out) as { summary: { boards: number }; boards: { id: string }[] };
  assert.equal(doc.summary.boards, 2);
  assert.deepEqual(doc.boards.map((b) => b.id).sort(), ['cli1', 'cli2']);
});

test(
  'ota fleet rollout: an unpublished version is refused; a published one starts, signed and beside latest.json',
  T,
  async () => {
    const bad = await ota(['rollout', '7.7.7', '--percent', '10', '--source', f.srv.url, '--detach']);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /release 7\.7\.7 is not published.*\[fleet_no_release\]/);
    const noKey = await ota(['rollout', '1.1.0', '--percent', '10', '--source', f.srv.url], {
      ...env,
      OTA_KEY: '',
    });
    assert.match(noKey.err, /key is needed/);

    const r = await ota([
      'rollout',
      '1.1.0',
      '--percent',
      '10',
      '--source',
      f.srv.url,
      '--dir',
      f.host,
      '--detach',
    ]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /rollout 1\.1\.0: running, 10%/);
    const fileDoc = readDocument(readFileSync(join(f.host, 'rollout.json')), f.trusted);
    assert.deepEqual([fileDoc.version, fileDoc.percent, fileDoc.paused], ['1.1.0', 10, false]);

    const p = await ota(['pause', '--dir', f.host]);
    assert.equal(p.code, 0, p.err);
    assert.match(p.out, /paused/);
    assert.equal(readDocument(readFileSync(join(f.host, 'rollout.json')), f.trusted).paused, true);
    const s = await ota(['status']);
    assert.match(s.out, /rollout 1\.1\.0: paused \(paused by hand\), 10%/);

    // resume and abort name the rollout's version: none, or another, is refused and nothing is signed.
    const before = readFileSync(join(f.host, 'rollout.json'));
    const none = await ota(['abort', '--dir', f.host]);
    assert.notEqual(none.code, 0);
    assert.match(none.err, /abort needs the version of the rollout under way/);
    const other = await ota(['resume', '1.2.0', '--dir', f.host]);
    assert.notEqual(other.code, 0);
    assert.match(other.err, /under way is 1\.1\.0, not 1\.2\.0: nothing was signed \[fleet_wrong_version\]/);
    assert.ok(readFileSync(join(f.host, 'rollout.json')).equals(before), 'nothing was signed');
    const res = await ota(['resume', '1.1.0', '--dir', f.host]);
    assert.equal(res.code, 0, res.err);
    assert.match(res.out, /rollout 1\.1\.0: running/);
  },
);

test('ota fleet <command> <id> sends a signed command; a bad id or a missing one is refused', T, async () => {
  const conn = await hostConn(f);
  const got: Buffer[] = [];
  conn.client.on('message', (topic, p) => {
    if (topic === topics(FLEET).cmd('cli1')) got.push(p);
  });
  const r = await ota(['reboot', 'cli1']);
  assert.equal(r.code, 0, r.err);
  await conn.sync();
  const doc = readDocument(got[0], f.trusted);
  assert.deepEqual([doc.cmd, doc.id, doc.fleet], ['reboot', 'cli1', FLEET]);
  assert.match((await ota(['reboot', '../x'])).err, /\[fleet_bad_name\]/);
  assert.match((await ota(['confirm'])).err, /needs a board id/);
  const wrong = await ota(['status'], { ...env, OTA_FLEET_PASSWORD: 'nope' });
  assert.equal(wrong.code, 1);
  assert.match(wrong.err, /refused the user name or password \[fleet_auth\]/);
});

// Boards running the real updater (virtual board) against real mosquitto over TLS with a password:
// retained status and last will, OTA events, signed commands (and the refused ones), bad input,
// and a broker that is down, silent or refusing, none of which may touch the update.
import { before, mock, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as fx from './support/release-fixture';
import { otherCaPem } from './support/mosquitto';
import * as ff from './support/fleet-fixture';
import { topics } from '../src/core/fleet/protocol';
import { signDocument } from '../src/core/fleet/signed';
import type { KeyFile } from '../src/core/keys';

const { T, start } = ff.fleetTests({ shared: true });
let f: ff.Fleet;
const t = topics(ff.FLEET);

before(async () => {
  if (!T.skip) f = await start();
});

const app110 = (): Record<string, string> =>
  fx.hashFiles({ ...fx.APP_1_1_0, 'settings.json': fx.APP_1_0_0['settings.json'] });
const appOf = (fsDir: string): Record<string, string> =>
  fx.hashTree(fsDir, [...fx.NOT_APP, 'ca.pem', 'other.pem']);
const stateOf = (fsDir: string): string =>
  (JSON.parse(readFileSync(join(fsDir, '.ota', 'state.json'), 'utf8')) as { state: string }).state;

/** A board that took 1.1.0 in one check and waits for its confirmation. */
async function pendingBoard(id: string, o?: ff.BoardOpts): Promise<string> {
  const fsDir = ff.makeFleetBoard(f, id, o);
  const r = await ff.check(fsDir);
  assert.equal(stateOf(fsDir), 'confirm_pending', r.output);
  return fsDir;
}

test('status (retained), events and the last will reach the host model', T, async () => {
  const conn = await ff.hostConn(f);
  const fsDir = ff.makeFleetBoard(f, 'st1', { group: 'south', fleet: { mode: 'mains' } }); // live events, progress too
  const r = await ff.check(fsDir);
  assert.deepEqual(fx.errorCodes(r.output), [], r.output);
  assert.deepEqual(appOf(fsDir), app110());
  await ff.until(() => conn.model.get('st1')?.app === '1.1.0', 'status 1.1.0');
  const b = conn.model.get('st1')!;
  assert.equal(b.online, true);
  assert.equal(b.group, 'south');
  assert.equal(b.state, 'confirm_pending');
  assert.equal(b.result, 'updated');
  assert.equal(b.micropython, '1.27.0');
  assert.ok(typeof b.free === 'number' && b.free > 0);
  const evs = b.events.map((e) => e.ev);
  for (const ev of ['check', 'available', 'start', 'progress', 'swap', 'done'])
    assert.ok(evs.includes(ev), evs.join(','));

  // A second host started later gets the retained status alone.
  const late = await ff.hostConn(f);
  assert.equal(late.model.get('st1')?.app, '1.1.0');

  // A board that drops off without a clean disconnect: the broker publishes its last will.
  const r2 = await fx.runBoard({
    fsDir,
    code: 'from ota import fleet, updater\ns = fleet.session(updater.load_config())\nprint("connected", s.c is not None)\n',
  });
  assert.match(r2.output, /connected True/);
  await ff.until(() => late.model.get('st1')?.online === false, 'last will');
  assert.equal(late.model.get('st1')?.app, '1.1.0', 'the will keeps what the board last reported');
});

test(
  'signed commands: confirm, rollback, reboot; unsigned, wrongly signed and replayed ones are refused',
  T,
  async () => {
    const conn = await ff.hostConn(f);
    const fsDir = await pendingBoard('cmd1');

    // Unsigned and wrongly signed: refused, nothing changes.
    const doc = { fleet: ff.FLEET, cmd: 'confirm', id: 'cmd1', nonce: 'n1', ts: Date.now() };
    await conn.publish(t.cmd('cmd1'), JSON.stringify(doc));
    const other: KeyFile = {
      alg: 'hmac-sha256',
      id: f.key.id,
      secret: Buffer.alloc(32, 7).toString('base64'),
    };
    await conn.publish(t.cmd('cmd1'), await signDocument({ ...doc, nonce: 'n2' }, other));
    // Signed for another board: refused too.
    await conn.publish(t.cmd('cmd1'), await signDocument({ ...doc, id: 'cmd2', nonce: 'n3' }, f.key));
    let r = await ff.check(fsDir);
    assert.deepEqual(
      ff.fleetEvents(r.output).map((e) => e.code),
      ['no_signature', 'bad_signature', 'bad_command'],
      r.output,
    );
    assert.equal(stateOf(fsDir), 'confirm_pending');

    // Signed: confirmed on the next check-in.
    const signed = await signDocument({ ...doc, nonce: 'n4', ts: conn.nextTs() }, f.key);
    await conn.publish(t.cmd('cmd1'), signed);
    r = await ff.check(fsDir);
    assert.ok(ff.saw(r.output, 'confirm'), r.output);
    assert.equal(stateOf(fsDir), 'idle');

    // The same bytes again (a replay by anyone with broker access): refused.
    await conn.publish(t.cmd('cmd1'), signed);
    r = await ff.check(fsDir);
    assert.deepEqual(
      ff.fleetEvents(r.output).map((e) => e.code),
      ['replay'],
      r.output,
    );

    // Rollback of a confirmed release: refused in words; reboot: the board resets after its check.
    await conn.command('cmd1', 'rollback', f.key);
    await conn.command('cmd1', 'reboot', f.key);
    r = await ff.check(fsDir);
    assert.ok(
      ff.fleetEvents(r.output).some((e) => e.code === 'no_rollback'),
      r.output,
    );
    assert.equal(r.resets, 1, r.output);
    await ff.until(
      () => conn.model.get('cmd1')?.code === undefined && conn.model.get('cmd1')?.app === '1.1.0',
      'status',
    );

    // Rollback of a pending release: the old release comes back byte for byte.
    const fs2 = await pendingBoard('cmd2');
    assert.deepEqual(appOf(fs2), app110());
    await conn.command('cmd2', 'rollback', f.key);
    r = await ff.check(fs2);
    assert.ok(ff.saw(r.output, 'rollback'), r.output);
    assert.deepEqual(appOf(fs2), fx.hashFiles(fx.APP_1_0_0));
    assert.equal(ff.versionOf(fs2), '1.0.0');
    await ff.until(() => conn.model.get('cmd2')?.bad === '1.1.0', 'bad version in the status');
  },
);

test(
  'a host whose clock is an hour behind still sends a command the board takes; a replay is still refused',
  T,
  async () => {
    const conn = await ff.hostConn(f);
    const fsDir = await pendingBoard('lag1');
    // A command from a host with a right clock: taken, and the board's status reports it (cts).
    const first = await conn.command('lag1', 'check', f.key);
    let r = await ff.check(fsDir);
    assert.deepEqual(
      ff.fleetEvents(r.output).map((e) => e.code),
      ['cmd'],
      r.output,
    );
    await ff.until(() => conn.model.get('lag1')?.cts === first.ts, 'the command taken, in the status');

    // Another machine, its clock an hour behind, signs above what the board took, not above its clock.
    let sent: Buffer | undefined;
    conn.on('message', (topic: string, p: Buffer) => {
      if (topic === t.cmd('lag1')) sent = p;
    });
    const real = Date.now.bind(Date);
    const lag = mock.method(Date, 'now', () => real() - 3_600_000);
    try {
      const behind = await ff.hostConn(f);
      const doc = await behind.command('lag1', 'confirm', f.key);
      assert.ok(doc.ts > first.ts, `${doc.ts} above ${first.ts}`);
    } finally {
      lag.mock.restore();
    }
    r = await ff.check(fsDir);
    assert.deepEqual(
      ff.fleetEvents(r.output).map((e) => e.code),
      ['cmd'],
      r.output,
    );
    assert.equal(stateOf(fsDir), 'idle');

    // The same bytes again: refused.
    await ff.until(() => sent !== undefined, 'the command seen on the broker');
    await conn.publish(t.cmd('lag1'), sent!);
    r = await ff.check(fsDir);
    assert.deepEqual(
      ff.fleetEvents(r.output).map((e) => e.code),
      ['replay'],
      r.output,
    );

    // Statuses are not signed: a reported cts that would leave no room for later commands is not followed.
    await conn.publish(
      t.status('lag2'),
      JSON.stringify({ id: 'lag2', app: '1.0.0', cts: 2 ** 53 - 2 }),
      true,
    );
    await conn.sync();
    assert.equal(conn.model.get('lag2')?.cts, 2 ** 53 - 2);
    const doc2 = await conn.command('lag2', 'check', f.key);
    assert.ok(doc2.ts < 2 ** 50, String(doc2.ts));
    await conn.publish(t.status('lag2'), '', true);
  },
);

test(
  'malformed and oversized messages are dropped; the board keeps its RAM and takes the next good command',
  T,
  async () => {
    const conn = await ff.hostConn(f);
    const fsDir = await pendingBoard('bad1');
    // The board checks twice; the bad messages arrive between the two checks, so the heap after the
    // first (every module imported) is the baseline for the second.
    const code = [
      'import gc, ota, time',
      'ota.update()',
      'gc.collect()',
      'a = gc.mem_free()',
      'print("first done")',
      'time.sleep(2)',
      'ota.update()',
      'gc.collect()',
      'print("ram", a - gc.mem_free())',
    ].join('\n');
    let statuses = 0;
    conn.on('message', (topic: string) => {
      if (topic === t.status('bad1')) statuses++;
    });
    await conn.command('bad1', 'check', f.key); // the first check imports what signed commands need
    const run = fx.runBoard({ fsDir, code, timeoutMs: 120_000 });
    await ff.until(() => statuses > 0, 'the first check', 60_000);
    await conn.publish(t.cmd('bad1'), Buffer.alloc(100_000, 0x41));
    await conn.publish(t.cmd('bad1'), Buffer.from([0xff, 0x00, 0x0a, 0x7b]));
    await conn.publish(
      t.cmd('bad1'),
      `{"cmd":"confirm"}\n{"alg":"hmac-sha256","key":"${f.key.id}","sig":"!!"}`,
    );
    await conn.command('bad1', 'confirm', f.key);
    const r = await run;
    assert.equal(r.error, undefined, r.output);
    const codes = ff.fleetEvents(r.output).map((e) => e.code);
    assert.deepEqual(codes, ['cmd', 'bad_signature', 'bad_signature', 'cmd', 'dropped'], r.output);
    assert.ok(ff.saw(r.output, 'confirm'), r.output);
    assert.equal(stateOf(fsDir), 'idle');
    const kept = Number(/ram (-?\d+)/.exec(r.output)?.[1]);
    assert.ok(kept < 512, `${kept} bytes of heap held after the session`);
    // The host model drops what boards send that is not a status either.
    const dropped = conn.model.dropped;
    await conn.publish(t.status('bad1x'), 'not json', true);
    await conn.publish(t.events('bad1'), Buffer.alloc(20_000, 0x7b));
    await conn.sync();
    assert.equal(conn.model.dropped, dropped + 2);
    assert.equal(conn.model.get('bad1x'), undefined);
    await conn.publish(t.status('bad1x'), '', true);
  },
);

async function silentServer(): Promise<{ url: string; close(): Promise<void> }> {
  const socks: import('node:net').Socket[] = [];
  const srv: Server = createServer((s) => socks.push(s));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    url: `mqtt://127.0.0.1:${(srv.address() as { port: number }).port}`,
    close: () =>
      new Promise<void>((r) => {
        for (const s of socks) s.destroy();
        srv.close(() => r());
      }),
  };
}

test(
  'a broker that is down, silent, refuses the password or has an untrusted certificate: the update goes on',
  T,
  async () => {
    const silent = await silentServer();
    try {
      const cases: [string, Record<string, unknown>, string][] = [
        ['down', { broker: 'mqtt://127.0.0.1:1', password: undefined }, 'fleet_down'],
        ['silent', { broker: silent.url, password: undefined, timeout: 1 }, 'fleet_down'],
        ['refused', { password: 'wrong' }, 'fleet_auth'],
        ['untrusted', { tls: { ca: 'other.pem' } }, 'fleet_tls'],
      ];
      for (const [name, fleet, code] of cases) {
        const fsDir = ff.makeFleetBoard(f, `down-${name}`, { fleet });
        writeFileSync(join(fsDir, 'other.pem'), otherCaPem());
        const t0 = Date.now();
        const r = await ff.check(fsDir);
        assert.deepEqual(fx.errorCodes(r.output), [], `${name}: ${r.output}`);
        assert.deepEqual(
          ff.fleetEvents(r.output).map((e) => e.code),
          [code],
          `${name}: ${r.output}`,
        );
        assert.deepEqual(appOf(fsDir), app110(), name);
        assert.equal(r.resets, 1, name);
        assert.ok(Date.now() - t0 < 20_000, `${name}: bounded by the fleet timeout`);
      }
    } finally {
      await silent.close();
    }
  },
);

test('the broker stopping in the middle of an update changes nothing on the board', T, async () => {
  const fsDir = ff.makeFleetBoard(f, 'mid1');
  // The static host stops the broker when the board asks for its first file.
  const rel = f.rel;
  const host = fx.tempDir('host-mid');
  f.dirs.push(host);
  fx.publishStatic(host, rel, { sign: { keys: f.keys, alg: 'hmac-sha256', keyId: f.key.id } });
  let stopped: Promise<void> | undefined;
  const srv = await fx.serveFolder(host, (req) => {
    if (
      !stopped &&
      req.url?.startsWith('/1.1.0/') &&
      !req.url.endsWith('.sig') &&
      !req.url.endsWith('manifest.json')
    )
      stopped = f.m.stop();
    return false;
  });
  try {
    const cfg = JSON.parse(readFileSync(join(fsDir, 'ota_config.json'), 'utf8')) as Record<string, unknown>;
    cfg.url = srv.url;
    writeFileSync(join(fsDir, 'ota_config.json'), JSON.stringify(cfg));
    const r = await ff.check(fsDir);
    assert.ok(stopped, 'the broker was stopped mid-update');
    assert.deepEqual(fx.errorCodes(r.output), [], r.output);
    assert.deepEqual(appOf(fsDir), app110());
    assert.equal(r.resets, 1);
  } finally {
    await stopped;
    await f.m.restart();
    await srv.close();
  }
});

test('a mains board stays connected (ota.fleetd): a signed check or confirm acts at once', T, async () => {
  const conn = await ff.hostConn(f);
  const fsDir = await pendingBoard('mains1', { fleet: { mode: 'mains' } });
  const seen: string[] = [];
  conn.model.on('event', (id: string, e: { ev: string }) => {
    if (id === 'mains1') seen.push(e.ev);
  });
  const run = fx.runBoard({ fsDir, timeoutMs: 60_000, code: 'from ota import fleetd\nfleetd.serve(25)\n' });
  await ff.until(() => seen.includes('check'), 'the first check', 60_000);
  // The first check's own session reports and closes; the board then stays connected, waiting.
  const t0 = Date.now();
  await ff.until(
    () => (conn.model.get('mains1')?.reported ?? 0) >= t0 - 50,
    'the first check reported',
    60_000,
  );
  // No wait for its next session: a command is QoS 1 on the board's persistent session, so one sent
  // while it reconnects is delivered when it is back (the events of the first check all came before
  // its report, on the same connection).
  const checks = seen.filter((e) => e === 'check').length;
  await conn.command('mains1', 'check', f.key);
  await ff.until(() => seen.filter((e) => e === 'check').length > checks, 'the commanded check', 30_000);
  await conn.command('mains1', 'confirm', f.key);
  const live = await ff
    .until(() => seen.includes('confirm'), 'the confirm event, live', 10_000)
    .then(
      () => '',
      (e: Error) => e.message,
    );
  const r = await run;
  assert.equal(live, '', `${live}: ${seen.join(',')}\n${r.output}`);
  assert.equal(r.error, undefined, r.output);
  assert.equal(stateOf(fsDir), 'idle');
});

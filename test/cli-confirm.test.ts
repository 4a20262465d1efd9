// `ota confirm` and `ota rollback` on a virtual board over a real pseudo-terminal (`ota sim --pty`),
// as a user runs them: a release whose main.py never calls ota.confirm() is kept by `ota confirm`
// across the boots that would roll it back, and `ota rollback` returns the board to the release before.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { firstJson } from './support/cli';
import { promisify } from 'node:util';
import { startPtyBoard } from './serial-board';

const CLI = join(__dirname, '..', 'dist', 'cli.js');

let root: string;
before(() => {
  root = mkdtempSync(join(tmpdir(), 'ota-confirm-'));
});
after(() => rmSync(root, { recursive: true, force: true }));

function ota(args: string[], cwd = root) {
  return spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', timeout: 60_000 });
}

/** Resolves once `child` has printed something to stderr matching `re`. */
function said(child: ChildProcessWithoutNullStreams, re: RegExp): Promise<void> {
  return new Promise((resolve, reject) => {
    let err = '';
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (re.test(err)) resolve();
    });
    child.on('exit', (code) => reject(new Error(`exited ${code}: ${err}`)));
  });
}

test(
  'ota confirm keeps a release its app never confirms across reboots; ota rollback returns to the one before',
  { timeout: 240_000 },
  async () => {
    const app = join(root, 'app');
    mkdirSync(app);
    const release = (v: string) => {
      writeFileSync(join(app, 'main.py'), `print("app ${v}")\n`); // never calls ota.confirm()
      const r = ota(['publish', '--target', 'folder', '--dir', '../site', '--version', v], app);
      assert.equal(r.status, 0, r.stderr);
    };
    release('1.0.0');
    const sim = spawn(process.execPath, [CLI, 'sim', '--fs', join(root, 'flash'), '--pty', '--json']);
    const children: ChildProcessWithoutNullStreams[] = [sim];
    try {
      const serve = spawn(process.execPath, [CLI, 'serve', join(root, 'site'), '--port', '0', '--json']);
      children.push(serve);
      const { url } = await firstJson<{ url: string }>(serve);
      const { path: port } = await firstJson<{ path: string }>(sim);
      writeFileSync(join(app, 'ota_config.json'), JSON.stringify({ source: 'static', url }));

      // No --port: a usage error, as every board command gives it.
      const none = ota(['confirm'], app);
      assert.equal(none.status, 2);
      assert.equal(
        none.stderr,
        'ota: no board given: use --port <path> (ota info --list shows ports) [bad_option]\n' +
          '  fix: ota confirm --help shows the options\n',
      );
      // A board without the updater: what it is and how to install it.
      for (const cmd of ['confirm', 'rollback']) {
        const bare = ota([cmd, '--port', port], app);
        assert.equal(bare.status, 1, bare.stdout);
        assert.equal(
          bare.stderr,
          'ota: The updater is not installed on this board: install it first. [no_updater]\n' +
            '  fix: install the updater first: ota install --port <path> --config <ota_config.json>\n',
        );
      }
      assert.equal(ota(['install', '--port', port, '--config', 'ota_config.json'], app).status, 0);
      // Installed, nothing installed over the air yet: nothing to confirm or roll back, said so, exit 0.
      const idle = ota(['confirm', '--port', port], app);
      assert.equal(idle.status, 0, idle.stderr);
      assert.equal(
        idle.stdout,
        'nothing to confirm: no release on the board waits for confirmation\nrelease     none\nupdater     idle\n',
      );
      const noRollback = ota(['rollback', '--port', port], app);
      assert.equal(noRollback.status, 0, noRollback.stderr);
      assert.match(noRollback.stdout, /^nothing to roll back: no update on the board waits for confirmation/);

      const first = ota(['update', '--port', port], app);
      assert.equal(first.status, 0, first.stderr);
      assert.match(first.stdout, /^1\.0\.0 runs unconfirmed: .*; to keep it now: ota confirm --port \S+\n$/m);
      assert.match(
        ota(['info', '--port', port], app).stdout,
        /^note +1\.0\.0 runs unconfirmed: .*; to keep it now: ota confirm --port \S+\n/m,
      );
      const kept = ota(['confirm', '--port', port], app);
      assert.equal(kept.status, 0, kept.stderr);
      assert.equal(kept.stdout, '1.0.0 confirmed\nrelease     1.0.0\nupdater     idle\n');
      // More boots than confirm_boots (3): the board keeps 1.0.0 and runs its main.py.
      for (let i = 0; i < 4; i++) {
        const boot = ota(['exec', '--port', port, 'import machine; machine.reset()'], app);
        assert.equal(boot.status, 0, boot.stderr);
      }
      const info = ota(['info', '--port', port], app);
      assert.match(info.stdout, /^release +1\.0\.0$/m);
      assert.match(info.stdout, /^updater +idle$/m);
      assert.doesNotMatch(info.stdout, /^note/m);
      const again = ota(['confirm', '--port', port, '--json'], app);
      assert.equal(again.status, 0, again.stderr);
      assert.deepEqual(JSON.parse(again.stdout), { done: false, version: '1.0.0', state: 'idle' });

      // 1.0.1 unconfirmed, rolled back by hand: 1.0.0's files and version again, across a reboot too.
      release('1.0.1');
      assert.match(ota(['update', '--port', port], app).stdout, /^1\.0\.1 runs unconfirmed/m);
      const back = ota(['rollback', '--port', port], app);
      assert.equal(back.status, 0, back.stderr);
      assert.match(
        back.stdout,
        /^rolled back 1\.0\.1 \(requested\), board runs 1\.0\.0\nrelease +1\.0\.0\nupdater +idle\n/,
      );
      assert.match(back.stdout, /^note +the board rolled 1\.0\.1 back .*it runs 1\.0\.0/m);
      assert.equal(ota(['exec', '--port', port, 'import machine; machine.reset()'], app).status, 0);
      const main = ota(['exec', '--port', port, 'print(open("main.py").read())'], app);
      assert.equal(main.stdout.trim(), 'print("app 1.0.0")');
      assert.match(ota(['info', '--port', port], app).stdout, /^release +1\.0\.0$/m);
      const twice = ota(['rollback', '--port', port, '--json'], app);
      assert.equal(twice.status, 0, twice.stderr);
      assert.deepEqual(JSON.parse(twice.stdout), { done: false, version: '1.0.0', state: 'idle' });

      // A board another program holds (ota watch): refused before anything runs, with what to check.
      const watch = spawn(process.execPath, [CLI, 'watch', '--port', port]);
      children.push(watch);
      await said(watch, /watching|Ctrl-C/i);
      const busy = ota(['confirm', '--port', port], app);
      assert.equal(busy.status, 1, busy.stdout);
      assert.match(
        busy.stderr,
        /^ota: cannot open serial port \S+: another program has it open \(a serial monitor, ota watch, an editor\) \[port_open_failed\]\n/,
      );
      assert.match(busy.stderr, /\n {2}fix: .*no other program holds the port\n$/);
    } finally {
      for (const c of children) c.kill();
    }
  },
);

test(
  "a firmware update whose image has not started yet: ota confirm says so and the board's journal keeps waiting",
  { timeout: 60_000 },
  async () => {
    const vb = await startPtyBoard({ partitions: true }); // in this process: the CLI runs alongside
    const run = async (args: string[]) =>
      promisify(execFile)(process.execPath, [CLI, ...args], { cwd: root }).then(
        (r) => ({ status: 0, ...r }),
        (e: { code: number; stdout: string; stderr: string }) => ({ ...e, status: e.code }),
      );
    try {
      const cfg = join(root, 'fw_config.json');
      writeFileSync(cfg, JSON.stringify({ source: 'static', url: 'http://127.0.0.1:9/' }));
      assert.equal((await run(['install', '--port', vb.path, '--config', cfg])).status, 0);
      // As journal.swap() leaves it: 2.0.0 swapped in, its image in ota_1, the bootloader still on ota_0.
      const state = { state: 'confirm_pending', version: '2.0.0', fw: ['ota_1', 'ota_0'], boots: 0 };
      const set = await run([
        'exec',
        '--port',
        vb.path,
        `open(".ota/state.json", "w").write('${JSON.stringify(state)}'); open("version.json", "w").write('{"version": "2.0.0"}')`,
      ]);
      assert.equal(set.status, 0, set.stderr);
      const early = await run(['confirm', '--port', vb.path]);
      assert.equal(early.status, 1, early.stdout);
      assert.equal(
        early.stderr,
        "ota: 2.0.0 is not confirmed: its firmware image has not started yet (it does at the board's next reset) [board_busy]\n" +
          '  fix: wait for the board to finish, or reset it and try again\n',
      );
      const info = await run(['info', '--port', vb.path]);
      assert.match(info.stdout, /^updater +confirm_pending$/m);
    } finally {
      await vb.stop();
    }
  },
);

// The serial commands of `ota` (push, install, info, exec, watch) against the virtual board's pseudo-terminal.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SerialPort } from 'serialport';
import { startPtyBoard, type TestBoard } from './serial-board';

let vb: TestBoard;

before(async () => {
  vb = await startPtyBoard();
});
after(async () => {
  await vb?.stop();
});

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the CLI from source. `during.run` runs once its stderr shows `during.after` (the command
 * says it is listening); once stdout shows `waitFor` the CLI gets SIGINT.
 */
function ota(
  args: string[],
  opts: { waitFor?: RegExp; during?: { after: RegExp; run: () => void } } = {},
): Promise<Run> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  } satisfies SpawnOptions);
  let stdout = '';
  let stderr = '';
  let during = opts.during;
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  child.stdout!.on('data', (d: Buffer) => {
    stdout += d.toString();
    if (opts.waitFor?.test(stdout)) child.kill('SIGINT');
  });
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (during?.after.test(stderr)) {
      during.run();
      during = undefined;
    }
  });
  return new Promise((resolve) =>
    child.on('close', (status) => {
      clearTimeout(killer);
      resolve({ status, stdout, stderr });
    }),
  );
}

test(
  'ota info --json prints the board facts; without --port it says what is missing',
  { timeout: 40_000 },
  async () => {
    const r = await ota(['info', '--port', vb.path, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const info = JSON.parse(r.stdout) as { implementation: string; memFree: number };
    assert.equal(info.implementation, 'micropython');
    assert.ok(info.memFree > 0);
    const human = await ota(['info', '--port', vb.path]);
    assert.match(human.stdout, /^MicroPython \d+\.\d+\.\d+/);
    const none = await ota(['info']);
    assert.equal(none.status, 2);
    assert.match(none.stderr, /--port <path>.*\[bad_option\]/);
  },
);

test(
  'ota exec streams output; a raised exception exits 1 with the traceback',
  { timeout: 40_000 },
  async () => {
    const ok = await ota(['exec', '--port', vb.path, 'for i in range(3): print("n", i)']);
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(ok.stdout.replace(/\r/g, ''), 'n 0\nn 1\nn 2\n');
    const bad = await ota(['exec', '--port', vb.path, '1/0']);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /ZeroDivisionError/);
  },
);

test('ota push syncs a project folder; pushing again writes nothing', { timeout: 40_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ota-cli-push-'));
  writeFileSync(join(dir, 'main.py'), 'print("app")\n');
  mkdirSync(join(dir, 'lib'));
  writeFileSync(join(dir, 'lib', 'x.py'), 'X = "é"\n');
  const first = await ota(['push', '--port', vb.path, dir, '--json']);
  assert.equal(first.status, 0, first.stderr);
  assert.deepEqual((JSON.parse(first.stdout) as { uploaded: string[] }).uploaded.sort(), [
    'lib/x.py',
    'main.py',
  ]);
  assert.equal(readFileSync(join(vb.fsDir, 'lib', 'x.py'), 'utf8'), 'X = "é"\n');
  const again = await ota(['push', '--port', vb.path, dir]);
  assert.match(again.stdout, /0 written \(0 bytes\), 2 unchanged, 0 removed/);
});

test('ota install twice: the second run changes nothing', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ota-cli-install-'));
  const cfg = join(dir, 'ota_config.json');
  writeFileSync(cfg, JSON.stringify({ source: 'static', url: 'http://127.0.0.1:9/' }));
  const project = join(dir, 'weather-station');
  mkdirSync(project);
  const first = await ota(['install', '--port', vb.path, '--config', cfg, '--project', project]);
  assert.equal(first.status, 0, first.stderr);
  assert.match(first.stdout, /installed: .*boot\.py now calls ota\.boot\(\) first/);
  // No "app" in the config: the board is bound to the project's name (what ota publish puts in the manifest).
  const written = JSON.parse(readFileSync(join(vb.fsDir, 'ota_config.json'), 'utf8')) as { app?: string };
  assert.equal(written.app, 'weather-station');
  const second = await ota(['install', '--port', vb.path, '--config', cfg, '--project', project]);
  assert.match(second.stdout, /already installed: nothing changed/);
  // Without --project no folder is guessed: the board binds itself to its first release's app.
  const unbound = await ota(['install', '--port', vb.path, '--config', cfg]);
  assert.equal(unbound.status, 0, unbound.stderr);
  assert.equal(
    (JSON.parse(readFileSync(join(vb.fsDir, 'ota_config.json'), 'utf8')) as { app?: string }).app,
    undefined,
  );
  writeFileSync(cfg, '[1, 2]');
  const bad = await ota(['install', '--port', vb.path, '--config', cfg]);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /\[bad_config\]/);
});

test(
  'Ctrl-C during ota push stops it and leaves the board at its friendly REPL',
  { timeout: 40_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ota-cli-abort-'));
    writeFileSync(join(dir, 'big.bin'), randomBytes(600 * 1024));
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'push', '--port', vb.path, dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // Once the board is being written to (the list of files the push creates exists), press Ctrl-C.
    const until = Date.now() + 20_000;
    while (!existsSync(join(vb.fsDir, '.ota', 'push.new')) && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 20));
    }
    // What the board prints, seen inside it (its port is the CLI's until the CLI exits).
    let said = '';
    const hear = (d: Buffer) => (said += d.toString('latin1'));
    vb.board.on('data', hear);
    child.kill('SIGINT');
    const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(status, 130, 'interrupted: exit 130, as shells report Ctrl-C');
    assert.match(stderr, /interrupted \(Ctrl-C\) \[cancelled\]/);
    // The CLI's last bytes (Ctrl-B after the interrupt) can still be in the pseudo-terminal when
    // it exits, and opening a serial port flushes what the other side has not read yet: the
    // terminal user comes once the board has taken them and is back at its friendly prompt.
    const back = Date.now() + 20_000;
    while (!/\r\n>>> $/.test(said) && Date.now() < back) await new Promise((r) => setTimeout(r, 20));
    vb.board.off('data', hear);
    assert.match(said, /\r\n>>> $/, 'the board left raw mode by itself');
    // A terminal user now finds the friendly REPL, not raw mode.
    const port = new SerialPort({ path: vb.path, baudRate: 115200 });
    await new Promise<void>((res, rej) => port.on('open', res).on('error', rej));
    let seen = '';
    port.on('data', (d: Buffer) => (seen += d.toString('latin1')));
    port.write('6*7\r');
    const stop = Date.now() + 5000;
    while (!/42\r\n>>> /.test(seen) && Date.now() < stop) await new Promise((r) => setTimeout(r, 20));
    await new Promise<void>((res) => port.close(() => res()));
    assert.match(seen, /42\r\n>>> /);
    // The half-written new file went again, with the list.
    assert.equal(existsSync(join(vb.fsDir, 'big.bin')), false, 'nothing under the real name');
    assert.equal(existsSync(join(vb.fsDir, '.ota', 'push.new')), false);
  },
);

test('ota watch --json prints each OTA event as one JSON line', { timeout: 40_000 }, async () => {
  const r = await ota(['watch', '--port', vb.path, '--json'], {
    waitFor: /"ev":"rollback"/,
    // Typed into the board's UART as a user at its console would, once ota watch listens.
    during: {
      after: /^ota: watching .+ \(Ctrl-C to stop\)$/m,
      run: () => vb.board.write('print("OTA:" + \'{"ev":"rollback","to":"1.0.0"}\')\r'),
    },
  });
  assert.equal(r.stdout.trim(), '{"ev":"rollback","to":"1.0.0"}');
  assert.match(r.stderr, new RegExp(`^ota: watching ${vb.path} \\(Ctrl-C to stop\\)\n`));
});

// `ota sim`: the CLI starts a virtual board on a pseudo-terminal that serialport can open.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SerialPort } from 'serialport';

const CLI = ['--import', 'tsx', 'src/cli.ts', 'sim'];

test(
  'ota sim prints its port, answers on it, and stops cleanly on SIGTERM',
  { timeout: 30_000 },
  async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sim-cli-'));
    fs.writeFileSync(path.join(dir, 'main.py'), "print('hello from main')\n");
    const link = path.join(dir, '..', `${path.basename(dir)}.tty`);
    const child = spawn(process.execPath, [...CLI, '--fs', dir, '--link', link, '--heap-kb', '256']);
    try {
      const printed = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('\n')) resolve(out.trim());
        });
        child.once('exit', (code) => reject(new Error(`ota sim exited early with ${code}`)));
      });
      assert.equal(printed, link);
      const port = new SerialPort({ path: link, baudRate: 115200 });
      let got = '';
      port.on('data', (d: Buffer) => (got += d.toString('latin1')));
      await new Promise<void>((r) => port.once('open', () => r()));
      port.write('import gc; print(gc.mem_free() + gc.mem_alloc() <= 256 * 1024)\r');
      const deadline = Date.now() + 10_000;
      while (!got.includes('True\r\n>>> ') && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      assert.ok(got.includes('True\r\n>>> '), got);
      await new Promise<void>((r) => port.close(() => r()));
    } finally {
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
    }
    assert.equal(fs.existsSync(link), false, 'the pseudo-terminal link is gone');
  },
);

test('ota sim without --fs or with a bad number says what is wrong', () => {
  const none = spawnSync(process.execPath, CLI, { encoding: 'utf8' });
  assert.equal(none.status, 2);
  assert.match(none.stderr, /no filesystem folder: use --fs <dir> \[bad_option\]/);
  const bad = spawnSync(process.execPath, [...CLI, '--fs', os.tmpdir(), '--heap-kb', 'lots'], {
    encoding: 'utf8',
  });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--heap-kb must be a positive integer \[bad_option\]/);
  const missing = spawnSync(process.execPath, [...CLI, '--fs', '/nonexistent/board'], { encoding: 'utf8' });
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /\/nonexistent\/board does not exist or is not a folder \[sim_fs_dir\]/);
});

test(
  'ota sim without --pty is the board in this terminal, over its in-process link',
  { timeout: 30_000 },
  () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sim-cli-'));
    try {
      const r = spawnSync(process.execPath, [...CLI, '--fs', dir], {
        input: 'x = 6 * 7\rprint(x)\r\x01print(2**10)\x04\x02',
        encoding: 'utf8',
        timeout: 25_000,
      });
      assert.equal(r.status, 0, r.stderr);
      // The friendly REPL echoes and answers; the raw REPL bytes pass through unchanged.
      assert.match(r.stdout, /print\(x\)\r\n42\r\n>>> /);
      assert.ok(r.stdout.includes('raw REPL; CTRL-B to exit\r\n>OK1024\r\n\x04\x04>'), r.stdout);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  'ota sim --fs-model fat behaves as FAT (names fold case); posix does not; bad values are refused',
  {
    timeout: 60_000,
  },
  () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sim-cli-'));
    try {
      const code = "f=open('Case.txt','w');f.write('folded');f.close()\rprint(open('CASE.TXT').read())\r";
      const fat = spawnSync(
        process.execPath,
        [...CLI, '--fs', dir, '--fs-model', 'fat', '--sector-size', '512'],
        {
          input: code,
          encoding: 'utf8',
          timeout: 25_000,
        },
      );
      assert.equal(fat.status, 0, fat.stderr);
      assert.match(fat.stdout, /\r\nfolded\r\n/);
      fs.rmSync(path.join(dir, 'Case.txt'), { force: true });
      const posix = spawnSync(process.execPath, [...CLI, '--fs', dir, '--fs-model', 'posix'], {
        input: code,
        encoding: 'utf8',
        timeout: 25_000,
      });
      assert.equal(posix.status, 0, posix.stderr);
      assert.match(posix.stdout, /OSError/);
      const bad = spawnSync(process.execPath, [...CLI, '--fs', dir, '--fs-model', 'ntfs'], {
        encoding: 'utf8',
      });
      assert.equal(bad.status, 2);
      assert.match(bad.stderr, /--fs-model must be one of posix, littlefs, fat/);
      const sector = spawnSync(process.execPath, [...CLI, '--fs', dir, '--sector-size', '512'], {
        encoding: 'utf8',
      });
      assert.match(sector.stderr, /--sector-size is 512 or 4096, with --fs-model fat/);
      const help = spawnSync(process.execPath, [...CLI, '--help'], { encoding: 'utf8' });
      assert.match(help.stdout, /--fs-model M/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      fs.rmSync(`${dir}.fsmeta.json`, { force: true });
    }
  },
);

test(
  'ota sim --pty --native-usb --rename --baud: the port re-enumerates under a new name at machine.reset()',
  { timeout: 60_000 },
  async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sim-cli-'));
    const args = [
      '--fs',
      dir,
      '--pty',
      '--native-usb',
      '--rename',
      '--baud',
      '115200',
      '--serial',
      'CAFE01',
      '--json',
    ];
    const child = spawn(process.execPath, [...CLI, ...args]);
    const lines: Record<string, string>[] = [];
    child.stdout.on('data', (d: Buffer) => {
      for (const l of d.toString().split('\n'))
        if (l.trim()) lines.push(JSON.parse(l) as Record<string, string>);
    });
    const until = async (n: number) => {
      const deadline = Date.now() + 20_000;
      while (lines.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    };
    const exec = (port: string, code: string) =>
      spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'exec', '--port', port, code], {
        encoding: 'utf8',
        timeout: 30_000,
      });
    try {
      await until(1);
      const first = lines[0];
      assert.equal(first.serialNumber, 'CAFE01');
      const reset = exec(first.path, 'import machine; machine.reset()');
      assert.match(reset.stderr, /closed.*\[port_closed\]/, 'the port went away under the command');
      await until(3);
      assert.deepEqual(lines.slice(1), [
        { event: 'usb-detach', path: first.path },
        { event: 'usb-attach', path: `${first.path}-1` },
      ]);
      const again = exec(`${first.path}-1`, 'import machine; print(machine.reset_cause())');
      assert.equal(again.status, 0, again.stderr);
      assert.equal(again.stdout.trim(), '5', 'a soft-reset cause, as ESP32 reports after machine.reset()');
    } finally {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
);

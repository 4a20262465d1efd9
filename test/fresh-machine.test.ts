// A fresh machine: Node and git, nothing from Debian. The demo and a serial round trip over a real
// pseudo-terminal work with socat absent from PATH (PATH holds only node, git and sh, as the
// project's own pre-stop check builds it); the socat fallback is proven where socat exists.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const CLI = join(__dirname, '..', 'dist', 'cli.js');

/** A PATH with only node, git and sh: no socat, no Debian extras. */
function freshPath(): { PATH: string; cleanup(): void } {
  const bin = mkdtempSync(join(tmpdir(), 'fresh-bin-'));
  for (const tool of ['node', 'git', 'sh']) {
    const found = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
    if (found) symlinkSync(found, join(bin, tool));
  }
  return { PATH: bin, cleanup: () => rmSync(bin, { recursive: true, force: true }) };
}

function onPath(tool: string, PATH: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`], { env: { PATH } }).status === 0;
}

/** Starts `ota sim --pty --json` and resolves with its first JSON line. */
function startSim(
  env: NodeJS.ProcessEnv,
  fsDir: string,
): {
  child: ChildProcessWithoutNullStreams;
  first: Promise<{ path: string; serialNumber: string; pty: string }>;
} {
  const child = spawn(process.execPath, [CLI, 'sim', '--fs', fsDir, '--pty', '--json'], { env });
  const first = new Promise<{ path: string; serialNumber: string; pty: string }>((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0)
        resolve(JSON.parse(out.slice(0, nl)) as { path: string; serialNumber: string; pty: string });
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('exit', (code) => reject(new Error(`ota sim exited with ${code}: ${err}`)));
  });
  return { child, first };
}

async function stop(child: ChildProcessWithoutNullStreams): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

test('the demo runs with only node, git and sh on PATH (no socat)', { timeout: 120_000 }, () => {
  const fresh = freshPath();
  try {
    assert.equal(onPath('socat', fresh.PATH), false, 'socat is hidden');
    const r = spawnSync(process.execPath, [CLI, 'demo', '--json'], {
      env: { PATH: fresh.PATH, HOME: process.env.HOME ?? tmpdir() },
      encoding: 'utf8',
      timeout: 110_000,
    });
    assert.equal(r.status, 0, r.stderr);
    const summary = JSON.parse(r.stdout) as {
      versions: (string | null)[];
      updates: { confirmed: boolean }[];
    };
    assert.deepEqual(summary.versions, [null, '1.0.0', '1.1.0']);
    assert.ok(summary.updates.every((u) => u.confirmed));
  } finally {
    fresh.cleanup();
  }
});

test(
  'a serial round trip over a real pseudo-terminal (node-pty) with socat hidden',
  { timeout: 60_000 },
  async () => {
    const fresh = freshPath();
    const fsDir = mkdtempSync(join(tmpdir(), 'fresh-board-'));
    const env = { PATH: fresh.PATH, HOME: process.env.HOME ?? tmpdir() };
    const sim = startSim(env, fsDir);
    try {
      const port = await sim.first;
      assert.equal(port.pty, 'node-pty');
      assert.match(port.serialNumber, /^[0-9A-F]{16}$/);
      // Another process, the real serialport package, the raw REPL, a file written and read back.
      const exec = (code: string) =>
        new Promise<{ status: number | null; stdout: string }>((resolve) => {
          const c = spawn(process.execPath, [CLI, 'exec', '--port', port.path, code], { env });
          let stdout = '';
          c.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
          c.once('exit', (status) => resolve({ status, stdout }));
        });
      const r = await exec("open('hi.txt','w').write('fresh'); print(6*7, open('hi.txt').read())");
      assert.equal(r.status, 0);
      assert.equal(r.stdout.replace(/\r/g, ''), '42 fresh\n');
      const list = spawnSync(process.execPath, [CLI, 'info', '--list', '--json'], { env, encoding: 'utf8' });
      const ports = JSON.parse(list.stdout) as { path: string; serialNumber?: string; likely: boolean }[];
      assert.ok(
        ports.some((p) => p.path === port.path && p.serialNumber === port.serialNumber && p.likely),
        'ota info --list shows the virtual board with its USB serial number',
      );
    } finally {
      await stop(sim.child);
      rmSync(fsDir, { recursive: true, force: true });
      fresh.cleanup();
    }
  },
);

test('without node-pty and socat, ota sim --pty fails at once with one line why', { timeout: 30_000 }, () => {
  const fresh = freshPath();
  const fsDir = mkdtempSync(join(tmpdir(), 'fresh-board-'));
  try {
    const t0 = Date.now();
    const r = spawnSync(process.execPath, [CLI, 'sim', '--fs', fsDir, '--pty'], {
      env: { PATH: fresh.PATH, OTA_PTY: 'socat' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    assert.equal(r.status, 1);
    assert.ok(Date.now() - t0 < 10_000, 'fails fast');
    assert.match(
      r.stderr,
      /^ota: cannot make a pseudo-terminal at .*: node-pty could not .* neither could socat .*\[sim-pty\]\n$/,
    );
  } finally {
    rmSync(fsDir, { recursive: true, force: true });
    fresh.cleanup();
  }
});

const hasSocat = onPath('socat', process.env.PATH ?? '');
test(
  'the socat fallback makes a working pseudo-terminal',
  {
    timeout: 60_000,
    skip:
      !hasSocat && process.env.CI !== 'true'
        ? 'socat not installed (bash scripts/install-system-deps.sh)'
        : false,
  },
  async () => {
    const fsDir = mkdtempSync(join(tmpdir(), 'socat-board-'));
    writeFileSync(join(fsDir, 'main.py'), '');
    const sim = startSim({ ...process.env, OTA_PTY: 'socat' }, fsDir);
    try {
      const port = await sim.first;
      assert.equal(port.pty, 'socat');
      const r = spawnSync(process.execPath, [CLI, 'exec', '--port', port.path, 'print(6*7)'], {
        encoding: 'utf8',
        timeout: 30_000,
      });
      assert.equal(r.stdout.replace(/\r/g, ''), '42\n', r.stderr);
    } finally {
      await stop(sim.child);
      rmSync(fsDir, { recursive: true, force: true });
    }
  },
);

// The `ota` command as a user runs it: the built CLI (dist/cli.js; `npm run build`, as `npm test`
// does first) in its own process, async so servers in the test process can answer it, with a HOME
// of the test's own and none of the machine's tokens or registry logins.
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';

export const CLI = join(__dirname, '..', '..', 'dist', 'cli.js');

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** HOME, and the config folders under it (keys, docker/podman logins). */
  home: string;
  /** The working folder (default: the repository). */
  cwd?: string;
  /** Variables added to the clean environment (tokens, registry users). */
  env?: Record<string, string>;
  /** Killed after this long (default 30 s): a hung command fails its test instead of the run. */
  timeoutMs?: number;
}

export function ota(args: string[], opts: RunOptions): Promise<Run> {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: opts.home,
    XDG_RUNTIME_DIR: opts.home,
    XDG_CONFIG_HOME: join(opts.home, '.config'),
    DOCKER_CONFIG: join(opts.home, '.docker'),
    // The test's own virtual boards' ports (support/own-ports.ts), so a board that resets is found again.
    ...(process.env.OTA_PORTS_DIR ? { OTA_PORTS_DIR: process.env.OTA_PORTS_DIR } : {}),
    ...opts.env,
  };
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, ...args], { env, cwd: opts.cwd ?? join(__dirname, '..', '..') });
    const killer = setTimeout(() => p.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('close', (status) => {
      clearTimeout(killer);
      resolve({ status, stdout, stderr });
    });
  });
}

/**
 * A failure told the one way (src/cli/common.ts, reportError): `ota: <message> [<code>]`, then the
 * fix on a `  fix:` line (none when `fix` is null), and exit `status`.
 */
export function failsWith(r: Run, code: string, fix: RegExp | null, status = 1): void {
  assert.equal(r.status, status, r.stderr);
  const [said, ...rest] = r.stderr.trimEnd().split('\n');
  assert.match(said!, new RegExp(`^ota: .+ \\[${code}\\]$`), r.stderr);
  if (fix) assert.match(rest.join('\n'), new RegExp(`^  fix: ${fix.source}`), r.stderr);
  else assert.deepEqual(rest, [], r.stderr);
}

/** The first line `child` prints on stdout, as JSON (`ota serve --json`, `ota sim --pty --json`). */
export function firstJson<T>(child: ChildProcessWithoutNullStreams): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve(JSON.parse(out.slice(0, nl)) as T);
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) => reject(new Error(`exited ${code} before its first line: ${err}`)));
  });
}

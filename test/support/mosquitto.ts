// Debian's mosquitto on 127.0.0.1 with its own config: a plain listener and a TLS listener (a local CA
// made with openssl, the server certificate valid for 127.0.0.1), both behind a password file.
// Missing mosquitto skips the caller outside CI (one line why) and fails under CI=true.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { connect as netConnect } from 'node:net';

export interface Mosquitto {
  /** mqtt://127.0.0.1:<port> (password required) */
  url: string;
  /** mqtts://127.0.0.1:<port> (password required, server certificate from `caPem`) */
  tlsUrl: string;
  port: number;
  tlsPort: number;
  user: string;
  password: string;
  caPem: string;
  dir: string;
  /** Stops the broker (SIGTERM, then waits for it to exit). */
  stop(): Promise<void>;
  /** Starts it again on the same ports (after stop()). */
  restart(): Promise<void>;
}

const BIN = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto'];

function findBin(): string | undefined {
  return BIN.find((b) => existsSync(b));
}

/** Why mosquitto cannot run here, or undefined when it can. Throws under CI=true. */
export function mosquittoMissing(): string | undefined {
  const missing = !findBin()
    ? 'mosquitto is not installed (bash scripts/install-system-deps.sh)'
    : !existsSync('/usr/bin/mosquitto_passwd')
      ? 'mosquitto_passwd is not installed (bash scripts/install-system-deps.sh)'
      : undefined;
  if (missing && process.env.CI === 'true') throw new Error(missing);
  return missing;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

function makeCa(dir: string): void {
  const ssl = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  };
  ssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '30',
    '-subj',
    '/CN=ota test CA',
  );
  ssl(
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'server.key',
    '-out',
    'server.csr',
    '-subj',
    '/CN=127.0.0.1',
  );
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  ssl(
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.pem',
    '-days',
    '30',
    '-extfile',
    'san.ext',
  );
}

function waitPort(port: number, ms: number): Promise<void> {
  const end = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const attempt = (): void => {
      const s = netConnect({ host: '127.0.0.1', port });
      s.once('connect', () => {
        s.destroy();
        resolve();
      });
      s.once('error', () => {
        s.destroy();
        if (Date.now() > end) reject(new Error(`mosquitto did not listen on ${port}`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

/** A CA that signed nothing the broker presents (for "untrusted certificate" tests), as PEM. */
export function otherCaPem(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ota-ca-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        'k.pem',
        '-out',
        'ca.pem',
        '-days',
        '2',
        '-subj',
        '/CN=other CA',
      ],
      { cwd: dir, stdio: 'pipe' },
    );
    return readFileSync(join(dir, 'ca.pem'), 'utf8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Starts mosquitto; `fdLimit` raises its open-file limit (ulimit -n, in the shell that launches it) for
 * bench runs with thousands of connections.
 */
export async function startMosquitto(opts: { fdLimit?: number } = {}): Promise<Mosquitto> {
  const bin = findBin();
  if (!bin) throw new Error('mosquitto is not installed');
  const dir = mkdtempSync(join(tmpdir(), 'ota-mosquitto-'));
  const user = 'fleet';
  const password = 'pw-' + Math.random().toString(36).slice(2);
  execFileSync('/usr/bin/mosquitto_passwd', ['-b', '-c', join(dir, 'passwd'), user, password], {
    stdio: 'pipe',
  });
  makeCa(dir);
  const port = await freePort();
  const tlsPort = await freePort();
  writeFileSync(
    join(dir, 'mosquitto.conf'),
    [
      // Started as root, mosquitto switches to the user "mosquitto", who cannot read this private folder.
      `user ${userInfo().username}`,
      'per_listener_settings false',
      'allow_anonymous false',
      `password_file ${join(dir, 'passwd')}`,
      'persistence false',
      'max_queued_messages 1000',
      'max_inflight_messages 100',
      `listener ${port} 127.0.0.1`,
      `listener ${tlsPort} 127.0.0.1`,
      `cafile ${join(dir, 'ca.pem')}`,
      `certfile ${join(dir, 'server.pem')}`,
      `keyfile ${join(dir, 'server.key')}`,
      'log_dest none',
      '',
    ].join('\n'),
  );
  let child: ChildProcess | undefined;
  const launch = async (): Promise<void> => {
    const cmd = `${opts.fdLimit ? `ulimit -n ${opts.fdLimit} && ` : ''}exec ${bin} -c ${join(dir, 'mosquitto.conf')}`;
    child = spawn('/bin/sh', ['-c', cmd], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    try {
      await waitPort(port, 5000);
      await waitPort(tlsPort, 5000);
    } catch (e) {
      child.kill();
      throw new Error(`${(e as Error).message}: ${err}`, { cause: e });
    }
  };
  const stop = async (): Promise<void> => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill('SIGTERM');
    });
  };
  await launch();
  return {
    url: `mqtt://127.0.0.1:${port}`,
    tlsUrl: `mqtts://127.0.0.1:${tlsPort}`,
    port,
    tlsPort,
    user,
    password,
    caPem: readFileSync(join(dir, 'ca.pem'), 'utf8'),
    dir,
    stop,
    restart: launch,
  };
}

/** Stops the broker and removes its folder. */
export async function disposeMosquitto(m: Mosquitto): Promise<void> {
  await m.stop();
  rmSync(m.dir, { recursive: true, force: true });
}

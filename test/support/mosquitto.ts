// Debian's mosquitto on 127.0.0.1 with its own config: a plain listener and a TLS listener (a local CA
// made with openssl, the server certificate valid for 127.0.0.1), both behind a password file.
// Missing mosquitto skips the caller outside CI (one line why) and fails under CI=true.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort, launch, missingService, onFreePorts, selfSigned, type Service } from './service';

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
  return missingService([findBin() ?? BIN[0]!, '/usr/bin/mosquitto_passwd', 'openssl']);
}

function makeCa(dir: string): void {
  const ssl = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  };
  selfSigned(dir, 'ca', '/CN=ota test CA', 30);
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

/** Resolves once something accepts a TCP connection on the port. */
function accepts(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = netConnect({ host: '127.0.0.1', port });
    s.once('connect', () => (s.destroy(), resolve()));
    s.once('error', (err) => (s.destroy(), reject(err)));
  });
}

/** A CA that signed nothing the broker presents (for "untrusted certificate" tests), as PEM. */
export function otherCaPem(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ota-ca-'));
  try {
    return readFileSync(selfSigned(dir, 'ca', '/CN=other CA').cert, 'utf8');
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
  let service: Service | undefined;
  let port = 0;
  let tlsPort = 0;
  const start = async (): Promise<void> => {
    const cmd = `${opts.fdLimit ? `ulimit -n ${opts.fdLimit} && ` : ''}exec ${bin} -c ${join(dir, 'mosquitto.conf')}`;
    service = await launch(
      '/bin/sh',
      ['-c', cmd],
      () => Promise.all([accepts(port), accepts(tlsPort)]),
      5000,
      / running$/m,
    );
  };
  // Ports picked, then bound by mosquitto: another process may take one meanwhile, so try again.
  await onFreePorts(async () => {
    port = await freePort();
    tlsPort = await freePort();
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
        // Its log says when every listener is bound (client connections left out).
        'log_dest stderr',
        'connection_messages false',
        '',
      ].join('\n'),
    );
    await start();
  });
  const stop = async (): Promise<void> => {
    const s = service;
    service = undefined;
    await s?.stop();
  };
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
    restart: start,
  };
}

/** Stops the broker and removes its folder. */
export async function disposeMosquitto(m: Mosquitto): Promise<void> {
  await m.stop();
  rmSync(m.dir, { recursive: true, force: true });
}

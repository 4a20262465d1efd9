// How the tests start a Debian service (mosquitto, docker-registry) on 127.0.0.1: what must be
// installed, a free port, a throwaway certificate, and the process itself, up once it answers and
// stopped with the test.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { basename, delimiter, dirname, join } from 'node:path';

/**
 * Where a program is found the way the tests run it: on PATH, or in the sbin folder beside a
 * PATH folder (Debian puts mosquitto in /usr/sbin, which a user's PATH often leaves out). A tool
 * hidden from PATH counts as not installed, even where its file exists.
 */
export function findTool(name: string): string | undefined {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  const withSbin = dirs.flatMap((d) => (basename(d) === 'bin' ? [d, join(dirname(d), 'sbin')] : [d]));
  return withSbin.map((d) => join(d, name)).find((p) => existsSync(p));
}

/**
 * Why the service cannot run here (the tools missing, by name or by path), or undefined. Outside CI the
 * caller skips with this one line; under CI=true a missing part is a failure, so it throws.
 */
export function missingService(tools: string[]): string | undefined {
  const missing = [...new Set(tools.map((t) => basename(t)))].filter((t) => !findTool(t));
  if (!missing.length) return undefined;
  const why = `needs ${missing.join(', ')} (bash scripts/install-system-deps.sh)`;
  if (process.env.CI === 'true') throw new Error(why);
  return why;
}

/** A TCP port on 127.0.0.1 that nothing listens on now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

/** A self-signed RSA certificate made by openssl in `dir`: `<name>.key` and `<name>.pem`. */
export function selfSigned(
  dir: string,
  name: string,
  subject: string,
  days = 2,
): { key: string; cert: string } {
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.pem`);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      String(days),
      '-subj',
      subject,
    ],
    { stdio: 'pipe' },
  );
  return { key, cert };
}

export interface Service {
  proc: ChildProcess;
  /** The last 4000 characters it wrote to stderr. */
  log(): string;
  /** SIGTERM, then waits for it to exit (nothing when it has already). */
  stop(): Promise<void>;
}

/**
 * Starts `cmd args` and waits until `ready(log)` stops throwing (tried every 50 ms for `ms`); fails
 * with the service's stderr if it exits first or never answers. With `listening`, ready is tried
 * only once the service's stderr matches it (it says it has bound its ports): until then another
 * process that holds the port could answer for it.
 */
export async function launch(
  cmd: string,
  args: string[],
  ready: (log: string) => Promise<unknown>,
  ms = 10_000,
  listening?: RegExp,
): Promise<Service> {
  const proc = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  let bound = listening === undefined;
  proc.stderr!.on('data', (d: Buffer) => {
    log = (log + d.toString()).slice(-4000);
    bound ||= listening!.test(log);
  });
  const service: Service = {
    proc,
    log: () => log,
    stop: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const gone = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await gone;
    },
  };
  const end = Date.now() + ms;
  for (;;) {
    if (proc.exitCode !== null) throw new PortLost(`${cmd} exited: ${log}`);
    try {
      if (!bound) throw new Error(`it has not said it listens (${listening!.source})`);
      await ready(log);
      return service;
    } catch (err) {
      if (Date.now() > end) {
        await service.stop();
        throw new Error(`${cmd} did not answer: ${(err as Error).message} ${log}`, { cause: err });
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** A service that exited while starting (on ports from freePort: maybe taken meanwhile by another process). */
export class PortLost extends Error {}

/**
 * Runs `start` (which picks ports with freePort and launches on them) again, up to `tries` times,
 * when the service exits while starting: a port given back by freePort can be taken by another
 * process before the service binds it.
 */
export async function onFreePorts<T>(start: () => Promise<T>, tries = 3): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await start();
    } catch (err) {
      if (!(err instanceof PortLost) || i >= tries) throw err;
    }
  }
}

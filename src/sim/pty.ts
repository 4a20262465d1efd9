// Puts a virtual board behind a pseudo-terminal, so serial tools (Node's serialport, mpremote, screen)
// open it as they would a USB serial port. socat owns the pty; its stdin/stdout are the board's UART.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { OtaError } from '../core/errors';
import type { VirtualBoard } from './board';

let counter = 0;

async function waitFor(check: () => boolean, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return check();
}

/**
 * Exposes the board's UART as a pseudo-terminal at linkPath (a symlink to the /dev/pts device).
 * The host closing and reopening the port (a cable pulled and plugged back) leaves the board running.
 */
export async function exposeOnPty(
  board: VirtualBoard,
  linkPath?: string,
): Promise<{ path: string; close(): Promise<void> }> {
  const link = path.resolve(linkPath ?? path.join(os.tmpdir(), `ota-sim-${process.pid}-${++counter}`));
  if (fs.existsSync(link)) {
    throw new OtaError(
      'sim_pty_exists',
      `${link} already exists; choose another path for the board's serial port`,
    );
  }
  // ignoreeof: a host closing the port is not the end of the board's UART.
  const socat = spawn('socat', [`pty,link=${link},raw,echo=0,ignoreeof`, 'stdio'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    socat.once('exit', () => {
      exited = true;
      resolve();
    });
    socat.once('error', () => {
      exited = true;
      resolve();
    });
  });
  let stderr = '';
  socat.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const toHost = (chunk: Buffer): void => {
    if (!exited) socat.stdin.write(chunk);
  };
  socat.stdin.on('error', () => undefined);
  socat.stdout.on('data', (d: Buffer) => board.write(d));
  board.on('data', toHost);
  if (!(await waitFor(() => exited || fs.existsSync(link), 5000)) || exited) {
    board.off('data', toHost);
    socat.kill();
    throw new OtaError(
      'sim_pty',
      `could not create a pseudo-terminal at ${link} with socat: ${stderr.trim() || 'socat did not start'}`,
    );
  }
  return {
    path: link,
    async close() {
      board.off('data', toHost);
      if (!exited) socat.kill('SIGTERM');
      await exit;
    },
  };
}

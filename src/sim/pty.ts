// Puts a virtual board behind a pseudo-terminal, so outside serial tools (mpremote, screen, Thonny,
// Node's serialport) open it as they would a USB serial port. The pty pair comes from
// @lydell/node-pty's prebuilt binary (openpty(3), no process spawned); where that cannot load,
// socat makes it. Windows has no pseudo-terminals: there the in-process link (./usb) is the way.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tty from 'node:tty';
import { announcePort } from '../core/serial/discover';
import { OtaError } from '../core/errors';
import type { VirtualBoard } from './board';
import { followUsb, usbIdentity, type BoardPort } from './usb';

let counter = 0;

async function waitFor(check: () => boolean, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return check();
}

/** The UART's two directions, as a pty provider wires them. */
interface Wire {
  toBoard(chunk: Buffer): void;
}

type Opened = { close(): Promise<void>; send(chunk: Buffer): void };

interface PtyBinding {
  open(cols: number, rows: number): { master: number; slave: number; pty: string };
}

/** node-pty's native binding, or the reason it cannot load here. */
function ptyBinding(): PtyBinding | Error {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { requireBinary } = require('@lydell/node-pty/requireBinary') as {
      requireBinary(file: string): PtyBinding;
    };
    const binding = requireBinary('pty.node');
    if (typeof binding.open !== 'function') return new Error('this build of node-pty has no open()');
    return binding;
  } catch (err) {
    return err as Error;
  }
}

/**
 * openpty(3) through node-pty: we hold the slave side open without reading it (so a host closing the
 * port does not hang up the master, like socat's ignoreeof) and raw (no echo, no CR/LF mapping).
 */
function openWithNodePty(binding: PtyBinding, link: string, wire: Wire): Opened {
  const pair = binding.open(80, 24);
  const slave = new tty.ReadStream(pair.slave);
  slave.setRawMode(true);
  const master = new tty.ReadStream(pair.master);
  master.on('data', (d: Buffer) => wire.toBoard(d));
  master.on('error', () => undefined);
  try {
    fs.symlinkSync(pair.pty, link);
  } catch (err) {
    master.destroy();
    slave.destroy();
    throw err;
  }
  return {
    send: (chunk) => {
      if (!master.destroyed) master.write(chunk);
    },
    close: async () => {
      fs.rmSync(link, { force: true });
      master.destroy();
      slave.destroy();
    },
  };
}

/** socat owns the pty; its stdin/stdout are the board's UART. */
async function openWithSocat(link: string, wire: Wire, why: Error): Promise<Opened> {
  // ignoreeof: a host closing the port is not the end of the board's UART.
  const socat = spawn('socat', [`pty,link=${link},raw,echo=0,ignoreeof`, 'stdio'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let exited = false;
  let spawnError = '';
  const exit = new Promise<void>((resolve) => {
    socat.once('exit', () => {
      exited = true;
      resolve();
    });
    socat.once('error', (err) => {
      spawnError = err.message;
      exited = true;
      resolve();
    });
  });
  let stderr = '';
  socat.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  socat.stdin.on('error', () => undefined);
  socat.stdout.on('data', (d: Buffer) => wire.toBoard(d));
  if (!(await waitFor(() => exited || fs.existsSync(link), 5000)) || exited) {
    socat.kill();
    throw new OtaError(
      'sim-pty',
      `cannot make a pseudo-terminal at ${link}: node-pty could not (${why.message.split('\n')[0]}) ` +
        `and neither could socat (${stderr.trim() || spawnError || 'it did not start'}). ` +
        (process.platform === 'win32'
          ? 'Windows has no pseudo-terminals: use the virtual board over its in-process link (ota sim without --pty, or VS Code).'
          : 'Reinstall with npm ci (node-pty ships prebuilt binaries), or install socat.'),
    );
  }
  return {
    send: (chunk) => {
      if (!exited) socat.stdin.write(chunk);
    },
    close: async () => {
      if (!exited) socat.kill('SIGTERM');
      await exit;
    },
  };
}

/** Which tool makes pseudo-terminals here: 'node-pty', else 'socat' (tried when a pty is opened). */
export function ptyProvider(): 'node-pty' | 'socat' {
  return process.env.OTA_PTY === 'socat' || ptyBinding() instanceof Error ? 'socat' : 'node-pty';
}

/**
 * Exposes the board's UART as a pseudo-terminal at linkPath (a symlink to the /dev/pts device),
 * announced to port listing with the board's USB serial number. The host closing and reopening the
 * port (a cable pulled and plugged back) leaves the board running; a native-USB reset (usbReset)
 * takes the pty away and makes a new one (at `<linkPath>-<n>` when the board renames).
 * OTA_PTY=socat forces the socat fallback (its test).
 */
export async function exposeOnPty(board: VirtualBoard, linkPath?: string): Promise<BoardPort> {
  const base = path.resolve(linkPath ?? path.join(os.tmpdir(), `ota-sim-${process.pid}-${++counter}`));
  const binding = process.env.OTA_PTY === 'socat' ? new Error('OTA_PTY=socat') : ptyBinding();
  return followUsb(
    board,
    (n) => (n ? `${base}-${n}` : base),
    async (link) => {
      if (fs.existsSync(link) || isDanglingLink(link)) {
        throw new OtaError(
          'sim-pty-exists',
          `${link} already exists; choose another path for the board's serial port`,
        );
      }
      const wire: Wire = { toBoard: (d) => board.write(d) };
      const opened =
        binding instanceof Error
          ? await openWithSocat(link, wire, binding)
          : openWithNodePty(binding, link, wire);
      const toHost = (chunk: Buffer): void => opened.send(chunk);
      board.on('data', toHost);
      const withdraw = announcePort(link, usbIdentity(board));
      return async () => {
        withdraw();
        board.off('data', toHost);
        await opened.close();
      };
    },
  );
}

function isDanglingLink(p: string): boolean {
  try {
    return fs.lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

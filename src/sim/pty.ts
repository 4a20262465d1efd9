// Puts a virtual board behind a pseudo-terminal, so outside serial tools (mpremote, screen, Thonny,
// Node's serialport) open it as they would a USB serial port. The pty pair comes from
// @lydell/node-pty's prebuilt binary, in a small relay process (./pty-relay: why there); where that
// cannot load, socat makes it. Windows has no pseudo-terminals: there the in-process link (./usb)
// is the way.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
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

/** Can node-pty's prebuilt binary load here? (Else the reason.) */
function nodePtyLoads(): true | Error {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { requireBinary } = require('@lydell/node-pty/requireBinary') as {
      requireBinary(file: string): { open?: unknown };
    };
    return typeof requireBinary('pty.node').open === 'function'
      ? true
      : new Error('this build of node-pty has no open()');
  } catch (err) {
    return err as Error;
  }
}

/** Runs ./pty-relay (bundled: dist/pty-relay.js; from source through tsx) for one pty at `link`. */
async function openWithRelay(link: string, wire: Wire): Promise<Opened> {
  const args = __filename.endsWith('.ts')
    ? ['--import', 'tsx', path.join(__dirname, 'pty-relay.ts'), link]
    : [path.join(__dirname, 'pty-relay.js'), link];
  const relay = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  return supervise(relay, link, wire, 'the node-pty relay', (stderr) => stderr.startsWith('ready '));
}

/** Wires a relay process (pty-relay or socat) to the board and waits until its pty is there. */
async function supervise(
  child: ChildProcessWithoutNullStreams,
  link: string,
  wire: Wire,
  what: string,
  ready: (stderr: string) => boolean,
): Promise<Opened> {
  let exited = false;
  let spawnError = '';
  const exit = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      resolve();
    });
    child.once('error', (err) => {
      spawnError = err.message;
      exited = true;
      resolve();
    });
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.on('error', () => undefined);
  child.stdout.on('data', (d: Buffer) => wire.toBoard(d));
  if (!(await waitFor(() => exited || (ready(stderr) && fs.existsSync(link)), 10_000)) || exited) {
    child.kill();
    throw new Error(`${what}: ${stderr.trim() || spawnError || 'it did not start'}`);
  }
  return {
    send: (chunk) => {
      if (!exited) child.stdin.write(chunk);
    },
    close: async () => {
      if (!exited) child.kill('SIGTERM');
      await exit;
    },
  };
}

/** socat owns the pty; its stdin/stdout are the board's UART. */
function openWithSocat(link: string, wire: Wire): Promise<Opened> {
  // ignoreeof: a host closing the port is not the end of the board's UART.
  const socat = spawn('socat', [`pty,link=${link},raw,echo=0,ignoreeof`, 'stdio'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  return supervise(socat, link, wire, 'socat', () => true);
}

/** Which tool makes pseudo-terminals here: 'node-pty', else 'socat' (tried when a pty is opened). */
export function ptyProvider(): 'node-pty' | 'socat' {
  return process.env.OTA_PTY !== 'socat' && nodePtyLoads() === true ? 'node-pty' : 'socat';
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
  const nodePty = process.env.OTA_PTY === 'socat' ? new Error('OTA_PTY=socat') : nodePtyLoads();
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
      const opened = await openPty(link, wire, nodePty);
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

/** node-pty's relay, else socat; one clear error when neither can. */
async function openPty(link: string, wire: Wire, nodePty: true | Error): Promise<Opened> {
  let why = nodePty === true ? undefined : nodePty;
  if (!why) {
    try {
      return await openWithRelay(link, wire);
    } catch (err) {
      why = err as Error;
    }
  }
  try {
    return await openWithSocat(link, wire);
  } catch (err) {
    throw new OtaError(
      'sim-pty',
      `cannot make a pseudo-terminal at ${link}: node-pty could not (${why.message.split('\n')[0]}) ` +
        `and neither could socat (${(err as Error).message.replace(/^socat: /, '')}). ` +
        (process.platform === 'win32'
          ? 'Windows has no pseudo-terminals: use the virtual board over its in-process link (ota sim without --pty, or VS Code).'
          : 'Reinstall with npm ci (node-pty ships prebuilt binaries), or install socat.'),
    );
  }
}

function isDanglingLink(p: string): boolean {
  try {
    return fs.lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

// `ota sim`: a virtual MicroPython board, in this terminal (its in-process serial link) or on a
// pseudo-terminal that outside tools open (mpremote, screen, Thonny, other `ota` commands).
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { OtaError } from '../core/errors';
import { openTransport } from '../core/serial/transport';
import { VirtualBoard } from '../sim/board';
import { FS_MODELS } from '../sim/flash';
import { exposeOnPty, ptyProvider } from '../sim/pty';
import { exposeOnLink, type BoardPort } from '../sim/usb';
import { jsonOption, output, parseCommand, untilStopped } from './common';

const help = `usage: ota sim --fs <dir> [--pty | --link <path>] [options]

Starts a virtual MicroPython board (the real interpreter, WebAssembly) whose
filesystem is the folder <dir> (made, empty, when it does not exist). Needs
nothing but Node, on Linux, macOS and Windows.

Without --pty the board's console is this terminal: type Python at its REPL;
Ctrl-C goes to the board, Ctrl-] quits. With a pipe on standard input, the
board gets the piped bytes and ota sim quits once the board is quiet.

With --pty (Linux, macOS) the board is put on a pseudo-terminal, whose path is
printed on the first line: any serial tool opens it (ota --port <path>,
mpremote connect <path>, screen <path> 115200). Runs until Ctrl-C or SIGTERM.

  --pty              serve the board on a pseudo-terminal (a temp path)
  --link <path>      the same, at <path> (a symlink to the /dev/pts device)
  --baud N           pace the serial line both ways at N baud, like a USB-UART
                     bridge (115200: about 11.5 KB/s); default: no limit
  --native-usb       on a hard reset (machine.reset(), an update) the port
                     vanishes for a moment and comes back with the same USB
                     serial number, as on ESP32-S3 and RP2040 boards
  --rename           with --native-usb: it comes back under a new name
  --serial <sn>      the USB serial number it reports (default: random)
  --flash-kb N       flash size (default 2048): writes beyond it fail with ENOSPC
  --heap-kb N        MicroPython heap (default 192): MemoryError beyond it
  --fs-model M       how the flash behaves through a power cut: posix (default;
                     each change atomic), littlefs (4 KB block writes, moves
                     between folders in two commits) or fat (sector writes,
                     names case-insensitive, renames that can cross-link)
  --sector-size N    with --fs-model fat: 512 or 4096 (default)
  --cut-after N      cut the power right after the N-th filesystem change (a
                     block or sector write with littlefs and fat)
  --cut-mode M       how the change at the cut lands: after (whole, default),
                     drop (not at all) or tear (half of its bytes)
  --no-sha1          hashlib without sha1, as on builds without it
  --json             with --pty: {"path", "serialNumber", "pty"} on the first
                     line, then one {"event", "path"} line per USB change`;

function positiveInt(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0)
    throw new OtaError('bad_option', `--${name} must be a positive integer`);
  return n;
}

function oneOf<T extends string>(
  name: string,
  value: string | undefined,
  allowed: readonly T[],
): T | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value))
    throw new OtaError('bad_option', `--${name} must be one of ${allowed.join(', ')}`);
  return value as T;
}

/** Ctrl-]: telnet's and miniterm's escape, so Ctrl-C can go to the board. */
const QUIT = 0x1d;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(argv, help, {
    ...jsonOption,
    fs: { type: 'string' },
    pty: { type: 'boolean' },
    link: { type: 'string' },
    baud: { type: 'string' },
    'native-usb': { type: 'boolean' },
    rename: { type: 'boolean' },
    serial: { type: 'string' },
    'flash-kb': { type: 'string' },
    'heap-kb': { type: 'string' },
    'cut-after': { type: 'string' },
    'cut-mode': { type: 'string' },
    'fs-model': { type: 'string' },
    'sector-size': { type: 'string' },
    'no-sha1': { type: 'boolean' },
  });
  if (!parsed) return 0;
  const { values } = parsed;
  if (!values.fs) throw new OtaError('bad_option', 'no filesystem folder: use --fs <dir>');
  if (values.rename && !values['native-usb']) throw new OtaError('bad_option', '--rename needs --native-usb');
  const baud = positiveInt('baud', values.baud);
  if (baud !== undefined && baud < 300) throw new OtaError('bad_option', '--baud must be at least 300');
  const model = oneOf('fs-model', values['fs-model'], FS_MODELS);
  const cutMode = oneOf('cut-mode', values['cut-mode'], ['after', 'drop', 'tear'] as const);
  const sectorSize = positiveInt('sector-size', values['sector-size']);
  if (sectorSize !== undefined && (model !== 'fat' || ![512, 4096].includes(sectorSize)))
    throw new OtaError('bad_option', '--sector-size is 512 or 4096, with --fs-model fat');
  if (cutMode !== undefined && values['cut-after'] === undefined)
    throw new OtaError('bad_option', '--cut-mode needs --cut-after');
  // A new folder is a blank board's flash, made as `mkdir` would; a missing parent is more likely a
  // typo, and is refused (sim_fs_dir).
  if (!existsSync(values.fs) && existsSync(dirname(resolve(values.fs)))) mkdirSync(values.fs);
  const board = await VirtualBoard.start({
    fsDir: values.fs,
    fs: model,
    sectorSize,
    cutMode,
    flashKb: positiveInt('flash-kb', values['flash-kb']),
    heapKb: positiveInt('heap-kb', values['heap-kb']),
    cutAfterMutations: positiveInt('cut-after', values['cut-after']),
    sha1: !values['no-sha1'],
    baud,
    serialNumber: values.serial,
    usbReset: values['native-usb'] ? { rename: values.rename } : undefined,
  });
  const onPty = values.pty || values.link !== undefined;
  let port: BoardPort;
  try {
    port = onPty ? await exposeOnPty(board, values.link) : await exposeOnLink(board);
  } catch (e) {
    await board.stop();
    throw e;
  }
  const why = onPty ? await servePty(board, port, values.json) : await terminal(board, port);
  if (why) console.error(`virtual board ${why}`);
  await port.close();
  await board.stop();
  return 0;
}

function powerCut(board: VirtualBoard, stop: (why: string) => void): void {
  board.once('poweroff', () => stop(`power cut after ${board.mutations} filesystem changes`));
}

async function servePty(board: VirtualBoard, port: BoardPort, json: boolean | undefined): Promise<string> {
  const pty = ptyProvider();
  output(json, { path: port.path, serialNumber: port.serialNumber, pty }, () => {
    console.log(port.path);
    console.error(
      `virtual board on ${port.path} (USB serial ${port.serialNumber}, pty by ${pty}); Ctrl-C stops`,
    );
  });
  const said = (event: string) => () =>
    output(json, { event, path: port.path }, () =>
      console.error(event === 'usb-detach' ? 'board left the USB bus (reset)' : `board back on ${port.path}`),
    );
  board.on('usb-detach', said('usb-detach'));
  // Said once the port can be opened again (usb.ts emits usb-port when its new name exists).
  board.on('usb-port', said('usb-attach'));
  return untilStopped('stopped', (stop) => powerCut(board, stop));
}

/** The board's console in this terminal, over its in-process link. */
async function terminal(board: VirtualBoard, port: BoardPort): Promise<string | undefined> {
  const stdin = process.stdin;
  const interactive = stdin.isTTY === true;
  if (interactive) console.error('virtual board in this terminal: Ctrl-C goes to the board, Ctrl-] quits');
  let t = await openTransport(port.path);
  const show = (chunk: Buffer): void => void process.stdout.write(chunk);
  const attach = () => {
    t.tapOnly = true;
    t.tap = show;
  };
  attach();
  // A native-USB reset takes the link away: open it again under its (maybe new) name.
  board.on('usb-attach', () =>
    setImmediate(
      () =>
        void openTransport(port.path).then((next) => {
          t = next;
          attach();
        }),
    ),
  );
  let lastOutput = Date.now();
  board.on('data', () => (lastOutput = Date.now()));
  const why = await new Promise<string | undefined>((resolve) => {
    powerCut(board, resolve);
    process.once('SIGTERM', () => resolve(undefined));
    if (interactive) stdin.setRawMode(true);
    stdin.on('data', (d: Buffer) => {
      const quit = interactive ? d.indexOf(QUIT) : -1;
      void t.write(quit >= 0 ? d.subarray(0, quit) : d).catch(() => undefined);
      if (quit >= 0) resolve(undefined);
    });
    // Piped input: quit once everything sent has been answered and the board is quiet.
    stdin.once('end', () => {
      const poll = setInterval(() => {
        if (Date.now() - lastOutput < 500) return;
        clearInterval(poll);
        resolve(undefined);
      }, 100);
    });
  });
  if (interactive) stdin.setRawMode(false);
  stdin.pause();
  await t.close();
  return why;
}

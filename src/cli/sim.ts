// `ota sim`: a virtual MicroPython board behind a pseudo-terminal, for trying the tools without hardware.
import { OtaError } from '../core/errors';
import { VirtualBoard } from '../sim/board';
import { exposeOnPty } from '../sim/pty';
import { parseCommand, untilStopped } from './common';

export const summary = 'run a virtual MicroPython board on a pseudo-terminal';

const help = `usage: ota sim --fs <dir> [--link <path>] [--flash-kb N] [--heap-kb N] [--cut-after N] [--no-sha1]

Starts a virtual board whose filesystem is the folder <dir> and prints the path
of its serial port (a pseudo-terminal; --link chooses the path). Any serial tool
can open it: ota, mpremote, screen. Runs until Ctrl-C or SIGTERM.

  --flash-kb N    flash size (default 2048): writes beyond it fail with ENOSPC
  --heap-kb N     MicroPython heap (default 192): MemoryError beyond it
  --cut-after N   cut the power right after the N-th filesystem change
  --no-sha1       hashlib without sha1, as on builds without it`;

function positiveInt(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0)
    throw new OtaError('bad_option', `--${name} must be a positive integer`);
  return n;
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(argv, help, {
    fs: { type: 'string' },
    link: { type: 'string' },
    'flash-kb': { type: 'string' },
    'heap-kb': { type: 'string' },
    'cut-after': { type: 'string' },
    'no-sha1': { type: 'boolean' },
  });
  if (!parsed) return 0;
  const { values } = parsed;
  if (!values.fs) throw new OtaError('bad_option', 'no filesystem folder: use --fs <dir>');
  const board = await VirtualBoard.start({
    fsDir: values.fs,
    flashKb: positiveInt('flash-kb', values['flash-kb']),
    heapKb: positiveInt('heap-kb', values['heap-kb']),
    cutAfterMutations: positiveInt('cut-after', values['cut-after']),
    sha1: !values['no-sha1'],
  });
  const pty = await exposeOnPty(board, values.link).catch(async (e: unknown) => {
    await board.stop();
    throw e;
  });
  console.log(pty.path);
  const why = await untilStopped('stopped', (stop) =>
    board.once('poweroff', () => stop(`power cut after ${board.mutations} filesystem changes`)),
  );
  console.error(`virtual board ${why}`);
  await pty.close();
  await board.stop();
  return 0;
}

// `ota exec`: run Python on the board and stream its output.
import { OtaError } from '../core/errors';
import { runUpdate } from '../core/serial/console';
import { BoardException } from '../core/serial/raw-repl';
import { withBoard } from './board-session';
import { parseCommand, portOption } from './common';

const help = `usage: ota exec --port <path> <code>

Runs <code> in the raw REPL and streams what it prints. Ctrl-C interrupts the
code on the board. Exit 1 when the code raises (the traceback goes to stderr).
Code that resets the board (machine.reset(), ota.update()) is followed through
the reset until the board is back at its prompt.

  --port <path>  serial port of the board (ota info --list)
  --timeout <s>  give up when the board is silent this long (default: no limit)`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(argv, help, { ...portOption, timeout: { type: 'string' } }, true);
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  const code = positionals.join(' ');
  if (!code) throw new OtaError('bad_option', 'usage: ota exec --port <path> <code>');
  const idle = values.timeout === undefined ? 24 * 3600_000 : Number(values.timeout) * 1000;
  if (!(idle > 0)) throw new OtaError('bad_option', `--timeout must be a positive number of seconds`);
  return withBoard(
    values.port,
    async (board) => {
      const onSigint = () => void board.interrupt();
      process.on('SIGINT', onSigint);
      try {
        // The update runner, because it knows a reset: the raw REPL's end marker never comes then.
        const r = await runUpdate(board, {
          code,
          raw: (c) => void process.stdout.write(c),
          idleTimeoutMs: idle,
        });
        if (r.reset) console.error('ota: the board reset while running the code, and booted again');
        return 0;
      } catch (err) {
        if (!(err instanceof BoardException)) throw err;
        process.stderr.write(err.traceback);
        return 1;
      } finally {
        process.off('SIGINT', onSigint);
      }
    },
    { ownSigint: true },
  );
}

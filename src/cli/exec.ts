// `ota exec`: run Python on the board and stream its output.
import { OtaError } from '../core/errors';
import { BoardException } from '../core/serial/raw-repl';
import { withBoard } from './board-session';
import { parseCommand, portOption } from './common';

const help = `usage: ota exec --port <path> <code>

Runs <code> in the raw REPL and streams what it prints. Ctrl-C interrupts the
code on the board. Exit 1 when the code raises (the traceback goes to stderr).`;

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
        await board.exec(code, { onOutput: (c) => process.stdout.write(c), idleTimeoutMs: idle });
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

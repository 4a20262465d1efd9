// `ota watch`: stream a board's console; with --json only the OTA events, one JSON line each.
import { watchConsole } from '../core/serial/console';
import { withBoard } from './board-session';
import { jsonOption, parseCommand, portOption, untilStopped } from './common';

const help = `usage: ota watch --port <path> [--json]

Prints what the board writes until Ctrl-C (or the port closes). With --json,
prints only the updater's events (OTA:{...} lines), as JSON, one per line.`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(argv, help, { ...portOption, ...jsonOption });
  if (!parsed) return 0;
  const { values } = parsed;
  return withBoard(
    values.port,
    async (board) => {
      const stop = watchConsole(
        board,
        values.json
          ? { event: (e) => console.log(JSON.stringify(e)) }
          : { raw: (chunk) => process.stdout.write(chunk) },
      );
      // Until Ctrl-C or the port goes away.
      await untilStopped(undefined, (stop) => board.transport.onClose(() => stop(undefined)));
      stop();
      return 0;
    },
    { ownSigint: true },
  );
}

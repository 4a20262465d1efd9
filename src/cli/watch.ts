// `ota watch`: stream a board's console; with --json only the OTA events, one JSON line each.
import { parseArgs } from 'node:util';
import { watchConsole } from '../core/serial/console';
import { withBoard } from './board-session';

export const summary = 'stream a board console (--json: one OTA event per line)';

const help = `usage: ota watch --port <path> [--json]

Prints what the board writes until Ctrl-C (or the port closes). With --json,
prints only the updater's events (OTA:{...} lines), as JSON, one per line.`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string', short: 'p' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(help);
    return 0;
  }
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
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
        board.transport.onClose(resolve);
      });
      stop();
      return 0;
    },
    { ownSigint: true },
  );
}

// `ota watch`: stream a board's console; with --json only the OTA events, one JSON line each.
import { OtaError } from '../core/errors';
import { watchConsole } from '../core/serial/console';
import { withBoard } from './board-session';
import { jsonOption, parseCommand, portOption, untilStopped } from './common';

const help = `usage: ota watch --port <path> [--json] [--reconnect <seconds>]

Prints what the board writes until Ctrl-C. With --json, prints only the
updater's events (OTA:{...} lines), as JSON, one per line. Once it listens it
says so on stderr ("ota: watching <port> (Ctrl-C to stop)").

A board on native USB (ESP32-S3, RP2040) leaves the bus when it resets and
comes back, sometimes under another port name: ota watch waits for it by its
USB serial number and carries on. If it is not back within --reconnect seconds
(default 10; 0: stop when the port closes), ota watch exits 1 saying so.`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(argv, help, {
    ...portOption,
    ...jsonOption,
    reconnect: { type: 'string' },
  });
  if (!parsed) return 0;
  const { values } = parsed;
  const seconds = Number(values.reconnect ?? 10);
  if (!(seconds >= 0)) throw new OtaError('bad_option', '--reconnect must be a number of seconds (0: never)');
  return withBoard(
    values.port,
    async (board) => {
      let ended: Error | undefined;
      let stopWatching = (): void => undefined;
      await untilStopped(undefined, (stop) => {
        stopWatching = watchConsole(
          board,
          {
            ...(values.json
              ? { event: (e) => console.log(JSON.stringify(e)) }
              : { raw: (chunk) => void process.stdout.write(chunk) }),
            status: (m) => console.error(`ota: ${m}`),
            closed: (err) => {
              ended = err;
              stop(undefined);
            },
          },
          { reconnectMs: seconds * 1000 },
        );
        // Said once the console is tapped and the board's USB serial number known (it is followed
        // by it through a reset): a script (or a test) types at the board only after this.
        void board.serialNumber().then(() => console.error(`ota: watching ${board.path} (Ctrl-C to stop)`));
      });
      stopWatching();
      // With --reconnect 0 a closed port is the expected end; else the board did not come back.
      if (ended && seconds > 0) throw ended;
      return 0;
    },
    { ownSigint: true },
  );
}

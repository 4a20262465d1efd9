// `ota update`: the board checks its release host and updates now, over USB; the same core
// runner as the extension's Update Device Now, so the board is followed through its reset.
import { isErrorCode } from '../core/error-codes';
import { OtaError } from '../core/errors';
import { eventRenderer } from '../core/event-text';
import type { OtaEvent } from '../core/events';
import { releaseNotice } from '../core/journal-states';
import { runUpdate } from '../core/serial/console';
import { boardErrorContext, explainBoardEvent, type ErrorContext } from '../core/user-errors';
import { withBoard } from './board-session';
import { errorContext, jsonOption, parseCommand, portOption } from './common';

const help = `usage: ota update --port <path> [--json]

Runs ota.update() on the board and follows it: the board asks the release
host ota install configured for its channel's release, downloads only the
files that changed, verifies them (and the signature, when it has keys), swaps
them in and resets into the new release. A board on native USB (ESP32-S3,
RP2040) that leaves the bus at that reset is waited for by its USB serial
number. Boards in the field do the same whenever their app calls ota.update().

Exit 0 when the board is up to date or updated, 1 when it refused or failed
(the board's error code in brackets, then what to do).

  --port <path>  serial port of the board (ota info --list)
  --json         one JSON line per OTA event, as the board reports it`;

/** What every MicroPython board prints around a reset, which says nothing about the update. */
const CHATTER = /^(MicroPython v\d|Type "help\(\)"|>>>|MPY: soft reboot)/;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(argv, help, { ...portOption, ...jsonOption });
  if (!parsed) return 0;
  const { values } = parsed;
  const render = eventRenderer();
  const failures: OtaEvent[] = [];
  let available = false;
  let ctx: ErrorContext = { onBoard: true, commandLine: true };
  const run = await withBoard(
    values.port,
    async (board) => {
      // Ctrl-C interrupts ota.update() on the board; its journal finishes or undoes the step at boot.
      const onSigint = () => void board.interrupt();
      process.on('SIGINT', onSigint);
      try {
        // The host the board asks, to name it when the board cannot reach it (source and URL only).
        ctx = {
          ...boardErrorContext(await board.read('/ota_config.json').catch(() => undefined)),
          commandLine: true,
        };
        const r = await runUpdate(board, {
          event: (e) => {
            if (e.ev === 'error') failures.push(e);
            if (e.ev === 'available') available = true;
            if (values.json) return console.log(JSON.stringify(e));
            if (e.ev === 'error') return; // told once, below, with what to do
            const line = render(e);
            if (line.level !== 'debug' && line.level !== 'trace') console.log(line.text);
          },
          text: (line) => {
            // The app's own output after the reset, without the banner and prompt.
            if (!values.json && line.trim() && !CHATTER.test(line)) console.log(`  board: ${line}`);
          },
          status: (m) => console.error(`ota: ${m}`),
        });
        // Where the board stands now: an update the app has not confirmed, or a release it rolled back.
        const info = await board.info();
        const running = (info.versionJson as { version?: string } | null)?.version ?? null;
        return { ...r, notice: releaseNotice(info.otaState, running) };
      } finally {
        process.off('SIGINT', onSigint);
      }
    },
    { ownSigint: true },
  );
  const failed = failures[0];
  if (failed) {
    const a = explainBoardEvent(failed, ctx);
    errorContext(ctx);
    throw new OtaError(isErrorCode(a.code) ? a.code : 'device_error', a.message);
  }
  const notice = run.notice;
  // "Up to date" is untrue while the host offers a release the board rolled back and skips.
  if (notice?.kind === 'rolled_back' && !available) throw new OtaError('rolled_back', notice.text);
  if (values.json) return 0;
  if (run.reset) console.log('the board restarted into the new release');
  else if (!available) console.log('the board is up to date');
  if (notice?.kind === 'unconfirmed')
    console.log(`${notice.text}; to keep it now: ota confirm --port ${values.port}`);
  return 0;
}

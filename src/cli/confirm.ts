// `ota confirm` and `ota rollback`: the board's own ota.confirm() / ota.rollback() over USB, then
// what it runs now. One runner for both: they differ only in the call and the words.
import { OtaError } from '../core/errors';
import { eventRenderer } from '../core/event-text';
import { runUpdate } from '../core/serial/console';
import { withBoard } from './board-session';
import { boardLines } from './info';
import { jsonOption, parseCommand, portOption } from './common';

interface Action {
  /** The updater's function, and the OTA event it reports when it did its work. */
  call: 'confirm' | 'rollback';
  help: string;
  /** Why nothing happened: the board has no release waiting for confirmation. */
  nothing: string;
}

const OPTIONS = `  --port <path>  serial port of the board (ota info --list)
  --json         one JSON line: {done, version, state}, what the board runs after`;

const CONFIRM: Action = {
  call: 'confirm',
  help: `usage: ota confirm --port <path> [--json]

Keeps the release the board runs: runs the board's ota.confirm(), as its app
would once it runs well. A release nobody confirms is rolled back after a
few boots ("confirm_boots" in ota_config.json, 3 by default). Then prints the
release and updater state, as ota info does. Exit 0 when it is confirmed, and
when there is nothing to confirm (said so).

${OPTIONS}`,
  nothing: 'nothing to confirm: no release on the board waits for confirmation',
};

const ROLLBACK: Action = {
  call: 'rollback',
  help: `usage: ota rollback --port <path> [--json]

Returns the board to the release it ran before an update its app has not
confirmed yet: runs the board's ota.rollback(). The board never installs the
rolled-back version again; publish a newer one. A confirmed release stays
(publish the older code as a newer version instead). Then prints the release
and updater state, as ota info does. Exit 0 when it rolled back, and when
there is nothing to roll back (said so).

${OPTIONS}`,
  nothing:
    'nothing to roll back: no update on the board waits for confirmation (a confirmed release stays: publish the older code as a newer version)',
};

async function act(a: Action, argv: string[]): Promise<number> {
  const parsed = parseCommand(argv, a.help, { ...portOption, ...jsonOption });
  if (!parsed) return 0;
  const { values } = parsed;
  const render = eventRenderer();
  const [done, info, configured] = await withBoard(values.port, async (board) => {
    // The runner ota update uses: a rollback to an older firmware image resets the board.
    const r = await runUpdate(board, {
      code: `import ota\nota.${a.call}()`,
      idleTimeoutMs: 60_000,
      event: (e) => {
        if (values.json) return;
        const line = render(e);
        if (line.level !== 'debug' && line.level !== 'trace') console.log(line.text);
      },
    });
    return [
      r.events.some((e) => e.ev === a.call),
      await board.info(),
      (await board.stat(['/ota_config.json'])).get('/ota_config.json') !== undefined,
    ] as const;
  });
  const lines = boardLines(info, configured);
  // journal.confirm(): a firmware update confirms only once its image runs, after the reset.
  if (!done && a.call === 'confirm' && lines.state === 'confirm_pending')
    throw new OtaError(
      'board_busy',
      `${lines.version ?? 'the update'} is not confirmed: its firmware image has not started yet (it does at the board's next reset)`,
    );
  if (values.json) {
    console.log(JSON.stringify({ done, version: lines.version, state: lines.state }));
    return 0;
  }
  if (!done) console.log(a.nothing);
  console.log(`release     ${lines.release}`);
  console.log(`updater     ${lines.state}`);
  if (lines.notice) console.log(`note        ${lines.notice}`);
  return 0;
}

export const confirm = { run: (argv: string[]) => act(CONFIRM, argv) };
export const rollback = { run: (argv: string[]) => act(ROLLBACK, argv) };

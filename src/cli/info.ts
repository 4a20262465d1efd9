// `ota info`: board facts in one round trip, or the list of serial ports that look like boards.
import { releaseNotice } from '../core/journal-states';
import type { BoardInfo } from '../core/serial/board-info';
import { listBoards } from '../core/serial/discover';
import { withBoard } from './board-session';
import { jsonOption, output, parseCommand, portOption } from './common';

const help = `usage: ota info --port <path> [--json]
       ota info --list [--json]

--port   serial port of the board (a USB device or a pseudo-terminal)
--list   list serial ports, likely MicroPython boards first, named by USB ID`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(argv, help, { ...portOption, ...jsonOption, list: { type: 'boolean' } });
  if (!parsed) return 0;
  const { values } = parsed;
  if (values.list) {
    const boards = await listBoards();
    output(values.json, boards, () => {
      if (boards.length === 0)
        console.log(
          'no serial ports found: plug a board in over USB (a data cable, not a charge-only one), ' +
            'or start a virtual one: ota sim --fs board --pty',
        );
      for (const b of boards)
        console.log(`${b.path}\t${b.vendorId ?? '----'}:${b.productId ?? '----'}\t${b.name ?? ''}`);
    });
    return 0;
  }
  const [info, configured] = await withBoard(
    values.port,
    async (b) =>
      [await b.info(), (await b.stat(['/ota_config.json'])).get('/ota_config.json') !== undefined] as const,
  );
  if (values.json) {
    console.log(JSON.stringify(info));
    return 0;
  }
  const kb = (n: number | null) => (n === null ? '?' : `${Math.round(n / 1024)} KB`);
  const lines = boardLines(info, configured);
  console.log(`MicroPython ${info.version} (${info.build}) on ${info.machine || info.platform}`);
  console.log(`RAM free    ${kb(info.memFree)} (${kb(info.memAlloc)} used)`);
  console.log(`flash free  ${kb(info.fsFree)} of ${kb(info.fsTotal)}`);
  console.log(`release     ${lines.release}`);
  console.log(`updater     ${lines.state}`);
  console.log(`features    deflate ${info.deflate ? 'yes' : 'no'}, sha1 ${info.sha1 ? 'yes' : 'no'}`);
  const keep = lines.unconfirmed ? `; to keep it now: ota confirm --port ${values.port}` : '';
  if (lines.notice) console.log(`note        ${lines.notice}${keep}`);
  return 0;
}

/**
 * What the board runs, in ota info's words (ota confirm and ota rollback print it too): its
 * release, the updater's state (no journal yet but a config: installed and idle, as the Devices
 * view tells it), and the note on an unconfirmed or rolled-back release.
 */
export function boardLines(
  info: BoardInfo,
  configured: boolean,
): { version: string | null; release: string; state: string; notice?: string; unconfirmed: boolean } {
  const version = (info.versionJson as { version?: string } | null)?.version ?? null;
  const state = (info.otaState as { state?: string } | null)?.state;
  const notice = releaseNotice(info.otaState, version);
  return {
    version,
    release: version ?? (info.versionJson === null ? 'none' : 'unreadable version.json'),
    state:
      state ??
      (info.otaState !== null
        ? 'unreadable state.json'
        : configured
          ? 'idle'
          : 'not installed (ota install --port <path> --config <ota_config.json>)'),
    notice: notice?.text,
    unconfirmed: notice?.kind === 'unconfirmed',
  };
}

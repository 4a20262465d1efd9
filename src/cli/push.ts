// `ota push`: make a board hold a project folder, sending only what changed.
import { collectProject, syncFiles } from '../core/serial/sync';
import { boardPort, rate, withBoard } from './board-session';
import { jsonOption, output, parseCommand, portOption, printFileChanges } from './common';

const help = `usage: ota push --port <path> [dir] [--root /] [--no-compress] [--json]

Syncs dir (default .) to the board: files whose SHA-256 on the board differs
are staged under /.ota/push/ and checked, then copied in place; a power cut
leaves every file old or new (the next connection finishes the copy). When dir
holds a manifest.json, exactly its files are pushed and its "delete" list
removed; otherwise every file not excluded by .otaignore.

  --port <path>   serial port of the board (ota info --list)
  --root <dir>    the board folder to sync into (default /)
  --no-compress   send files as they are, not deflated
  --json          print what was written and removed as JSON`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(
    argv,
    help,
    { ...portOption, ...jsonOption, root: { type: 'string' }, 'no-compress': { type: 'boolean' } },
    true,
  );
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  boardPort(values.port); // asked for before the project is read
  const plan = await collectProject(positionals[0] ?? '.');
  plan.root = values.root ?? '/';
  const tty = process.stderr.isTTY && !values.json;
  const result = await withBoard(values.port, (board) =>
    syncFiles(board, plan, {
      compress: !values['no-compress'],
      onProgress: (p) => {
        if (tty)
          process.stderr.write(`\r${p.done}/${p.total} bytes  ${rate(p.bytesPerSec)}  ${p.path}\x1b[K`);
      },
    }),
  );
  if (tty) process.stderr.write('\n');
  output(values.json, result, () => {
    printFileChanges(result);
    console.log(
      `${result.uploaded.length} written (${result.bytes} bytes), ${result.unchanged.length} unchanged, ${result.removed.length} removed`,
    );
  });
  return 0;
}

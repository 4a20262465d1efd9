// `ota install`: put the updater, its config and the boot hook on a board.
import { join } from 'node:path';
import { OtaError } from '../core/errors';
import { bindApp } from '../core/board-config';
import { readOtaConfig } from '../core/config';
import { installUpdater } from '../core/serial/install';
import { withBoard } from './board-session';
import { jsonOption, output, parseCommand, portOption, printFileChanges } from './common';

const help = `usage: ota install --port <path> --config <ota_config.json> [--key <key file>] [--device-dir <dir>]
                   [--project <dir>]

Copies the updater package listed in <device-dir>/package.json (default: the
device/ folder shipped with this tool), writes the config as /ota_config.json
(adding the key's trust entry to "keys" with --key), and makes /boot.py call
ota.boot() first, keeping the rest of an existing boot.py. Running it again
with the same inputs changes nothing. With --project, a config without "app"
gets that project's name (the folder's name: what ota publish puts in the
manifest), so the board takes only that project's releases from its first
update. Without it the board binds itself to the app of the first release it
installs (a folder guessed here could be the wrong one, and would refuse
every release).

The smallest config, for releases served by \`ota serve\` on this computer:
  {"source": "static", "url": "http://<this computer's address>:8080"}
Every field: schemas/ota_config.schema.json and the README, "On the board".`;

/** device/ next to the bundled CLI (dist/cli.js) or the sources (src/cli/install.ts). */
function defaultDeviceDir(): string {
  return join(__dirname, '..', __dirname.endsWith('cli') ? '..' : '', 'device');
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(argv, help, {
    ...portOption,
    ...jsonOption,
    config: { type: 'string' },
    key: { type: 'string' },
    'device-dir': { type: 'string' },
    project: { type: 'string' },
  });
  if (!parsed) return 0;
  const { values } = parsed;
  if (!values.config) throw new OtaError('bad_option', 'ota install needs --config <ota_config.json>');
  const config = await readOtaConfig(values.config);
  const checked = values.project ? bindApp(config, values.project) : config;
  const deviceDir = values['device-dir'] ?? defaultDeviceDir();
  const result = await withBoard(values.port, (board) =>
    installUpdater(board, { deviceDir, config: checked, keyFile: values.key }),
  );
  output(values.json, result, () => {
    printFileChanges(result);
    console.log(
      result.uploaded.length + result.removed.length === 0
        ? 'already installed: nothing changed'
        : `installed: ${result.uploaded.length} written, ${result.unchanged.length} unchanged${result.bootChanged ? ', boot.py now calls ota.boot() first' : ''}`,
    );
  });
  return 0;
}

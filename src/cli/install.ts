// `ota install`: put the updater, its config and the boot hook on a board.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { OtaError } from '../core/errors';
import { bindApp } from '../core/board-config';
import { readOtaConfig } from '../core/config';
import { readTrustFile } from '../core/keys';
import { projectName } from '../core/manifest';
import { loopbackForBoard } from '../core/local-host';
import { installUpdater } from '../core/serial/install';
import { withBoard } from './board-session';
import { jsonOption, output, parseCommand, portOption, printFileChanges } from './common';

const help = `usage: ota install --port <path> --config <ota_config.json> [options]

Copies the updater package to the board, writes the config as /ota_config.json
and makes /boot.py call ota.boot() first, keeping the rest of an existing
boot.py. Running it again with the same inputs changes nothing. Everything read
here (config, key, project) is checked before the board is opened.

  --port <path>        serial port of the board (ota info --list shows them)
  --config <file>      the configuration to write to the board as /ota_config.json
  --key <key file>     also trust this key from \`ota keygen\` (its key file, or the public
                       entry it printed, saved as a file): its entry is added to "keys"
  --project <dir>      bind the board to this project now: a config without "app" gets
                       the folder's name (what ota publish puts in the manifest), so the
                       board takes only that project's releases. Without it the board binds
                       itself to the app of the first release it installs (a folder guessed
                       here could be the wrong one, and would refuse every release)
  --device-dir <dir>   the updater package to install, listed in <dir>/package.json
                       (default: the device/ folder shipped with this tool)
  --json               print {uploaded, unchanged, removed, bytes, bootChanged} as JSON

The smallest config, for releases served by \`ota serve\` on this computer:
  {"source": "static", "url": "http://<this computer's address>:8080"}
Every field: schemas/ota_config.schema.json and the README, "On the board".`;

/** device/ next to the bundled CLI (dist/cli.js) or the sources (src/cli/install.ts). */
function defaultDeviceDir(): string {
  return join(__dirname, '..', __dirname.endsWith('cli') ? '..' : '', 'device');
}

/** --project must name a folder: a typo would bind the board to an app that never publishes. */
async function projectFolder(dir: string): Promise<void> {
  const st = await stat(dir).catch(() => undefined);
  if (!st?.isDirectory())
    throw new OtaError(
      'not_a_directory',
      `--project ${dir} is not a folder: the board would be bound to the app "${projectName(dir)}"`,
    );
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
  const missing = [!values.port && '--port <path>', !values.config && '--config <ota_config.json>'].filter(
    Boolean,
  );
  if (missing.length) throw new OtaError('bad_option', `ota install needs ${missing.join(' and ')}`);
  const config = await readOtaConfig(values.config!);
  if (values.project) await projectFolder(values.project);
  const checked = values.project ? bindApp(config, values.project) : config;
  if (values.key) await readTrustFile(values.key); // a key that cannot be read fails here, not on the board
  const deviceDir = values['device-dir'] ?? defaultDeviceDir();
  const [result, platform] = await withBoard(values.port, async (board) => [
    await installUpdater(board, { deviceDir, config: checked, keyFile: values.key }),
    (await board.info()).platform,
  ]);
  // A real board told 127.0.0.1 asks itself for releases: the first update would fail.
  const loopback = [checked.url, checked.api]
    .map((u) => loopbackForBoard(u, platform, 'serve with ota serve <folder> --host 0.0.0.0'))
    .find(Boolean);
  output(values.json, result, () => {
    printFileChanges(result);
    console.log(
      result.uploaded.length + result.removed.length === 0
        ? 'already installed: nothing changed'
        : `installed: ${result.uploaded.length} written, ${result.unchanged.length} unchanged${result.bootChanged ? ', boot.py now calls ota.boot() first' : ''}`,
    );
    console.log(
      typeof checked.app === 'string'
        ? `bound to the app "${checked.app}": the board takes only its releases`
        : 'no app set: the board binds itself to the app of the first release it installs (--project <dir> binds it now)',
    );
    if (loopback) console.error(`ota: warning: ${loopback}`);
    console.log(
      `next: ota update --port ${values.port} (the board updates now; in the field, when its app calls ota.update())`,
    );
  });
  return 0;
}

// `ota manifest`: describe a project as a release manifest.
import {
  buildRelease,
  defaultManifestPath,
  describeBuild,
  serializeManifest,
  writeManifestFile,
} from '../core/manifest';
import { buildOptions, releaseHelp, releaseOptions } from './release-options';
import { output, parseCommand } from './common';

const help = `usage: ota manifest [dir] [--out <file>|-] [options]

Walks dir (default .) and writes the release manifest to <dir>/.ota/manifest.json
(never itself released), or to --out (- for standard output). The same tree
always gives byte-identical output. Releases contain the app, nothing else:
.otaignore (gitignore syntax) and --exclude leave files out; the board's own
files (ota_config.json, version.json, .ota/, ota/) and tool and editor files
(.git, .vscode/, node_modules/, a manifest.json at the root...) and secrets
(private keys, signing keys, .env) never ship, each
named on standard error with the reason; a boot.py at the root is refused (the
updater's boot hook lives there: keep start-up code in main.py).

  --out <file>|-           where to write the manifest (default <dir>/.ota/manifest.json)
${releaseHelp}`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(argv, help, { ...releaseOptions, out: { type: 'string', short: 'o' } }, true);
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  const dir = positionals[0] ?? '.';
  const toStdout = values.out === '-';
  const out = toStdout ? undefined : (values.out ?? defaultManifestPath(dir));
  const opts = await buildOptions(dir, values, out ? [out] : []);
  if (toStdout) {
    const built = await buildRelease(dir, opts);
    for (const line of describeBuild({ ...built, created: built.manifest.created })) console.error(line);
    process.stdout.write(serializeManifest(built.manifest));
    return 0;
  }
  const built = await writeManifestFile(dir, opts, out);
  const { name, version, created } = built.manifest;
  const files = built.manifest.files.length;
  const total = built.manifest.files.reduce((n, f) => n + f.size, 0);
  const excluded = built.excluded;
  output(
    values.json,
    { out, name, version, files, bytes: total, created, createdFrom: built.createdFrom, excluded },
    () => {
      for (const line of describeBuild({ ...built, created: built.manifest.created })) console.error(line);
      console.log(`${out}: ${name} ${version}, ${files} files, ${total} bytes`);
    },
  );
  return 0;
}

// `ota manifest`: describe a project as a release manifest.
import { writeFile } from 'node:fs/promises';
import { buildManifest, serializeManifest } from '../core/manifest';
import { buildOptions, releaseHelp, releaseOptions } from './release-options';
import { output, parseCommand } from './common';

const help = `usage: ota manifest [dir] [--out manifest.json] [options]

Walks dir (default .), skipping .git, node_modules, .ota/ and whatever
.otaignore (gitignore syntax) names, and writes manifest.json: to --out, else
to standard output. The same tree always gives byte-identical output.

  --out <file>             write the manifest here instead of standard output
${releaseHelp}`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(argv, help, { ...releaseOptions, out: { type: 'string', short: 'o' } }, true);
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  const dir = positionals[0] ?? '.';
  const manifest = await buildManifest(dir, await buildOptions(dir, values, values.out ? [values.out] : []));
  const bytes = serializeManifest(manifest);
  if (!values.out) {
    process.stdout.write(bytes);
    return 0;
  }
  await writeFile(values.out, bytes);
  const total = manifest.files.reduce((n, f) => n + f.size, 0);
  const { name, version } = manifest;
  const files = manifest.files.length;
  output(values.json, { out: values.out, name, version, files, bytes: total }, () =>
    console.log(`${values.out}: ${name} ${version}, ${files} files, ${total} bytes`),
  );
  return 0;
}

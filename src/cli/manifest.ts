// `ota manifest`: describe a project as a release manifest.
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { buildManifest, serializeManifest } from '../core/manifest';
import { buildOptions, releaseHelp, releaseOptions } from './release-options';

export const summary = 'write the release manifest (files, sizes, git SHA-1, SHA-256) of a project';

const help = `usage: ota manifest [dir] [--out manifest.json] [options]

Walks dir (default .), skipping .git, node_modules, .ota/ and whatever
.otaignore (gitignore syntax) names, and writes manifest.json: to --out, else
to standard output. The same tree always gives byte-identical output.

  --out <file>             write the manifest here instead of standard output
${releaseHelp}`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { ...releaseOptions, out: { type: 'string', short: 'o' } },
  });
  if (values.help) {
    console.log(help);
    return 0;
  }
  const dir = positionals[0] ?? '.';
  const manifest = await buildManifest(dir, await buildOptions(dir, values, values.out ? [values.out] : []));
  const bytes = serializeManifest(manifest);
  if (!values.out) {
    process.stdout.write(bytes);
    return 0;
  }
  await writeFile(values.out, bytes);
  const total = manifest.files.reduce((n, f) => n + f.size, 0);
  if (values.json) {
    console.log(
      JSON.stringify({
        out: values.out,
        name: manifest.name,
        version: manifest.version,
        files: manifest.files.length,
        bytes: total,
      }),
    );
  } else {
    console.log(
      `${values.out}: ${manifest.name} ${manifest.version}, ${manifest.files.length} files, ${total} bytes`,
    );
  }
  return 0;
}

// `ota bundle`: the release manifest plus a .tar.gz of the same files.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bundleName, writeBundle } from '../core/bundle';
import { buildRelease, describeBuild, serializeManifest } from '../core/manifest';
import { buildOptions, releaseHelp, releaseOptions } from './release-options';
import { output, parseCommand } from './common';

const help = `usage: ota bundle [dir] [--out-dir <dir>] [options]

Writes <out-dir>/<name>-<version>.tar.gz (ustar, fixed owners and mtimes,
gzip) and <out-dir>/manifest.json listing the same files and the bundle's size
and SHA-256. Default out-dir: <dir>/.ota/release (never itself released).

  --out-dir <dir>          where to write the bundle and manifest.json
${releaseHelp}`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(argv, help, { ...releaseOptions, 'out-dir': { type: 'string' } }, true);
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  const dir = positionals[0] ?? '.';
  const outDir = values['out-dir'] ?? join(dir, '.ota', 'release');
  const opts = await buildOptions(dir, values, [outDir]);
  const built = await buildRelease(dir, opts);
  const { manifest } = built;
  await mkdir(outDir, { recursive: true });
  const outFile = join(outDir, bundleName(manifest.name, manifest.version));
  const bundle = await writeBundle(dir, manifest.files, outFile, {
    mtime: Date.parse(manifest.created) / 1000,
  });
  manifest.bundle = bundle;
  const manifestFile = join(outDir, 'manifest.json');
  await writeFile(manifestFile, serializeManifest(manifest));
  const files = manifest.files.length;
  const { excluded, createdFrom } = built;
  const report = { manifest: manifestFile, bundle: outFile, ...bundle, files, createdFrom, excluded };
  output(values.json, report, () => {
    for (const line of describeBuild({ ...built, created: manifest.created })) console.error(line);
    console.log(`${outFile}: ${files} files, ${bundle.size} bytes\n${manifestFile}`);
  });
  return 0;
}

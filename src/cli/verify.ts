// `ota verify`: does a tree match a manifest?
import { readFile } from 'node:fs/promises';
import { OtaError } from '../core/errors';
import { parseManifest } from '../core/manifest';
import { verifyTree } from '../core/verify';
import { jsonOption, output, parseCommand } from './common';

export const summary = 'check a tree against a manifest; name each missing, extra or changed file';

const help = `usage: ota verify <manifest.json> [dir] [--json]

Compares dir (default .) with the manifest: every listed file by size, git
SHA-1 and SHA-256, and every file not listed (after .otaignore). Exit 0 when
they match, 1 when anything differs.`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(argv, help, jsonOption, true);
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  const [manifestPath, dir = '.'] = positionals;
  if (!manifestPath) throw new OtaError('bad_option', 'usage: ota verify <manifest.json> [dir]');
  let bytes: Buffer;
  try {
    bytes = await readFile(manifestPath);
  } catch (err) {
    throw new OtaError('unreadable', `cannot read ${manifestPath}: ${(err as NodeJS.ErrnoException).code}`);
  }
  const report = await verifyTree(parseManifest(bytes), dir);
  output(values.json, report, () => {
    for (const p of report.missing) console.log(`missing  ${p}`);
    for (const p of report.extra) console.log(`extra    ${p}`);
    for (const c of report.changed) console.log(`changed  ${c.path} (${c.reason})`);
    const problems = report.missing.length + report.extra.length + report.changed.length;
    console.log(
      report.ok
        ? `ok: ${report.matched} files match`
        : `${problems} difference(s), ${report.matched} files match`,
    );
  });
  return report.ok ? 0 : 1;
}

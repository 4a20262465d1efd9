// `ota verify`: does a tree match a manifest?
import { readFile } from 'node:fs/promises';
import { fsReason, OtaError } from '../core/errors';
import { parseManifest } from '../core/manifest';
import { verifyTree } from '../core/verify';
import { jsonOption, output, parseCommand } from './common';
import { readTrustFile } from '../core/keys';
import { checkLayers, fetchOciRelease, verifyOciSignature } from '../core/publish/oci';
import { registryCredentials } from '../core/publish/registry-login';

const help = `usage: ota verify <manifest.json> [dir] [--json]
       ota verify --ref <host/repo[:tag]> [dir] [--key <keyfile>] [--user u --password p] [--json]

Compares dir (default .) with the manifest: every listed file by size, git
SHA-1 and SHA-256, and every file not listed (after .otaignore). Exit 0 when
they match, 1 when anything differs. With --ref, the manifest is the one the
OCI registry holds under that tag (default stable), and every layer is checked
against it too (credentials as for \`ota publish --target oci\`); --key checks
its signature with a key from \`ota keygen\` (its key file, or the public entry
it printed, saved as a file), as a board trusting it would.`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(
    argv,
    help,
    {
      ...jsonOption,
      ref: { type: 'string' },
      user: { type: 'string' },
      password: { type: 'string' },
      key: { type: 'string' },
    },
    true,
  );
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  let bytes: Buffer;
  let dir: string;
  let layers: string[] = [];
  if (values.ref) {
    dir = positionals[0] ?? '.';
    const credentials = await registryCredentials(values.ref, {
      access: 'pull',
      user: values.user,
      password: values.password,
    });
    const rel = await fetchOciRelease({ ref: values.ref, credentials });
    bytes = rel.manifestBytes;
    if (values.key) verifyOciSignature(rel, [(await readTrustFile(values.key)).entry]);
    layers = checkLayers(rel, parseManifest(bytes));
  } else {
    for (const k of ['key', 'user', 'password'] as const)
      if (values[k] !== undefined) throw new OtaError('bad_option', `--${k} goes with --ref`);
    const manifestPath = positionals[0];
    dir = positionals[1] ?? '.';
    if (!manifestPath) throw new OtaError('bad_option', 'usage: ota verify <manifest.json> [dir]');
    try {
      bytes = await readFile(manifestPath);
    } catch (err) {
      const none = (err as NodeJS.ErrnoException).code === 'ENOENT';
      throw new OtaError(
        'unreadable',
        `cannot read ${manifestPath}: ${fsReason(err)}${none ? ' (ota manifest <dir> writes <dir>/.ota/manifest.json)' : ''}`,
      );
    }
  }
  const tree = await verifyTree(parseManifest(bytes), dir);
  const report = values.ref ? { ...tree, ok: tree.ok && layers.length === 0, layers } : tree;
  output(values.json, report, () => {
    for (const p of layers) console.log(`layer    ${p}`);
    for (const p of report.missing) console.log(`missing  ${p}`);
    for (const p of report.extra) console.log(`extra    ${p}`);
    for (const c of report.changed) console.log(`changed  ${c.path} (${c.reason})`);
    const problems = report.missing.length + report.extra.length + report.changed.length + layers.length;
    console.log(
      report.ok
        ? `ok: ${report.matched} files match`
        : `${problems} difference(s), ${report.matched} files match`,
    );
  });
  return report.ok ? 0 : 1;
}

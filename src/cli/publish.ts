// `ota publish`: builds, signs and publishes a release to GitHub Releases or a static folder.
import { readFile } from 'node:fs/promises';
import { OtaError } from '../core/errors';
import { publishFolder } from '../core/publish/folder';
import { publishGitHub, type PublishProgress } from '../core/publish/github';
import { buildOptions, releaseHelp, releaseOptions } from './release-options';
import { output, parseCommand } from './common';

export const summary = 'publish a release to GitHub Releases or a static-host folder, signed';

const help = `usage: ota publish [dir] --target github --repo <owner/name> [options]
       ota publish [dir] --target folder --dir <out> [options]

GitHub: creates release v<version> as a draft, uploads manifest.json, its
signature, every file (asset name: path with / as __) and the bundle, then
publishes the draft, so boards never see half a release. A failure deletes
the draft. Token: --token or GITHUB_TOKEN (needs contents: write).
Folder: writes latest.json, <version>/manifest.json(.sig), the files and the
bundle, for any static host or \`ota serve\`.

  --target github|folder   where to publish
  --repo <owner/name>      GitHub repository
  --token <t>              GitHub token (default: GITHUB_TOKEN)
  --base-url <url>         GitHub Enterprise API, e.g. https://ghe.example.com/api/v3
                           (default: GITHUB_API_URL, else https://api.github.com)
  --prerelease             publish to the beta channel (default for versions like 1.2.0-rc.1)
  --notes <text>           release notes (default: the version's section of CHANGELOG.md)
  --notes-file <file>      release notes from a file
  --dir <out>              folder target: the output folder
  --uota                   folder target: also write a uOTA-compatible "latest" file (implies --bundle)
  --bundle                 also publish the .tar.gz bundle
  --sign <keyfile>         sign the manifest with a key from \`ota keygen\`
  --force                  replace an already published version
  --concurrency <n>        uploads at once (default 4)
${releaseHelp}`;

function progressPrinter(): (p: PublishProgress) => void {
  let last = -1;
  return (p) => {
    if (!process.stderr.isTTY) return;
    if (p.phase !== 'upload') {
      process.stderr.write(`\r\x1b[K${p.phase}…`);
      return;
    }
    const pct = p.total ? Math.floor((100 * p.done) / p.total) : 100;
    if (pct === last) return;
    last = pct;
    process.stderr.write(`\r\x1b[Kuploading ${pct}% (${p.done}/${p.total} bytes) ${p.asset ?? ''}`);
  };
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(
    argv,
    help,
    {
      ...releaseOptions,
      target: { type: 'string' },
      repo: { type: 'string' },
      token: { type: 'string' },
      'base-url': { type: 'string' },
      prerelease: { type: 'boolean' },
      notes: { type: 'string' },
      'notes-file': { type: 'string' },
      dir: { type: 'string' },
      uota: { type: 'boolean' },
      bundle: { type: 'boolean' },
      sign: { type: 'string' },
      force: { type: 'boolean' },
      concurrency: { type: 'string' },
    },
    true,
  );
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  const project = positionals[0] ?? '.';
  const outputs = values.target === 'folder' && values.dir ? [values.dir] : [];
  const { version, ...build } = await buildOptions(project, values, outputs);

  if (values.target === 'folder') {
    if (!values.dir) throw new OtaError('bad_option', '--target folder needs --dir <output folder>');
    const r = await publishFolder({
      dir: project,
      version,
      outDir: values.dir,
      build,
      bundle: values.bundle,
      uota: values.uota,
      signKeyFile: values.sign,
      force: values.force,
    });
    output(values.json, { target: 'folder', ...r }, () => {
      console.log(
        `published ${r.version} to ${r.versionDir}: ${r.files} files, ${r.bytes} bytes${r.signed ? ', signed' : ''}`,
      );
      console.log(r.latest ? `latest.json now names ${r.version}` : `latest.json left on a newer version`);
    });
    return 0;
  }

  if (values.target !== 'github') {
    throw new OtaError('bad_option', '--target must be github or folder');
  }
  if (!values.repo) throw new OtaError('bad_option', '--target github needs --repo <owner/name>');
  const concurrency = values.concurrency === undefined ? undefined : Number(values.concurrency);
  if (
    concurrency !== undefined &&
    !(Number.isInteger(concurrency) && concurrency >= 1 && concurrency <= 16)
  ) {
    throw new OtaError(
      'bad_option',
      `--concurrency must be a whole number from 1 to 16, not ${values.concurrency}`,
    );
  }
  let notes = values.notes;
  if (values['notes-file']) {
    notes = await readFile(values['notes-file'], 'utf8').catch((err: NodeJS.ErrnoException) => {
      throw new OtaError('unreadable', `cannot read ${values['notes-file']}: ${err.code}`);
    });
  }
  const r = await publishGitHub({
    dir: project,
    version,
    build,
    repo: values.repo,
    token: values.token ?? process.env.GITHUB_TOKEN,
    baseUrl: values['base-url'] ?? process.env.GITHUB_API_URL,
    prerelease: values.prerelease,
    notes,
    force: values.force,
    bundle: values.bundle,
    signKeyFile: values.sign,
    concurrency,
    onProgress: values.json ? undefined : progressPrinter(),
  });
  if (process.stderr.isTTY && !values.json) process.stderr.write('\r\x1b[K');
  output(values.json, { target: 'github', ...r }, () => {
    const kind = r.prerelease ? 'prerelease (beta channel)' : 'release (stable channel)';
    console.log(
      `${r.replaced ? 'replaced' : 'published'} ${kind} ${r.tag}: ${r.assets.length} assets${r.signed ? ', signed' : ''}`,
    );
    console.log(r.url);
  });
  return 0;
}

// `ota publish`: builds, signs and publishes a release to GitHub Releases or a static folder.
import { readFile } from 'node:fs/promises';
import { fsReason, OtaError } from '../core/errors';
import { publishFolder } from '../core/publish/folder';
import { parseVersion } from '../core/version';
import { publishGitHub } from '../core/publish/github';
import { describeExcluded } from '../core/walk';
import { ociHelp, ociOptions, publishToOci } from './publish-oci';
import { buildOptions, releaseHelp, releaseOptions } from './release-options';
import { output, parseCommand, progressPrinter } from './common';

const help = `usage: ota publish [dir] --target github --repo <owner/name> [options]
       ota publish [dir] --target folder --dir <out> [options]
       ota publish [dir] --target oci --ref <host/repo[:tag]> [options]

GitHub: creates release v<version> as a draft, uploads manifest.json, its
signature, every file (asset name: path with / as __) and the bundle, then
publishes the draft, so boards never see half a release. A failure deletes
the draft. Token: --token or GITHUB_TOKEN (needs contents: write).
Folder: writes latest.json, <version>/manifest.json(.sig), the files and the
bundle, for any static host or \`ota serve\`.
The release is the app, nothing else (see \`ota manifest --help\`). A file the
chosen host cannot serve is refused before anything is published, by name:
a hidden name (.x) for a folder; for GitHub, names GitHub would rename (only
A-Z a-z 0-9 . _ - are kept) or two files that become one asset name.
Files are copied before they are hashed, and the copies are published, so a
file rewritten during the publish never ships with a hash that does not match.

  --target github|folder|oci  where to publish
  --repo <owner/name>      GitHub repository
  --token <t>              GitHub token (default: GITHUB_TOKEN)
  --base-url <url>         GitHub Enterprise API, e.g. https://ghe.example.com/api/v3
                           (default: GITHUB_API_URL, else https://api.github.com)
  --prerelease             github, oci: publish to the beta channel (default for versions
                           like 1.2.0-rc.1; a static host has one channel)
  --notes <text>           github: release notes (default: the version's section of CHANGELOG.md)
  --notes-file <file>      github: release notes from a file
  --dir <out>              folder target: the output folder
  --uota                   folder target: also write a uOTA-compatible "latest" file (implies --bundle)
  --bundle                 also publish the .tar.gz bundle
  --sign <keyfile>         sign the manifest with a key from \`ota keygen\`
  --force                  replace an already published version
  --concurrency <n>        github, oci: uploads at once (default 4)
${releaseHelp}

${ociHelp}`;

const options = {
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
  ...ociOptions,
} as const;

type Values = NonNullable<ReturnType<typeof parseCommand<typeof options, true>>>['values'];
type Build = Awaited<ReturnType<typeof buildOptions>>;

/** What every --target gets: the project folder, the release's version and build options, the parsed options. */
interface TargetArgs {
  project: string;
  version: Build['version'];
  build: Omit<Build, 'version'>;
  values: Values;
}

/** Each --target, one line: a new target (a registry, a bucket) is one more entry. */
const targets: Record<string, (a: TargetArgs) => Promise<number>> = {
  github: toGitHub,
  folder: toFolder,
  oci: ({ project, version, build, values }) =>
    publishToOci(project, version, build, values, concurrencyOption(values)),
};

/**
 * The options each --target reads (beside the release options, --target and --json). An option
 * another target reads is refused rather than ignored: `--target folder --prerelease` would put a
 * beta on the one channel a static host has, `--concurrency x` would pass unchecked.
 */
const TARGET_OPTIONS: Record<string, readonly string[]> = {
  github: [
    'repo',
    'token',
    'base-url',
    'prerelease',
    'notes',
    'notes-file',
    'bundle',
    'sign',
    'force',
    'concurrency',
  ],
  folder: ['dir', 'uota', 'bundle', 'sign', 'force'],
  oci: [...Object.keys(ociOptions), 'prerelease', 'bundle', 'sign', 'force', 'concurrency'],
};

/** Refuses an option the chosen target would not read, naming the targets that do. */
function refuseOtherTargets(target: string, values: Values): void {
  for (const name of Object.keys(values)) {
    const users = Object.keys(TARGET_OPTIONS).filter((t) => TARGET_OPTIONS[t]!.includes(name));
    if (users.length === 0 || users.includes(target)) continue;
    if (name === 'prerelease' && target === 'folder')
      throw new OtaError(
        'bad_option',
        '--prerelease: a static host has one channel (latest.json), which every board on it follows; ' +
          'publish a beta to a folder of its own (--dir <beta folder>) that only the test boards use',
      );
    throw new OtaError('bad_option', `--${name} is for --target ${users.join(' or ')}, not ${target}`);
  }
}

/** What was left out of the release and why, and where its date came from (standard error). */
function printNotes(r: { excluded: Parameters<typeof describeExcluded>[0]; createdFrom: string }): void {
  for (const line of describeExcluded(r.excluded)) console.error(line);
  if (r.createdFrom !== 'given') console.error(`dated from ${r.createdFrom}`);
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(argv, help, options, true);
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  const target = values.target === undefined ? undefined : targets[values.target];
  if (!target) {
    // The first publish: name the choices, the folder one first (it needs no account).
    const said =
      values.target === undefined ? 'which --target?' : `--target ${values.target} is unknown: use`;
    throw new OtaError(
      'bad_option',
      `${said} folder (--dir <out>: a static host or ota serve), github (--repo <owner/name>) or oci (--ref <host/repo>)`,
    );
  }
  refuseOtherTargets(values.target!, values);
  const project = positionals[0] ?? '.';
  const outputs = values.target === 'folder' && values.dir ? [values.dir] : [];
  const { version, ...build } = await buildOptions(project, values, outputs);
  return target({ project, version, build, values });
}

async function toFolder({ project, version, build, values }: TargetArgs): Promise<number> {
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
    printNotes(r);
    console.log(
      `published ${r.version} to ${r.versionDir}: ${r.files} files, ${r.bytes} bytes${r.signed ? ', signed' : ''}`,
    );
    console.log(r.latest ? `latest.json now names ${r.version}` : `latest.json left on a newer version`);
    if (r.latest && parseVersion(r.version).prerelease.length)
      console.error(
        `note: ${r.version} is a prerelease, and every board on this host installs it (a static host has one channel)`,
      );
    if (!r.signed) console.error(UNSIGNED);
  });
  return 0;
}

/** Said after an unsigned publish: a newcomer's first release is one, and should know what it means. */
const UNSIGNED =
  'unsigned: boards without "keys" install it (and would install anyone\'s); to sign: ota keygen --rsa, ' +
  'then publish with --sign <key file>, and ota install --key <key file> on each board';

/** --concurrency: parallel uploads, 1 to 16 (GitHub and OCI targets). */
function concurrencyOption(values: Values): number | undefined {
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
  return concurrency;
}

async function toGitHub({ project, version, build, values }: TargetArgs): Promise<number> {
  if (!values.repo) throw new OtaError('bad_option', '--target github needs --repo <owner/name>');
  const concurrency = concurrencyOption(values);
  let notes = values.notes;
  if (values['notes-file']) {
    notes = await readFile(values['notes-file'], 'utf8').catch((err: NodeJS.ErrnoException) => {
      throw new OtaError('unreadable', `cannot read ${values['notes-file']}: ${fsReason(err)}`);
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
    printNotes(r);
    const kind = r.prerelease ? 'prerelease (beta channel)' : 'release (stable channel)';
    console.log(
      `${r.replaced ? 'replaced' : 'published'} ${kind} ${r.tag}: ${r.assets.length} assets${r.signed ? ', signed' : ''}`,
    );
    console.log(r.url);
    if (!r.signed) console.error(UNSIGNED);
  });
  return 0;
}

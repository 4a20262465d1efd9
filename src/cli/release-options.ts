// Options shared by `ota manifest` and `ota bundle`: they describe the same release.
import { relative, resolve, sep } from 'node:path';
import type { ParseArgsConfig } from 'node:util';
import { OtaError } from '../core/errors';
import type { BuildOptions } from '../core/manifest';

export const releaseOptions = {
  version: { type: 'string' },
  name: { type: 'string' },
  include: { type: 'string', multiple: true },
  exclude: { type: 'string', multiple: true },
  created: { type: 'string' },
  delete: { type: 'string', multiple: true },
  keep: { type: 'string', multiple: true },
  'hook-post-update': { type: 'string' },
  'hook-rollback': { type: 'string' },
  'expires-days': { type: 'string' },
  firmware: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} satisfies ParseArgsConfig['options'];

export const releaseHelp = `  --version <v>            semver version (default: the highest v* git tag)
  --name <name>            release name (default: the directory's name)
  --include <glob>         only files matching a glob (repeatable)
  --exclude <glob>         leave out files matching a glob (repeatable); .otaignore applies too
  --created <iso-date>     the manifest's "created" time. Default: SOURCE_DATE_EPOCH when set,
                           else the date of the last git commit touching the directory, else
                           (no git) the newest modification time of the released files
                           (so the same tree always gives the same bytes); the output says which
  --delete <path>          a file the board deletes when it installs this release (repeatable)
  --keep <path>            a board file the update never touches (repeatable)
  --hook-post-update <p>   release file the board runs after an update
  --hook-rollback <p>      release file the board runs after a rollback
  --expires-days <n>       boards refuse the release n days after "created"
  --firmware <image.bin>   an ESP32 app image the board writes to its next OTA partition
                           (published beside the manifest under its file name)
  --json                   print a machine-readable summary`;

type Values = {
  [K in keyof typeof releaseOptions]?: (typeof releaseOptions)[K] extends { multiple: true }
    ? string[]
    : (typeof releaseOptions)[K] extends { type: 'boolean' }
      ? boolean
      : string;
};

/** Turns parsed flags into build options; `outputs` inside `dir` are excluded so a rebuild never lists its own output. */
export async function buildOptions(dir: string, v: Values, outputs: string[] = []): Promise<BuildOptions> {
  let expiresDays: number | undefined;
  if (v['expires-days'] !== undefined) {
    expiresDays = Number(v['expires-days']);
    if (!Number.isInteger(expiresDays) || expiresDays <= 0) {
      throw new OtaError(
        'bad_option',
        `--expires-days must be a positive whole number, not ${v['expires-days']}`,
      );
    }
  }
  const own = outputs
    .map((o) => relative(resolve(dir), resolve(o)))
    .filter((r) => r && !r.startsWith('..') && !r.startsWith(sep))
    .map((r) => r.split(sep).join('/'));
  return {
    version: v.version,
    name: v.name,
    include: v.include,
    exclude: [...(v.exclude ?? []), ...own],
    created: v.created,
    delete: v.delete,
    keep: v.keep,
    hooks: { post_update: v['hook-post-update'], rollback: v['hook-rollback'] },
    expiresDays,
    firmware: v.firmware,
  };
}

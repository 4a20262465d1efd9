/**
 * Static-host publishing: writes the static-host layout of docs/protocols.md, ready for any HTTP server, S3 or
 * `ota serve`.
 *
 *   publishFolder({ dir, version?, outDir, signKeyFile?, bundle?, uota?, force?, build? })
 *     -> Promise<FolderResult>
 *
 *   <outDir>/latest.json                 {"version", "manifest": "<version>/manifest.json"}
 *   <outDir>/<version>/manifest.json     exact signed bytes
 *   <outDir>/<version>/manifest.json.sig when signed
 *   <outDir>/<version>/<path>            every release file
 *   <outDir>/<version>/<bundle>          with `bundle` (or `uota`)
 *   <outDir>/<version>/<firmware name>   with `build.firmware` (an ESP32 app image)
 *   <outDir>/latest                      with `uota`: "version;<version>/<bundle>;<kB free needed>;<sha256>"
 *
 * Every name must be one a static host serves (core/publish/names.ts): a hidden file is refused.
 * The version directory is assembled under a temporary name and renamed into place, and latest.json
 * is replaced last (write + rename), so a board polling the folder never sees a half release.
 * latest.json only moves forward: publishing an older version leaves it alone.
 */
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fsReason, OtaError } from '../errors';
import type { BuildOptions } from '../manifest';
import { compareVersions } from '../version';
import type { Excluded } from '../walk';
import { prepareRelease } from './prepare';

export interface FolderOptions {
  dir: string;
  version?: string;
  outDir: string;
  signKeyFile?: string;
  bundle?: boolean;
  /** Also write a uOTA-compatible `latest` text file (implies `bundle`). */
  uota?: boolean;
  /** Replace an already published version. */
  force?: boolean;
  build?: Omit<BuildOptions, 'version'>;
}

export interface FolderResult {
  version: string;
  outDir: string;
  versionDir: string;
  /** Whether latest.json now names this version. */
  latest: boolean;
  files: number;
  bytes: number;
  signed: boolean;
  bundle?: string;
  /** Left out by rule (reserved board paths, tool and editor files), and why. */
  excluded: Excluded[];
  /** Where the manifest's `created` came from. */
  createdFrom: string;
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

async function writeAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, data);
  await rename(tmp, path);
}

/** The output folder, when inside the project, must never be released itself. */
function excludeOutput(dir: string, outDir: string, build: FolderOptions['build']): FolderOptions['build'] {
  const rel = relative(resolve(dir), resolve(outDir));
  if (!rel || rel.startsWith('..') || isAbsolute(rel)) return build;
  const glob = `${rel.split(sep).join('/')}/**`;
  return { ...build, exclude: [...(build?.exclude ?? []), glob] };
}

/** The version a published folder's latest.json names; undefined when nothing was published there. */
export async function currentLatest(outDir: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(join(outDir, 'latest.json'), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined; // a first publish
    throw new OtaError('unreadable', `cannot read ${join(outDir, 'latest.json')}: ${fsReason(err)}`);
  }
  try {
    const v = (JSON.parse(text) as { version?: unknown }).version;
    if (typeof v === 'string') return v;
  } catch {
    // fall through
  }
  throw new OtaError(
    'bad_latest',
    `${join(outDir, 'latest.json')} is not {"version", "manifest"}: fix or remove it`,
  );
}

export async function publishFolder(opts: FolderOptions): Promise<FolderResult> {
  const outDir = resolve(opts.outDir);
  const bundle = opts.bundle || opts.uota;
  const staging = join(outDir, `.staging-${process.pid}-${Date.now()}`);
  await mkdir(outDir, { recursive: true });
  try {
    const release = await prepareRelease({
      dir: opts.dir,
      version: opts.version,
      build: excludeOutput(opts.dir, outDir, opts.build),
      bundle,
      signKeyFile: opts.signKeyFile,
      host: 'folder',
      // The files are copied straight into the version folder being assembled: the copies are hashed.
      bundleDir: staging,
    });
    const version = release.manifest.version;
    const versionDir = join(outDir, version);
    if ((await exists(versionDir)) && !opts.force) {
      throw new OtaError(
        'version_exists',
        `${versionDir} already exists: pass --force to replace version ${version}`,
      );
    }
    const previous = await currentLatest(outDir);
    const bytes = release.files.reduce((n, f) => n + f.size, 0);
    await writeFile(join(staging, 'manifest.json'), release.manifestBytes);
    if (release.signatureBytes) await writeFile(join(staging, 'manifest.json.sig'), release.signatureBytes);
    if (await exists(versionDir)) {
      // --force: the old version moves aside first, so the rename below cannot fail on a full directory.
      const old = `${versionDir}.old-${process.pid}`;
      await rename(versionDir, old);
      await rename(staging, versionDir);
      await rm(old, { recursive: true, force: true });
    } else {
      await rename(staging, versionDir);
    }
    const latest = !previous || compareVersions(version, previous) >= 0;
    if (latest) {
      const pointer = { version, manifest: `${version}/manifest.json` };
      await writeAtomic(join(outDir, 'latest.json'), JSON.stringify(pointer) + '\n');
      if (opts.uota && release.manifest.bundle) {
        const b = release.manifest.bundle;
        const kb = Math.ceil(release.files.reduce((n, f) => n + f.size, 0) / 1024);
        await writeAtomic(join(outDir, 'latest'), `${version};${version}/${b.name};${kb};${b.sha256}\n`);
      }
    }
    return {
      version,
      outDir,
      versionDir,
      latest,
      files: release.files.length,
      bytes,
      signed: Boolean(release.signatureBytes),
      bundle: release.manifest.bundle?.name,
      excluded: release.excluded,
      createdFrom: release.createdFrom,
    };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

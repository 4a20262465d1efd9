/**
 * What every publish target uploads: the manifest built by core/manifest.ts (with the bundle
 * written by core/bundle.ts when asked, and the firmware image when build.firmware names one), its
 * exact bytes, and their detached signature.
 *
 *   prepareRelease({ dir, version, build?, bundle?, signKeyFile?, bundleDir, host? }) -> Promise<PreparedRelease>
 *
 * Every release file is first copied into `bundleDir` (the folder target's version folder being
 * assembled, or a private temporary folder for GitHub), and the copies are what is hashed, bundled
 * and published: a file an editor rewrites while `ota publish` runs can never be published with a
 * hash that does not match its bytes. A file that changes while it is copied is refused.
 * The signature is made over the very bytes that will be published; nothing re-serialises them.
 */
import { copyFile, mkdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { bundleName, writeBundle } from '../bundle';
import { OtaError } from '../errors';
import { buildRelease, serializeManifest, type BuildOptions } from '../manifest';
import type { Manifest } from '../manifest-types';
import { deviceTrustEntry, readKeyFile } from '../keys';
import { serializeSignature, signManifest, verifySignature } from '../sign';
import type { Excluded, ProjectFile } from '../walk';
import { checkHostNames, type Host } from './names';

export interface PrepareOptions {
  /** The project directory. */
  dir: string;
  /** Semver version; else core/manifest.ts's default (the highest v* git tag). */
  version?: string;
  /** Further manifest options (name, include/exclude, keep, delete, hooks, expires...). */
  build?: Omit<BuildOptions, 'version'>;
  /** Also write the .tar.gz bundle and list it in the manifest. */
  bundle?: boolean;
  /** Key file (ota keygen) to sign the manifest with. */
  signKeyFile?: string;
  /**
   * Where the release is assembled: the files are copied here (as <path>), the firmware image and
   * the bundle written here; created if missing. The publish target reads only from here.
   */
  bundleDir: string;
  /** Where the release is published: its names must be ones this host serves (core/publish/names.ts). */
  host?: Host;
}

export interface ReleaseFile {
  /** Release path, `/`-separated. */
  path: string;
  /** Absolute path of the staged copy: the bytes that were hashed and are published. */
  abs: string;
  size: number;
}

export interface PreparedRelease {
  manifest: Manifest;
  /** The exact bytes of manifest.json as published and signed. */
  manifestBytes: Buffer;
  /** The bytes of manifest.json.sig, when signed. */
  signatureBytes?: Buffer;
  files: ReleaseFile[];
  bundle?: ReleaseFile;
  /** The firmware image, published beside the manifest under manifest.firmware.name. */
  firmware?: ReleaseFile;
  /** What was left out by rule (reserved board paths, tool and editor files), and why. */
  excluded: Excluded[];
  /** Where the manifest's `created` came from, for the output. */
  createdFrom: string;
}

/** Attempts at copying a file that keeps changing (an editor saving) before giving up. */
const COPY_ATTEMPTS = 3;

/** The same file, unchanged: same inode, size and modification time (ns where the OS has them). */
function same(a: import('node:fs').BigIntStats, b: import('node:fs').BigIntStats): boolean {
  return a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;
}

/** Copies one file to `to`; refuses it when it was rewritten during the copy, every time it was tried. */
async function copyStable(f: ProjectFile, to: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const before = await stat(f.abs, { bigint: true });
    await copyFile(f.abs, to);
    const after = await stat(f.abs, { bigint: true });
    const copied = await stat(to, { bigint: true });
    if (same(before, after) && copied.size === after.size) return;
    if (attempt >= COPY_ATTEMPTS) {
      throw new OtaError(
        'file_changed',
        `${f.path} kept changing while it was read for publishing (${COPY_ATTEMPTS} tries): stop what writes it (a build, an editor's autosave) and publish again`,
      );
    }
  }
}

/** Copies the release files into `stageDir` under their release paths; the copies are what gets hashed. */
function stageInto(stageDir: string): (files: ProjectFile[]) => Promise<ProjectFile[]> {
  return async (files) => {
    const out: ProjectFile[] = [];
    for (const f of files) {
      const to = join(stageDir, ...f.path.split('/'));
      await mkdir(dirname(to), { recursive: true });
      await copyStable(f, to);
      out.push({ path: f.path, abs: to });
    }
    return out;
  };
}

export async function prepareRelease(opts: PrepareOptions): Promise<PreparedRelease> {
  // A bad key file is reported before any hashing or bundling.
  const key = opts.signKeyFile ? await readKeyFile(opts.signKeyFile) : undefined;
  await mkdir(opts.bundleDir, { recursive: true });
  const copy = stageInto(opts.bundleDir);
  // A signing key inside the project is left out like every secret (src/core/walk.ts secretFile).
  const built = await buildRelease(opts.dir, { ...opts.build, version: opts.version }, copy);
  const { manifest } = built;
  const bundle = opts.bundle ? bundleName(manifest.name, manifest.version) : undefined;
  if (opts.host) {
    checkHostNames(opts.host, {
      files: manifest.files.map((f) => f.path),
      bundle,
      firmware: manifest.firmware?.name,
      signed: Boolean(key),
    });
  }
  let firmware: ReleaseFile | undefined;
  if (manifest.firmware && built.firmware) {
    // The bytes hashed by the one read; the name cannot be a release file's (assembleManifest).
    const abs = join(opts.bundleDir, manifest.firmware.name);
    await writeFile(abs, built.firmware);
    firmware = { path: manifest.firmware.name, abs, size: built.firmware.length };
  }
  const files = manifest.files.map((f, i) => ({ path: f.path, abs: built.files[i].abs, size: f.size }));
  let bundleFile: ReleaseFile | undefined;
  if (bundle) {
    const abs = join(opts.bundleDir, bundle);
    manifest.bundle = await writeBundle(opts.bundleDir, manifest.files, abs, {
      mtime: Date.parse(manifest.created) / 1000,
    });
    bundleFile = { path: bundle, abs, size: manifest.bundle.size };
  }
  const manifestBytes = serializeManifest(manifest);
  let signatureBytes: Buffer | undefined;
  if (key) {
    const sig = await signManifest(manifestBytes, key);
    // Checked as a board will check it, before anything is published.
    verifySignature(manifestBytes, sig, [await deviceTrustEntry(key)]);
    signatureBytes = serializeSignature(sig);
  }
  return {
    manifest,
    manifestBytes,
    signatureBytes,
    files,
    bundle: bundleFile,
    firmware,
    excluded: built.excluded,
    createdFrom: built.createdFrom,
  };
}

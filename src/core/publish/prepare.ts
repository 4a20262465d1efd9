/**
 * What every publish target uploads: the manifest built by core/manifest.ts (with the bundle
 * written by core/bundle.ts when asked, and the firmware image when build.firmware names one), its
 * exact bytes, and their detached signature.
 *
 *   prepareRelease({ dir, version, build?, bundle?, signKeyFile?, bundleDir }) -> Promise<PreparedRelease>
 *
 * The signature is made over the very bytes that will be published; nothing re-serialises them.
 */
import { mkdir, realpath } from 'node:fs/promises';
import { realpathSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { bundleName, writeBundle } from '../bundle';
import { OtaError } from '../errors';
import { buildManifest, listProjectFiles, serializeManifest, type BuildOptions } from '../manifest';
import type { Manifest } from '../manifest-types';
import { deviceTrustEntry, readKeyFile } from '../keys';
import { serializeSignature, signManifest, verifySignature } from '../sign';

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
  /** Where the bundle is written. */
  bundleDir: string;
}

export interface ReleaseFile {
  /** Release path, `/`-separated. */
  path: string;
  /** Absolute path to read the bytes from. */
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
}

export async function prepareRelease(opts: PrepareOptions): Promise<PreparedRelease> {
  // A bad key file is reported before any hashing or bundling.
  const key = opts.signKeyFile ? await readKeyFile(opts.signKeyFile) : undefined;
  const manifest = await buildManifest(opts.dir, { ...opts.build, version: opts.version });
  const where = new Map((await listProjectFiles(opts.dir, opts.build)).map((f) => [f.path, f.abs]));
  const files = manifest.files.map((f) => ({ path: f.path, abs: where.get(f.path)!, size: f.size }));
  if (opts.signKeyFile) {
    const keyPath = await realpath(opts.signKeyFile);
    const leak = files.find((f) => basename(f.abs) === basename(keyPath) && realpathSync(f.abs) === keyPath);
    if (leak) {
      throw new OtaError(
        'key_in_release',
        `the signing key ${leak.path} is one of the release files: move it out of the project`,
      );
    }
  }
  let bundle: ReleaseFile | undefined;
  if (opts.bundle) {
    await mkdir(opts.bundleDir, { recursive: true });
    const abs = join(opts.bundleDir, bundleName(manifest.name, manifest.version));
    manifest.bundle = await writeBundle(opts.dir, manifest.files, abs, {
      mtime: Date.parse(manifest.created) / 1000,
    });
    bundle = { path: manifest.bundle.name, abs, size: manifest.bundle.size };
  }
  const firmware =
    manifest.firmware && opts.build?.firmware
      ? { path: manifest.firmware.name, abs: resolve(opts.build.firmware), size: manifest.firmware.size }
      : undefined;
  const manifestBytes = serializeManifest(manifest);
  let signatureBytes: Buffer | undefined;
  if (key) {
    const sig = await signManifest(manifestBytes, key);
    // Checked as a board will check it, before anything is published.
    verifySignature(manifestBytes, sig, [await deviceTrustEntry(key)]);
    signatureBytes = serializeSignature(sig);
  }
  return { manifest, manifestBytes, signatureBytes, files, bundle, firmware };
}

// `ota publish --target oci`: the OCI registry target's options and output; the rules live in
// src/core/publish/oci.ts.
import type { BuildOptions } from '../core/manifest';
import { OtaError } from '../core/errors';
import { expandDevices, publishOci } from '../core/publish/oci';
import { registryCredentials } from '../core/publish/registry-login';
import { output, progressPrinter } from './common';

export const ociOptions = {
  ref: { type: 'string' },
  device: { type: 'string', multiple: true },
  user: { type: 'string' },
  password: { type: 'string' },
  'mount-from': { type: 'string' },
} as const;

export const ociHelp = `OCI registry (ghcr.io, Harbor, Docker Hub, distribution): pushes one artifact
(a layer per file titled with its path, manifest.json, its signature, the
bundle, the firmware image), tags it <version> and moves stable (beta with
--prerelease) forward. Blobs the registry has are not uploaded again.
Credentials: --user/--password, OTA_REGISTRY_TOKEN (+ OTA_REGISTRY_USER),
GITHUB_TOKEN for ghcr.io, or docker/podman login (config.json / auth.json,
and the credential helper they name).

  --ref <host/repo[:tag]>  oci target: repository; {device} is replaced per --device
  --device <id>            oci target: a board id for {device} (repeatable)
  --user <name>            oci target: registry user (with --password)
  --password <secret>      oci target: registry password or token (other users can see
                           a command line: OTA_REGISTRY_TOKEN is safer)
  --mount-from <repo>      oci target: a repository on the same registry to mount blobs from`;

interface OciValues {
  ref?: string;
  device?: string[];
  user?: string;
  password?: string;
  'mount-from'?: string;
  prerelease?: boolean;
  force?: boolean;
  bundle?: boolean;
  sign?: string;
  json?: boolean;
}

export async function publishToOci(
  project: string,
  version: string | undefined,
  build: Omit<BuildOptions, 'version'>,
  values: OciValues,
  concurrency: number | undefined,
): Promise<number> {
  if (!values.ref) throw new OtaError('bad_option', '--target oci needs --ref <host/repository[:tag]>');
  expandDevices(values.ref, values.device); // a bad ref or device name before any credentials
  const credentials = await registryCredentials(values.ref, {
    access: 'push',
    user: values.user,
    password: values.password,
  });
  const r = await publishOci({
    dir: project,
    version,
    build,
    ref: values.ref,
    devices: values.device,
    credentials,
    prerelease: values.prerelease,
    force: values.force,
    bundle: values.bundle,
    signKeyFile: values.sign,
    mountFrom: values['mount-from'],
    concurrency,
    onProgress: values.json ? undefined : progressPrinter(),
  });
  if (process.stderr.isTTY && !values.json) process.stderr.write('\r\x1b[K');
  output(values.json, { target: 'oci', ...r }, () => {
    const kind = r.prerelease ? 'prerelease (beta channel)' : 'release (stable channel)';
    for (const p of r.pushed) {
      console.log(
        `${p.replaced ? 'replaced' : 'pushed'} ${kind} ${p.ref} (${p.digest.slice(0, 19)}…): tags ${p.tags.join(', ')}; ` +
          `${p.uploaded} blobs uploaded (${p.uploadedBytes} bytes), ${p.present} already there, ${p.mounted} mounted` +
          (r.signed ? ', signed' : ''),
      );
    }
  });
  return 0;
}

// "Publish Release": manifest, signature and files to GitHub Releases, a static folder or an OCI
// registry, through the publishing core; then the Releases view and the status bar catch up. What the host needs
// (a repository and a token) is checked before the version is asked for.
import * as vscode from 'vscode';
import { OtaError } from '../../core/errors';
import { listenPlan } from '../../core/local-host';
import {
  DEVICE_PLACEHOLDER,
  deviceNameProblem,
  deviceOfRef,
  hasDevicePlaceholder,
  placeholderProblem,
} from '../../core/publish/device-ref';
import type { Credentials } from '../../core/publish/oci';
import { registrySources } from '../release-source';
import type { Controller } from '../controller';
import { workspaceRoot } from '../settings';
import { releaseDate } from './release-date';
import { askVersion } from './version-prompt';

export interface PublishArgs {
  version?: string;
  /** For a `{device}` reference: the device names (else asked). */
  devices?: string[];
  prerelease?: boolean;
  force?: boolean;
}

export async function publishRelease(ctl: Controller, arg?: unknown): Promise<string> {
  const given = (arg && typeof arg === 'object' ? arg : {}) as PublishArgs;
  const s = ctl.settings();
  const dir = ctl.projectDir();
  let token: string | undefined;
  if (s.source === 'github') {
    if (!s.repo) throw new OtaError('no_repo', 'No GitHub repository to publish to: run Configure Device.');
    token = await ctl.auth.require(s.apiUrl);
  }
  const oci = s.source === 'oci' ? await import('../../core/publish/oci') : undefined;
  let devices: string[] | undefined;
  let credentials: Credentials | undefined;
  if (oci) {
    // A `{device}` reference: which devices, checked by the core rule the CLI uses (device-ref.ts).
    devices = hasDevicePlaceholder(ociRef(s.ociRef))
      ? (given.devices ?? (await askDevices(ctl, s.ociRef)))
      : given.devices;
    oci.expandDevices(s.ociRef, devices);
    // The registry's credentials by the one order (registry-login.ts): environment, docker/podman
    // login, then for ghcr.io the VS Code GitHub sign-in; never stored by this command.
    const { registryCredentials } = await import('../../core/publish/registry-login');
    credentials = await registryCredentials(s.ociRef, {
      access: 'push',
      ...(await registrySources(ctl, true)),
    });
    if (credentials) ctl.output.info(`Pushing to ${s.ociRef} with the credentials from ${credentials.from}`);
  }
  const signKeyFile = s.signingKey || undefined;
  await checkSigningKey(signKeyFile, ctl.deviceConfig()?.keys);
  const version = await askVersion(ctl, given.version, 'Version to publish');
  const created = await releaseDate(ctl, dir);
  const build = created ? { created } : undefined;
  ctl.output.channel.show(true);
  // Unsigned: every notice offers to make a key.
  const notify = (message: string, ...buttons: string[]) =>
    void vscode.window
      .showInformationMessage(message, ...buttons, ...(signKeyFile ? [] : [SIGN]))
      .then((b) => b && vscode.commands.executeCommand(COMMANDS[b]));
  if (s.source === 'static') {
    const outDir = vscode.Uri.joinPath(workspaceRoot()!, s.staticOutDir).fsPath;
    const { publishFolder } = await import('../../core/publish/folder');
    const r = await publishFolder({ dir, version, outDir, signKeyFile, force: given.force, build });
    ctl.output.info(
      `Published ${r.version} to ${r.outDir} (${r.files} files${r.latest ? ', now latest' : ''})`,
    );
    // A folder on disk is not a host yet: say so, and offer to serve it when the board expects this computer.
    const served = ctl.served();
    const local = !s.staticUrl || listenPlan(s.staticUrl);
    if (served) notify(`Published ${version}: boards get it from ${served.url}.`);
    else if (local)
      notify(`Published ${version} to ${s.staticOutDir}. Boards reach it once it is served.`, SERVE);
    else notify(`Published ${version} to ${r.outDir}. Upload that folder to ${s.staticUrl}.`);
  } else if (oci) {
    const ref = devices?.length ? `${s.ociRef} (${devices.join(', ')})` : s.ociRef;
    const r = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Publishing ${version} to ${ref}` },
      (progress) =>
        oci.publishOci({
          dir,
          version,
          ref: s.ociRef,
          devices,
          credentials,
          prerelease: given.prerelease,
          force: given.force,
          signKeyFile,
          build,
          onProgress: reporter(progress),
        }),
    );
    for (const p of r.pushed) {
      ctl.output.info(
        `Published ${p.ref} (tags ${p.tags.join(', ')}; ${p.uploaded} blobs uploaded, ${p.uploadedBytes} bytes, ` +
          `${p.present} already there${r.signed ? ', signed' : ''})`,
      );
    }
    notify(`Published release ${version} to ${ref}.`);
  } else {
    const { publishGitHub } = await import('../../core/publish/github');
    const r = await vscode.window.withProgress(
      {
        location: vscode.ProgressLocation.Notification,
        title: `Publishing ${version} to ${s.repo}`,
        cancellable: false,
      },
      (progress) =>
        publishGitHub({
          dir,
          version,
          repo: s.repo,
          token,
          baseUrl: s.apiUrl,
          prerelease: given.prerelease,
          force: given.force,
          signKeyFile,
          build,
          onProgress: reporter(progress),
        }),
    );
    ctl.output.info(`Published ${r.tag} (${r.assets.length} assets${r.signed ? ', signed' : ''}): ${r.url}`);
    notify(`Published release ${version}.`);
  }
  if (!signKeyFile)
    ctl.output.warn(
      `${version} is unsigned: boards without "keys" install it (and anyone's). Create Signing Key makes a key that signs the next one.`,
    );
  await ctl.checkForUpdates(false).catch(() => undefined);
  return version;
}

const SERVE = 'Serve Releases Locally';
const SIGN = 'Create Signing Key';
const COMMANDS: Record<string, string> = { [SERVE]: 'ota.serveReleases', [SIGN]: 'ota.createSigningKey' };

/** The reference to publish to: a newcomer without one is told what to set. */
function ociRef(ref: string): string {
  if (!ref)
    throw new OtaError('bad_ref', 'No OCI reference to publish to: set ota.oci.ref (host/repository).');
  return ref;
}

const OTHER = 'Another device name…';

/**
 * The devices a `{device}` reference is published for: the boards here whose own reference is one
 * of the template's (their ota_config.json names it), and any other name typed in.
 */
async function askDevices(ctl: Controller, template: string): Promise<string[]> {
  const problem = placeholderProblem(template);
  if (problem) throw new OtaError('bad_ref', problem);
  const known = [
    ...new Set(
      ctl.boards
        .ports()
        .map((p) => deviceOfRef(template, ctl.boards.info(p).releaseRef))
        .filter((d): d is string => Boolean(d)),
    ),
  ];
  let names: string[] = [];
  if (known.length) {
    const picked = await vscode.window.showQuickPick(
      [
        ...known.map((d) => ({
          label: d,
          description: template.split(DEVICE_PLACEHOLDER).join(d),
          picked: true,
        })),
        { label: OTHER, alwaysShow: true },
      ],
      { title: `Publish for which devices? (${template})`, canPickMany: true, ignoreFocusOut: true },
    );
    if (!picked) throw new OtaError('cancelled', 'Publish Release cancelled: no device chosen.');
    names = picked.filter((p) => p.label !== OTHER).map((p) => p.label);
    if (!picked.some((p) => p.label === OTHER) && names.length) return names;
  }
  const typed = await vscode.window.showInputBox({
    title: `Device name for ${template}`,
    prompt: `Replaces ${DEVICE_PLACEHOLDER}; several names separated by spaces. A board follows its own with "ref" in ota_config.json.`,
    placeHolder: 'board-7',
    ignoreFocusOut: true,
    validateInput: (v) =>
      v
        .split(/[\s,]+/)
        .filter(Boolean)
        .map(deviceNameProblem)
        .find(Boolean) ?? (v.trim() ? undefined : deviceNameProblem('')),
  });
  if (typed === undefined) throw new OtaError('cancelled', 'Publish Release cancelled: no device chosen.');
  names.push(...typed.split(/[\s,]+/).filter(Boolean));
  // Nothing chosen and nothing typed: the core refuses it with the reason (expandDevices).
  return names;
}

/** A notification's progress from the core's { phase, asset, done, total }. */
/**
 * Refuses, before the version is asked, a release the configured board would refuse (no_signature,
 * sig_unknown_key) or that cannot be signed: no ota.signingKey while the board trusts keys, a file
 * holding only a public key, or a key the board does not trust.
 */
async function checkSigningKey(signKeyFile: string | undefined, keys: unknown): Promise<void> {
  const ids = Array.isArray(keys) ? (keys as { id?: unknown }[]).map((k) => String(k.id)) : [];
  const named = ids.join(', ');
  const howTo = `set ota.signingKey (Settings, or Configure Device > Signed releases? > Add a key file…) to the private key file of ${ids.length > 1 ? 'one of them' : 'it'}: the JSON \`ota keygen\` or Create Signing Key wrote, never a copy in the project`;
  if (!signKeyFile) {
    if (ids.length)
      throw new OtaError(
        'no_signing_key',
        `The board trusts only signed releases (key ${named}) and ota.signingKey is not set: ${howTo}; or create a new signing key (then Install Updater, so the board trusts it). Nothing was published.`,
      );
    return;
  }
  const { readTrustFile } = await import('../../core/keys');
  const { entry, signs } = await readTrustFile(signKeyFile);
  if (!signs)
    throw new OtaError(
      'no_signing_key',
      `ota.signingKey names ${signKeyFile}, which holds only the public part of key ${entry.id}: a release is signed with the private key. Set ota.signingKey to the key file \`ota keygen\` wrote for ${entry.id}; the public entry is what the board trusts. Nothing was published.`,
    );
  // An HMAC key is added to the board's trust at install, from ota.signingKey itself.
  if (ids.length && entry.alg !== 'hmac-sha256' && !ids.includes(entry.id))
    throw new OtaError(
      'no_signing_key',
      `ota.signingKey names key ${entry.id} (${signKeyFile}), which the board does not trust (it trusts key ${named}), so the board would refuse the release: ${howTo}; or trust ${entry.id} in Configure Device and install the updater again. Nothing was published.`,
    );
}

function reporter(
  progress: vscode.Progress<{ message?: string; increment?: number }>,
): (p: { phase: string; asset?: string; done: number; total: number }) => void {
  let shown = 0;
  return (p) => {
    const pct = p.total ? Math.floor((p.done / p.total) * 100) : 0;
    progress.report({ message: `${p.phase}${p.asset ? ` ${p.asset}` : ''}`, increment: pct - shown });
    shown = pct;
  };
}

// "Publish Release": manifest, signature and files to GitHub Releases, a static folder or an OCI
// registry, through the publishing core; then the Releases view and the status bar catch up. What the host needs
// (a repository and a token) is checked before the version is asked for.
import * as vscode from 'vscode';
import { OtaError } from '../../core/errors';
import { listenPlan } from '../../core/local-host';
import type { Controller } from '../controller';
import { workspaceRoot } from '../settings';
import { releaseDate } from './release-date';
import { askVersion } from './version-prompt';

export interface PublishArgs {
  version?: string;
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
  // The registry's credentials, as the CLI reads them (environment, docker/podman login): never stored.
  let credentials = oci ? await oci.credentialsFor(ociRef(s.ociRef)) : undefined;
  if (oci) {
    const login = await import('../../core/publish/registry-login');
    if (login.githubLoginFor(ociRef(s.ociRef), credentials)) {
      const session = await ctl.auth.packagesSession();
      credentials = login.githubCredentials(session.login, session.token);
      ctl.output.info(
        `No registry credentials for ghcr.io: pushing as ${session.login} with the VS Code GitHub sign-in (${login.GHCR_SCOPE})`,
      );
    }
  }
  const version = await askVersion(ctl, given.version, 'Version to publish');
  const signKeyFile = s.signingKey || undefined;
  const created = await releaseDate(ctl, dir);
  const build = created ? { created } : undefined;
  ctl.output.channel.show(true);
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
    if (served)
      void vscode.window.showInformationMessage(`Published ${version}: boards get it from ${served.url}.`);
    else if (local)
      void vscode.window
        .showInformationMessage(
          `Published ${version} to ${s.staticOutDir}. Boards reach it once it is served.`,
          'Serve Releases Locally',
        )
        .then((b) => b && vscode.commands.executeCommand('ota.serveReleases'));
    else
      void vscode.window.showInformationMessage(
        `Published ${version} to ${r.outDir}. Upload that folder to ${s.staticUrl}.`,
      );
  } else if (oci) {
    const ref = ociRef(s.ociRef);
    const r = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Publishing ${version} to ${ref}` },
      (progress) =>
        oci.publishOci({
          dir,
          version,
          ref,
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
    void vscode.window.showInformationMessage(`Published release ${version} to ${ref}.`);
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
    void vscode.window.showInformationMessage(`Published release ${version}.`);
  }
  await ctl.checkForUpdates(false).catch(() => undefined);
  return version;
}

/** The reference to publish to; a per-board `{device}` one is the CLI's (it names each board). */
function ociRef(ref: string): string {
  if (!ref)
    throw new OtaError('bad_ref', 'No OCI reference to publish to: set ota.oci.ref (host/repository).');
  if (ref.includes('{device}')) {
    throw new OtaError(
      'bad_ref',
      `${ref} names one repository per board: publish with \`ota publish --target oci --ref ${ref} --device <id>\`.`,
    );
  }
  return ref;
}

/** A notification's progress from the core's { phase, asset, done, total }. */
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

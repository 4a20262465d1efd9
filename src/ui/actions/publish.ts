// "OTA: Publish Release": manifest, signature and files to GitHub Releases or a static folder,
// through the publishing core; then the Releases view and the status bar catch up.
import * as vscode from 'vscode';
import { OtaError } from '../../core/errors';
import type { Controller } from '../controller';
import { readSettings, workspaceRoot } from '../settings';
import { releaseDate } from './release-date';
import { askVersion } from './version-prompt';

export interface PublishArgs {
  version?: string;
  prerelease?: boolean;
  force?: boolean;
}

export async function publishRelease(ctl: Controller, arg?: unknown): Promise<string> {
  const given = (arg && typeof arg === 'object' ? arg : {}) as PublishArgs;
  const s = readSettings();
  const dir = ctl.projectDir();
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
  } else {
    if (!s.repo)
      throw new OtaError('no_repo', 'Set "ota.github.repo" (owner/name) or run "OTA: Configure Device".');
    const token = await ctl.auth.require(s.apiUrl);
    const { publishGitHub } = await import('../../core/publish/github');
    const r = await vscode.window.withProgress(
      {
        location: vscode.ProgressLocation.Notification,
        title: `Publishing ${version} to ${s.repo}`,
        cancellable: false,
      },
      (progress) => {
        let shown = 0;
        return publishGitHub({
          dir,
          version,
          repo: s.repo,
          token,
          baseUrl: s.apiUrl,
          prerelease: given.prerelease,
          force: given.force,
          signKeyFile,
          build,
          onProgress: (p) => {
            const pct = p.total ? Math.floor((p.done / p.total) * 100) : 0;
            progress.report({ message: `${p.phase}${p.asset ? ` ${p.asset}` : ''}`, increment: pct - shown });
            shown = pct;
            ctl.output.info(`publish ${p.phase}${p.asset ? ` ${p.asset}` : ''} ${p.done}/${p.total} bytes`);
          },
        });
      },
    );
    ctl.output.info(`Published ${r.tag} (${r.assets.length} assets${r.signed ? ', signed' : ''}): ${r.url}`);
  }
  void vscode.window.showInformationMessage(`Published release ${version}.`);
  await ctl.checkForUpdates(false).catch(() => undefined);
  return version;
}

// "OTA: Generate Manifest": builds manifest.json for the project and opens it.
import * as vscode from 'vscode';
import type { Controller } from '../controller';
import { workspaceRoot } from '../settings';
import { releaseDate } from './release-date';
import { askVersion } from './version-prompt';

export async function generateManifest(ctl: Controller, version?: unknown): Promise<vscode.Uri> {
  const dir = ctl.projectDir();
  const v = await askVersion(ctl, version, 'Version of the manifest');
  const { buildManifest, serializeManifest } = await import('../../core/manifest');
  const created = await releaseDate(ctl, dir);
  const manifest = await buildManifest(dir, { version: v, created });
  // Beside the project, not inside it, so the next release does not include it.
  const target = vscode.Uri.joinPath(workspaceRoot()!, 'manifest.json');
  await vscode.workspace.fs.writeFile(target, serializeManifest(manifest));
  ctl.output.info(`manifest.json for ${manifest.name} ${manifest.version}: ${manifest.files.length} files`);
  await vscode.window.showTextDocument(target, { preview: true });
  return target;
}

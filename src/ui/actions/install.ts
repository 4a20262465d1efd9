// "OTA: Install Updater on Device": the updater package and ota_config.json over serial.
// Wi-Fi credentials come from secret storage and go to the board only.
import * as vscode from 'vscode';
import { OtaError } from '../../core/errors';
import { checkOtaConfig } from '../../core/config';
import type { Controller } from '../controller';
import { readWorkspaceConfig, wifiFor } from './configure';
import { readSettings } from '../settings';

export async function installUpdater(ctl: Controller, arg?: unknown): Promise<void> {
  const port = await ctl.board(arg);
  const config = await readWorkspaceConfig();
  if (!config) {
    throw new OtaError(
      'no_config',
      'No ota_config.json in the workspace: run "OTA: Configure Device" first.',
    );
  }
  const wifi = await wifiFor(ctl, config);
  const deviceDir = vscode.Uri.joinPath(ctl.context.extensionUri, 'device').fsPath;
  const keyFile = readSettings().signingKey || undefined;
  ctl.output.channel.show(true);
  ctl.output.info(`Installing the updater on ${port}`);
  const result = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Installing the updater on ${port}` },
    (progress) =>
      ctl.connections.use(port, async (board) => {
        const { installUpdater: install } = await import('../../core/serial/install');
        return install(board, {
          deviceDir,
          config: checkOtaConfig(wifi ? { ...config, wifi } : config),
          keyFile,
          onProgress: (p) =>
            progress.report({ message: `${p.path} ${Math.round((p.done / Math.max(1, p.total)) * 100)}%` }),
        });
      }),
  );
  ctl.output.info(
    `Updater installed on ${port}: ${result.uploaded.length} files written (${result.bytes} bytes), ${result.unchanged.length} unchanged, ${result.removed.length} removed`,
  );
  await ctl.boards.refresh(port);
}

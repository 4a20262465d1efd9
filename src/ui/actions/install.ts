// "Install Updater on Device": the updater package and the board's ota_config.json over serial.
// The configuration is built from what Configure Device stored (plus Wi-Fi, the fleet broker's and
// a private registry's password from secret storage) and checked against its schema first: an invalid one is refused
// before the board is opened.
import * as vscode from 'vscode';
import { bindApp, boardConfig } from '../../core/board-config';
import type { Controller } from '../controller';
import { fleetPasswordFor, registryPasswordFor, wifiFor } from './configure';

export async function installUpdater(ctl: Controller, arg?: unknown): Promise<void> {
  const config = bindApp(
    boardConfig(
      ctl.deviceConfig(),
      await wifiFor(ctl),
      await fleetPasswordFor(ctl),
      await registryPasswordFor(ctl),
    ),
    ctl.projectDir(),
  );
  const port = await ctl.board(arg);
  const deviceDir = vscode.Uri.joinPath(ctl.context.extensionUri, 'device').fsPath;
  const keyFile = ctl.settings().signingKey || undefined;
  ctl.output.info(`Installing the updater on ${port}`);
  const result = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Installing the updater on ${port}` },
    (progress) =>
      ctl.connections.use(port, async (board) => {
        const { installUpdater: install } = await import('../../core/serial/install');
        return install(board, {
          deviceDir,
          config,
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
  void vscode.window
    .showInformationMessage('Updater installed. Next: publish a release.', 'Publish Release')
    .then((b) => b && vscode.commands.executeCommand('ota.publishRelease'));
}

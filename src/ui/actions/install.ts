// "Install Updater on Device": the updater package and the board's ota_config.json over serial.
// The configuration is built from what Configure Device stored (plus Wi-Fi, the fleet broker's and
// a private registry's password from secret storage) and checked against its schema first: an invalid one is refused
// before the board is opened.
import * as vscode from 'vscode';
import { bindApp, boardConfig } from '../../core/board-config';
import { loopbackForBoard } from '../../core/local-host';
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
  const installed = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Installing the updater on ${port}` },
    (progress) =>
      ctl.connections.use(port, async (board) => {
        const { installUpdater: install } = await import('../../core/serial/install');
        const done = await install(board, {
          deviceDir,
          config,
          keyFile,
          onProgress: (p) =>
            progress.report({ message: `${p.path} ${Math.round((p.done / Math.max(1, p.total)) * 100)}%` }),
        });
        return { done, platform: (await board.info()).platform };
      }),
  );
  // A real board told 127.0.0.1 asks itself for releases: the first update would fail (as ota install says).
  const loopback = [config.url, config.api]
    .map((u) =>
      loopbackForBoard(
        u,
        installed.platform,
        'pick "This computer, for a board on Wi-Fi" in Configure Device: Serve Releases Locally then listens on your network',
      ),
    )
    .find(Boolean);
  const result = installed.done;
  ctl.output.info(
    `Updater installed on ${port}: ${result.uploaded.length} files written (${result.bytes} bytes), ${result.unchanged.length} unchanged, ${result.removed.length} removed`,
  );
  await ctl.boards.refresh(port);
  if (loopback) {
    ctl.output.warn(loopback);
    void vscode.window
      .showWarningMessage(`Updater installed, but ${loopback}.`, 'Configure Device')
      .then((b) => b && vscode.commands.executeCommand('ota.configureDevice'));
    return;
  }
  void vscode.window
    .showInformationMessage('Updater installed. Next: publish a release.', 'Publish Release')
    .then((b) => b && vscode.commands.executeCommand('ota.publishRelease'));
}

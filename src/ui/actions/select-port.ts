// "OTA: Select Serial Port": picks the board the commands act on, or adds a port by path.
import * as vscode from 'vscode';
import type { Controller } from '../controller';

const ENTER_PATH = 'Enter a port path…';

export async function selectPort(ctl: Controller, arg?: unknown): Promise<string | undefined> {
  let port = typeof arg === 'string' ? arg : undefined;
  if (!port) {
    await ctl.boards.rescan();
    const items: vscode.QuickPickItem[] = ctl.boards.ports().map((p) => {
      const info = ctl.boards.info(p);
      return {
        label: p,
        description: [info.virtual ? 'virtual board' : info.board, info.appVersion && `v${info.appVersion}`]
          .filter(Boolean)
          .join(' · '),
      };
    });
    items.push({ label: ENTER_PATH, alwaysShow: true });
    const picked = await vscode.window.showQuickPick(items, {
      title: 'Select the board to act on',
      placeHolder: 'Serial port',
    });
    if (!picked) return undefined;
    port = picked.label;
    if (port === ENTER_PATH) {
      port = (
        await vscode.window.showInputBox({
          title: 'Serial port path',
          placeHolder: '/dev/ttyACM0 or COM3',
          ignoreFocusOut: true,
        })
      )?.trim();
      if (!port) return undefined;
    }
  }
  if (!ctl.boards.ports().includes(port)) {
    const config = vscode.workspace.getConfiguration('ota');
    const extra = config.get<string[]>('serialPorts', []);
    await config.update('serialPorts', [...extra, port], vscode.ConfigurationTarget.Workspace);
  }
  ctl.boards.selected = port;
  await ctl.boards.refresh(port);
  ctl.showStatus();
  // A `{device}` reference: the Releases view lists the selected board's own repository.
  const s = ctl.settings();
  if (s.source === 'oci' && s.ociRef.includes('{device}')) void ctl.status.run();
  return port;
}

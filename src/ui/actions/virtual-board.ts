// "OTA: Start Virtual Board": real MicroPython (WebAssembly) behind a pseudo-terminal,
// its flash a folder in the extension's storage, so every command works without hardware.
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { Controller } from '../controller';

export async function startVirtualBoard(ctl: Controller): Promise<string> {
  const storage = (ctl.context.storageUri ?? ctl.context.globalStorageUri).fsPath;
  const fsDir = join(storage, 'virtual-board', 'flash');
  await mkdir(fsDir, { recursive: true });
  const [{ VirtualBoard }, { exposeOnPty }] = await Promise.all([
    import('../../sim/board'),
    import('../../sim/pty'),
  ]);
  const port = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: 'Starting a virtual board' },
    async () => {
      const board = await VirtualBoard.start({ fsDir });
      try {
        // A short path: pseudo-terminal links live in the temp dir, not in a deep storage path.
        const pty = await exposeOnPty(
          board,
          join(tmpdir(), `ota-virtual-board-${process.pid}-${Date.now()}`),
        );
        ctl.boards.addVirtual(pty.path, async () => {
          await pty.close();
          await board.stop();
        });
        return pty.path;
      } catch (err) {
        await board.stop();
        throw err;
      }
    },
  );
  ctl.output.info(`Virtual board on ${port} (flash: ${fsDir})`);
  ctl.boards.selected = port;
  await ctl.boards.refresh(port);
  ctl.showStatus();
  return port;
}

// "OTA: Start Virtual Board": real MicroPython (WebAssembly) on an in-process serial link (the same
// raw REPL bytes as a USB port; no pseudo-terminal, so it works on Windows too), its flash a folder
// in the extension's storage, so every command works without hardware.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { VirtualBoard } from '../../sim/board';
import type { Controller } from '../controller';

/** The one place that links a virtual board to a port path the commands open: an in-process link. */
async function linkBoard(board: VirtualBoard): Promise<{ path: string; close(): Promise<void> }> {
  const { exposeOnLink } = await import('../../sim/usb');
  return exposeOnLink(board, `link:ota-virtual-board-${Date.now()}`);
}

export async function startVirtualBoard(ctl: Controller): Promise<string> {
  const storage = (ctl.context.storageUri ?? ctl.context.globalStorageUri).fsPath;
  const fsDir = join(storage, 'virtual-board', 'flash');
  await mkdir(fsDir, { recursive: true });
  const { VirtualBoard } = await import('../../sim/board');
  const port = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: 'Starting a virtual board' },
    async () => {
      const board = await VirtualBoard.start({ fsDir });
      try {
        const link = await linkBoard(board);
        ctl.boards.addVirtual(
          link.path,
          async () => {
            await link.close();
            await board.stop();
          },
          board.serialNumber,
        );
        return link.path;
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

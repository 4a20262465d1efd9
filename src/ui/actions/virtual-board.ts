// "Start Virtual Board": real MicroPython (WebAssembly) behind a serial port, its flash a folder
// in the extension's storage, so every command works without hardware.
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { VirtualBoard } from '../../sim/board';
import type { Controller } from '../controller';

/** The one place that links a virtual board to a port path the commands open (today a pseudo-terminal). */
async function linkBoard(board: VirtualBoard): Promise<{ path: string; close(): Promise<void> }> {
  const { exposeOnPty } = await import('../../sim/pty');
  // A short path: pseudo-terminal links live in the temp dir, not in a deep storage path.
  return exposeOnPty(board, join(tmpdir(), `ota-virtual-board-${process.pid}-${Date.now()}`));
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
        ctl.boards.addVirtual(link.path, async () => {
          await link.close();
          await board.stop();
        });
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

// The Files view's commands: open a board file (read-only), download it, delete it, or compare
// it with the workspace file of the same path.
import * as vscode from 'vscode';
import { OtaError } from '../../core/errors';
import type { Controller } from '../controller';
import { boardUri, type FileNode } from '../files-tree';

function nodeOf(arg: unknown): FileNode {
  const n = arg as Partial<FileNode> | undefined;
  if (!n?.port || !n.path) throw new OtaError('no_selection', 'Pick a file in the Files view.');
  return n as FileNode;
}

export async function openBoardFile(_ctl: Controller, arg?: unknown): Promise<vscode.TextEditor> {
  const n = nodeOf(arg);
  return vscode.window.showTextDocument(boardUri(n.port, n.path), { preview: true });
}

export async function downloadBoardFile(ctl: Controller, arg?: unknown): Promise<vscode.Uri | undefined> {
  const n = nodeOf(arg);
  const target = await vscode.window.showSaveDialog({
    title: `Save ${n.path} from the board`,
    defaultUri: vscode.Uri.file(`${ctl.projectDir()}${n.path}`),
  });
  if (!target) return undefined;
  const bytes = await ctl.connections.use(n.port, (b) => b.read(n.path));
  await vscode.workspace.fs.writeFile(target, bytes);
  ctl.output.info(`Downloaded ${n.path} (${bytes.length} B) to ${target.fsPath}`);
  return target;
}

export async function deleteBoardFile(ctl: Controller, arg?: unknown): Promise<boolean> {
  const n = nodeOf(arg);
  const ok = await vscode.window.showWarningMessage(
    `Delete ${n.path}${n.type === 'dir' ? ' and everything in it' : ''} from the board?`,
    { modal: true },
    'Delete',
  );
  if (ok !== 'Delete') return false;
  await ctl.connections.use(n.port, (b) => b.rm(n.path));
  ctl.output.info(`Deleted ${n.path} from ${n.port}`);
  ctl.files.refresh();
  return true;
}

export async function compareBoardFile(ctl: Controller, arg?: unknown): Promise<void> {
  const n = nodeOf(arg);
  const local = vscode.Uri.file(`${ctl.projectDir()}${n.path}`);
  try {
    await vscode.workspace.fs.stat(local);
  } catch {
    throw new OtaError('not_found', `The workspace has no ${n.path} to compare with.`);
  }
  const name = n.path.slice(1);
  await vscode.commands.executeCommand(
    'vscode.diff',
    boardUri(n.port, n.path),
    local,
    `${name} (board ↔ workspace)`,
  );
}

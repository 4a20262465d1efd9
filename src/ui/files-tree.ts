// The Files view: the selected board's filesystem (one recursive listing per refresh), with
// open, download, delete and compare-with-workspace on each file (src/ui/actions/files.ts).
// Files open read-only through the `ota-board:` scheme: ota-board:/main.py?port=/dev/ttyACM0.
import * as vscode from 'vscode';
import type { Controller } from './controller';

export const BOARD_SCHEME = 'ota-board';

export interface FileNode {
  port: string;
  path: string;
  type: 'file' | 'dir';
  size: number;
}

/** The read-only URI of a file on a board. */
export function boardUri(port: string, path: string): vscode.Uri {
  return vscode.Uri.from({ scheme: BOARD_SCHEME, path, query: `port=${encodeURIComponent(port)}` });
}

export function portOf(uri: vscode.Uri): string {
  return decodeURIComponent(/(?:^|&)port=([^&]*)/.exec(uri.query)?.[1] ?? '');
}

export class FilesTree implements vscode.TreeDataProvider<FileNode>, vscode.TextDocumentContentProvider {
  private readonly changed = new vscode.EventEmitter<FileNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private listing: { port: string; entries: FileNode[] } | undefined;
  problem: string | undefined;

  constructor(private readonly ctl: Controller) {}

  /** Lists the board again (after a delete, an install, an update, or a click on Refresh). */
  refresh(): void {
    this.listing = undefined;
    this.changed.fire(undefined);
  }

  private async load(port: string): Promise<FileNode[]> {
    if (this.listing?.port === port) return this.listing.entries;
    try {
      const entries = await this.ctl.connections.use(port, (b) => b.ls('/'));
      this.problem = undefined;
      this.listing = { port, entries: entries.map((e) => ({ port, ...e })) };
    } catch (err) {
      this.problem = err instanceof Error ? err.message : String(err);
      this.listing = { port, entries: [] };
    }
    return this.listing.entries;
  }

  async getChildren(node?: FileNode): Promise<FileNode[]> {
    const port = node?.port ?? this.ctl.boards.selected ?? this.ctl.boards.ports()[0];
    if (!port) return [];
    const dir = node ? node.path : '';
    const all = await this.load(port);
    return all
      .filter((e) => e.path.slice(0, e.path.lastIndexOf('/')) === dir)
      .sort((a, b) => Number(b.type === 'dir') - Number(a.type === 'dir') || a.path.localeCompare(b.path));
  }

  getTreeItem(node: FileNode): vscode.TreeItem {
    const name = node.path.slice(node.path.lastIndexOf('/') + 1);
    const dir = node.type === 'dir';
    const item = new vscode.TreeItem(
      name,
      dir ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None,
    );
    item.id = `file:${node.port}:${node.path}`;
    item.resourceUri = boardUri(node.port, node.path);
    item.description = dir ? undefined : `${node.size} B`;
    item.tooltip = `${node.path} on ${node.port}`;
    item.accessibilityInformation = { label: dir ? `${name}, folder` : `${name}, ${node.size} bytes` };
    item.contextValue = dir ? 'dir' : 'file';
    if (!dir) item.command = { title: 'Open', command: 'ota.openBoardFile', arguments: [node] };
    return item;
  }

  /** The bytes of a board file, for the editor. */
  provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    return this.ctl.connections
      .use(portOf(uri), (b) => b.read(uri.path))
      .then((bytes) => bytes.toString('utf8'));
  }
}

// The Devices view: one node per board, its facts as children. A board's contextValue carries its
// OTA state ("board state:confirm_pending virtual watching"), so package.json menus show only the
// commands that fit: Confirm / Roll Back when an update waits for confirmation, Install when the
// board has no updater, Stop Watching while its console streams.
import * as vscode from 'vscode';
import type { BoardInfo, BoardRegistry } from './boards';

type Node = { kind: 'board'; port: string } | { kind: 'fact'; port: string; label: string; value: string };

function kb(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MB` : `${Math.round(bytes / 1024)} KB`;
}

export function facts(info: BoardInfo, watching = false): [string, string][] {
  const rows: [string, string][] = [['Port', info.port]];
  if (info.board) rows.push(['Board', info.board]);
  if (info.micropython) rows.push(['MicroPython', info.micropython]);
  rows.push(['App version', info.appVersion ?? 'none']);
  if (info.otaState) rows.push(['OTA state', info.otaState]);
  if (info.channel) rows.push(['Channel', info.channel]);
  if (info.freeFlash !== undefined) rows.push(['Free flash', kb(info.freeFlash)]);
  if (watching) rows.push(['Console', 'watching (Stop Watching to end)']);
  if (info.problem) rows.push(['Problem', info.problem]);
  return rows;
}

/** The board's contextValue: space-separated words the menus' `when` clauses match. */
export function boardContext(info: BoardInfo, watching: boolean): string {
  const state = (info.otaState ?? 'unknown').replace(/\s+/g, '-');
  return ['board', `state:${state}`, info.virtual && 'virtual', watching ? 'watching' : 'unwatched']
    .filter(Boolean)
    .join(' ');
}

export class DevicesTree implements vscode.TreeDataProvider<Node> {
  private readonly changed = new vscode.EventEmitter<Node | undefined>();
  readonly onDidChangeTreeData = this.changed.event;

  constructor(
    private readonly boards: BoardRegistry,
    private readonly watching: (port: string) => boolean,
  ) {
    boards.onDidChange(() => this.changed.fire(undefined));
  }

  refresh(): void {
    this.changed.fire(undefined);
  }

  getChildren(node?: Node): Node[] {
    if (!node) return this.boards.ports().map((port) => ({ kind: 'board', port }));
    if (node.kind === 'fact') return [];
    return facts(this.boards.info(node.port), this.watching(node.port)).map(([label, value]) => ({
      kind: 'fact',
      port: node.port,
      label,
      value,
    }));
  }

  getTreeItem(node: Node): vscode.TreeItem {
    if (node.kind === 'fact') {
      const item = new vscode.TreeItem(node.label, vscode.TreeItemCollapsibleState.None);
      item.description = node.value;
      item.accessibilityInformation = { label: `${node.label}: ${node.value}` };
      item.contextValue = 'fact';
      if (node.label === 'Console') {
        item.iconPath = new vscode.ThemeIcon('eye');
        item.command = { title: 'Stop Watching', command: 'ota.stopWatching', arguments: [node.port] };
      }
      return item;
    }
    const info = this.boards.info(node.port);
    const watching = this.watching(node.port);
    const name = info.virtual ? 'Virtual board' : (info.board ?? node.port.split('/').pop() ?? node.port);
    const item = new vscode.TreeItem(name, vscode.TreeItemCollapsibleState.Expanded);
    item.id = `board:${node.port}`;
    item.description = [
      info.appVersion ? `v${info.appVersion}` : 'no app',
      info.otaState,
      watching && 'watching',
    ]
      .filter(Boolean)
      .join(' · ');
    item.tooltip = facts(info, watching)
      .map(([k, v]) => `${k}: ${v}`)
      .join('\n');
    item.accessibilityInformation = { label: `${name}, ${item.description}` };
    item.iconPath = new vscode.ThemeIcon(
      info.problem ? 'warning' : watching ? 'eye' : info.virtual ? 'vm' : 'circuit-board',
    );
    item.contextValue = boardContext(info, watching);
    if (this.boards.selected === node.port) item.label = { label: name, highlights: [[0, name.length]] };
    return item;
  }
}

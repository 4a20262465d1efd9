// The Releases view: the stable, beta and developer channels with their releases.
import * as vscode from 'vscode';

export interface ReleaseEntry {
  channel: 'stable' | 'beta' | 'developer';
  version: string;
  /** ISO date of publication (or of the commit, for the developer tip). */
  date?: string;
  url?: string;
}

type Node =
  | { kind: 'channel'; channel: ReleaseEntry['channel'] }
  | { kind: 'release'; entry: ReleaseEntry; latest: boolean };

const CHANNELS: ReleaseEntry['channel'][] = ['stable', 'beta', 'developer'];

export class ReleasesTree implements vscode.TreeDataProvider<Node> {
  private readonly changed = new vscode.EventEmitter<Node | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private entries: ReleaseEntry[] = [];
  problem: string | undefined;
  /** A release's staged rollout in words (set by the Fleet view, src/ui/fleet-view.ts). */
  rollout: ((version: string) => string | undefined) | undefined;

  refresh(): void {
    this.changed.fire(undefined);
  }

  set(entries: ReleaseEntry[], problem?: string): void {
    this.entries = entries;
    this.problem = problem;
    this.changed.fire(undefined);
  }

  all(): readonly ReleaseEntry[] {
    return this.entries;
  }

  getChildren(node?: Node): Node[] {
    if (!node) {
      // Empty tree: the view's welcome content (package.json viewsWelcome) shows instead.
      if (this.entries.length === 0) return [];
      return CHANNELS.filter((c) => this.entries.some((e) => e.channel === c)).map((channel) => ({
        kind: 'channel',
        channel,
      }));
    }
    if (node.kind === 'release') return [];
    return this.entries
      .filter((e) => e.channel === node.channel)
      .map((entry, i) => ({ kind: 'release', entry, latest: i === 0 }));
  }

  getTreeItem(node: Node): vscode.TreeItem {
    if (node.kind === 'channel') {
      const item = new vscode.TreeItem(node.channel, vscode.TreeItemCollapsibleState.Expanded);
      item.id = `channel:${node.channel}`;
      item.iconPath = new vscode.ThemeIcon(
        node.channel === 'developer' ? 'git-branch' : node.channel === 'beta' ? 'beaker' : 'tag',
      );
      item.contextValue = 'channel';
      return item;
    }
    const { entry } = node;
    const item = new vscode.TreeItem(entry.version, vscode.TreeItemCollapsibleState.None);
    item.id = `release:${entry.channel}:${entry.version}`;
    item.description = [
      entry.date?.slice(0, 10),
      node.latest ? 'latest' : undefined,
      this.rollout?.(entry.version),
    ]
      .filter(Boolean)
      .join(' · ');
    item.tooltip = [entry.version, entry.date, entry.url].filter(Boolean).join('\n');
    item.accessibilityInformation = { label: `${entry.channel} ${entry.version}, ${item.description}` };
    item.iconPath = new vscode.ThemeIcon(node.latest ? 'star-full' : 'package');
    item.contextValue = 'release';
    return item;
  }
}

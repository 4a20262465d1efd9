// The Releases view: where releases come from, then the stable, beta and developer channels with
// their releases; or, when there are none to show, why (nothing configured, host unreachable at a
// URL, an error) with the command that fixes it.
import * as vscode from 'vscode';
import { isLocalUrl } from '../core/user-errors';
import type { ReleaseEntry, ReleaseStatus } from '../core/release-channels';

export type { ReleaseEntry } from '../core/release-channels';

type Node =
  | { kind: 'host' }
  | { kind: 'channel'; channel: ReleaseEntry['channel'] }
  | { kind: 'release'; entry: ReleaseEntry; latest: boolean };

const CHANNELS: ReleaseEntry['channel'][] = ['stable', 'beta', 'developer'];

export class ReleasesTree implements vscode.TreeDataProvider<Node> {
  private readonly changed = new vscode.EventEmitter<Node | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private status: ReleaseStatus | undefined;
  private served: string | undefined;
  /** A release's staged rollout in words (set by the Fleet view, src/ui/fleet-view.ts). */
  rollout: ((version: string) => string | undefined) | undefined;

  refresh(): void {
    this.changed.fire(undefined);
  }

  set(status: ReleaseStatus, served?: string): void {
    this.status = status;
    this.served = served;
    this.changed.fire(undefined);
  }

  /** The releases the host listed; none while it cannot be reached (the view says why). */
  all(): readonly ReleaseEntry[] {
    return this.status?.state === 'ok' ? this.status.entries : [];
  }

  getChildren(node?: Node): Node[] {
    if (!node) {
      // Before the first check: the view's welcome content (package.json viewsWelcome) shows instead.
      if (!this.status) return [];
      const entries = this.all();
      return [
        { kind: 'host' },
        ...CHANNELS.filter((c) => entries.some((e) => e.channel === c)).map((channel): Node => ({
          kind: 'channel',
          channel,
        })),
      ];
    }
    if (node.kind !== 'channel') return [];
    return this.all()
      .filter((e) => e.channel === node.channel)
      .map((entry, i) => ({ kind: 'release', entry, latest: i === 0 }));
  }

  getTreeItem(node: Node): vscode.TreeItem {
    if (node.kind === 'host') return this.hostItem();
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
    // "release latest url": Update Device to This Release needs the newest; Open and Copy need a URL.
    item.contextValue = ['release', node.latest && 'latest', entry.url && 'url', entry.channel]
      .filter(Boolean)
      .join(' ');
    return item;
  }

  private hostItem(): vscode.TreeItem {
    const s = this.status!;
    const item = new vscode.TreeItem('', vscode.TreeItemCollapsibleState.None);
    item.id = 'host';
    if (s.state === 'not-configured') {
      item.label = 'Not configured';
      item.description = 'run Configure Device';
      item.tooltip = s.message;
      item.iconPath = new vscode.ThemeIcon('gear');
      item.command = { title: 'Configure Device', command: 'ota.configureDevice' };
      item.contextValue = 'host not-configured';
    } else if (s.state === 'unreachable') {
      const local = isLocalUrl(s.host);
      item.label = 'Host unreachable';
      item.description = s.host;
      item.tooltip = `${s.message}${local ? '\nClick to serve the releases from this computer.' : ''}`;
      item.iconPath = new vscode.ThemeIcon(
        'debug-disconnect',
        new vscode.ThemeColor('problemsWarningIcon.foreground'),
      );
      item.command = local
        ? { title: 'Serve Releases Locally', command: 'ota.serveReleases' }
        : { title: 'Configure Device', command: 'ota.configureDevice' };
      item.contextValue = `host unreachable${local ? ' local' : ''}`;
    } else if (s.state === 'error') {
      item.label = 'Cannot list releases';
      item.description = s.message;
      item.tooltip = s.message;
      item.iconPath = new vscode.ThemeIcon('error', new vscode.ThemeColor('problemsErrorIcon.foreground'));
      item.command = { title: 'Show Output', command: 'ota.showOutput' };
      item.contextValue = 'host error';
    } else {
      const served = this.served && s.host.startsWith(this.served);
      item.label = s.entries.length ? s.host : 'No releases yet';
      item.description = s.entries.length ? (served ? 'served from this computer' : undefined) : s.host;
      item.tooltip = `${s.entries.length ? 'Releases from' : 'Nothing published yet at'} ${s.host}${served ? '\n(Serve Releases Locally is running)' : ''}`;
      item.iconPath = new vscode.ThemeIcon(served ? 'radio-tower' : 'cloud');
      if (!s.entries.length) item.command = { title: 'Publish Release', command: 'ota.publishRelease' };
      item.contextValue = `host ok${served ? ' served' : ''}`;
    }
    item.accessibilityInformation = { label: `${String(item.label)}, ${String(item.description ?? '')}` };
    return item;
  }
}

// The Releases view: the core's shape (src/core/release-view.ts) as VS Code tree items, for GitHub,
// a static host or an OCI registry's tags.
import * as vscode from 'vscode';
import type { ReleaseEntry, ReleaseStatus } from '../core/release-channels';
import { listedReleases, releaseChildren, releaseItem, type ReleaseNode } from '../core/release-view';

export type { ReleaseEntry } from '../core/release-channels';

export class ReleasesTree implements vscode.TreeDataProvider<ReleaseNode> {
  private readonly changed = new vscode.EventEmitter<ReleaseNode | undefined>();
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
    return listedReleases(this.status);
  }

  getChildren(node?: ReleaseNode): ReleaseNode[] {
    return releaseChildren(this.status, node);
  }

  getTreeItem(node: ReleaseNode): vscode.TreeItem {
    const v = releaseItem(node, this.status!, { served: this.served, rollout: this.rollout });
    const item = new vscode.TreeItem(
      v.label,
      v.expanded ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.None,
    );
    item.id = v.id;
    item.description = v.description;
    item.tooltip = v.tooltip;
    item.iconPath = new vscode.ThemeIcon(v.icon, v.iconColor && new vscode.ThemeColor(v.iconColor));
    item.command = v.command;
    item.contextValue = v.contextValue;
    item.accessibilityInformation = { label: v.accessibility };
    return item;
  }
}

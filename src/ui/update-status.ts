// The status-bar item: says when a newer release than the board's (or the workspace's)
// exists; clicking it updates the board. Checks on a timer that backs off on errors.
import * as vscode from 'vscode';
import { compareVersions } from '../core/version';
import type { ReleaseEntry } from './releases-tree';
import type { Channel } from './settings';

const MAX_BACKOFF_MS = 60 * 60 * 1000;

/** The newest release of a channel, or undefined. */
export function latestOf(entries: readonly ReleaseEntry[], channel: Channel): ReleaseEntry | undefined {
  return entries.find((e) => e.channel === channel);
}

/** True when `latest` is newer than `current` (no current version: any release is newer). */
export function isNewer(latest: string, current: string | undefined): boolean {
  if (!current) return true;
  try {
    return compareVersions(latest, current) > 0;
  } catch {
    return latest !== current; // a developer tip is a commit, not a version: any change is news
  }
}

export class UpdateStatus implements vscode.Disposable {
  readonly item: vscode.StatusBarItem;
  private timer: NodeJS.Timeout | undefined;
  private failures = 0;
  /** What the item says now, for tests and the command that reads it back. */
  text = '';

  constructor(
    private readonly check: () => Promise<void>,
    private readonly intervalMs: () => number,
  ) {
    this.item = vscode.window.createStatusBarItem('ota.update', vscode.StatusBarAlignment.Left, 50);
    this.item.name = 'OTA update';
  }

  /** Shows the comparison of the channel's newest release with what the board runs. */
  show(latest: ReleaseEntry | undefined, current: string | undefined, target: string): void {
    if (!latest) {
      this.item.hide();
      this.text = '';
      return;
    }
    if (isNewer(latest.version, current)) {
      this.item.text = `$(cloud-download) OTA ${latest.version} available`;
      this.item.tooltip = `${target} runs ${current ?? 'no release'}; ${latest.channel} has ${latest.version}. Click to update the board.`;
      this.item.command = 'ota.updateDevice';
      this.item.backgroundColor = new vscode.ThemeColor('statusBarItem.warningBackground');
    } else {
      this.item.text = `$(check) OTA ${current}`;
      this.item.tooltip = `${target} runs the newest ${latest.channel} release.`;
      this.item.command = 'ota.checkForUpdates';
      this.item.backgroundColor = undefined;
    }
    this.text = this.item.text;
    this.item.show();
  }

  /** Runs a check now and schedules the next one: the interval, doubled per failure in a row. */
  async run(): Promise<void> {
    clearTimeout(this.timer);
    try {
      await this.check();
      this.failures = 0;
    } catch {
      this.failures++;
    } finally {
      const delay = Math.min(
        this.intervalMs() * 2 ** this.failures,
        Math.max(MAX_BACKOFF_MS, this.intervalMs()),
      );
      this.timer = setTimeout(() => void this.run(), delay);
      this.timer.unref?.();
    }
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.item.dispose();
  }
}

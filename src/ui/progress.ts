// Progress notifications driven by the board's `OTA:` events (one bar for the whole update), cancellable.
import * as vscode from 'vscode';
import type { OtaEvent } from '../core/events';
import { updateProgress } from '../core/update-progress';

/**
 * Runs `task` under a cancellable notification; `task` feeds it events and gets an
 * AbortSignal that fires when the user presses Cancel.
 */
export function withEventProgress<T>(
  title: string,
  task: (onEvent: (ev: OtaEvent) => void, signal: AbortSignal) => Promise<T>,
): Thenable<T> {
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title, cancellable: true },
    async (progress, token) => {
      const abort = new AbortController();
      const sub = token.onCancellationRequested(() => abort.abort());
      const describe = updateProgress();
      let shown = 0;
      try {
        return await task((ev) => {
          const { message, percent } = describe(ev);
          const increment = percent !== undefined && percent > shown ? percent - shown : undefined;
          if (increment !== undefined) shown = percent!;
          if (message !== undefined || increment !== undefined) progress.report({ message, increment });
        }, abort.signal);
      } finally {
        sub.dispose();
      }
    },
  );
}

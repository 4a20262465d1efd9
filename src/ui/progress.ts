// Progress notifications driven by the board's `OTA:` events, cancellable.
import * as vscode from 'vscode';
import type { OtaEvent } from '../core/events';

/** Turns one event into the notification's message and percentage (undefined: no change). */
export function describeEvent(ev: OtaEvent): { message?: string; percent?: number } {
  const num = (k: string): number | undefined => (typeof ev[k] === 'number' ? (ev[k] as number) : undefined);
  const str = (k: string): string => (typeof ev[k] === 'string' ? (ev[k] as string) : '');
  switch (ev.ev) {
    case 'check':
      return { message: 'Checking for a new release…' };
    case 'available':
      return { message: `Release ${str('version')} available` };
    case 'start':
      return { message: `Downloading ${str('version')}…`, percent: 0 };
    case 'progress': {
      const done = num('done');
      const total = num('total');
      const pct = done !== undefined && total ? Math.min(100, Math.round((done / total) * 100)) : undefined;
      return { message: `${str('file')} ${pct ?? ''}${pct === undefined ? '' : '%'}`.trim(), percent: pct };
    }
    case 'verified':
      return { message: `Verified ${str('file') || 'release'}` };
    case 'swap':
      return { message: 'Swapping files…' };
    case 'done':
      return { message: `Done: ${str('version')}`.trim(), percent: 100 };
    case 'confirm':
      return { message: 'Confirmed' };
    case 'rollback':
      return { message: 'Rolled back' };
    case 'error':
      return { message: `Error ${str('code')}: ${str('msg')}` };
    default:
      return {};
  }
}

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
      let shown = 0;
      try {
        return await task((ev) => {
          const { message, percent } = describeEvent(ev);
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

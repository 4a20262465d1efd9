// What a progress display shows for one update, from the board's events: one percentage over the
// bytes of every file the update downloads (the `start` event's `bytes`), not one per file.
import type { OtaEvent } from './events';

export interface UpdateStep {
  message?: string;
  /** 0-100 over the whole update; undefined: unchanged. */
  percent?: number;
}

/** A describer for one update's events; it remembers how far each file got. */
export function updateProgress(): (ev: OtaEvent) => UpdateStep {
  let need = 0;
  const done = new Map<string, number>();
  return (ev) => {
    const num = (k: string): number | undefined =>
      typeof ev[k] === 'number' ? (ev[k] as number) : undefined;
    const str = (k: string): string => (typeof ev[k] === 'string' ? (ev[k] as string) : '');
    switch (ev.ev) {
      case 'check':
        return { message: 'Checking for a new release…' };
      case 'available':
        return { message: `Release ${str('version')} available` };
      case 'start':
        need = num('bytes') ?? 0;
        done.clear();
        return { message: `Downloading ${str('version')}…`, percent: 0 };
      case 'progress': {
        const file = str('file');
        done.set(file, Math.max(done.get(file) ?? 0, num('done') ?? 0));
        if (!need) return { message: file };
        let sum = 0;
        for (const n of done.values()) sum += n;
        // 100 belongs to `done`; a resumed file or a firmware image can push the sum past `bytes`.
        const percent = Math.min(99, Math.floor((100 * sum) / need));
        return { message: `${percent}% · ${file}`, percent };
      }
      case 'verified':
        return { message: `Verified ${str('file') || str('firmware') || 'release'}` };
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
  };
}

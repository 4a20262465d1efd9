/**
 * The board's `OTA:` events as lines for people, with a log level: one line per finished file
 * (`lib/display.py 298 B ✓ (3/5)`), one for the whole update (`update 1.0.0 → 1.1.0 done in 2.3 s`);
 * partial progress is debug detail. The raw JSON stays available at trace level.
 *
 *   const render = eventRenderer();        // one per board session (it counts files and time)
 *   render({ ev: 'done', version: '1.1.0' })  // { level: 'info', text: 'update 1.0.0 → 1.1.0 done in 2.3 s' }
 */
import type { OtaEvent } from './events';

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';

export interface RenderedEvent {
  level: LogLevel;
  text: string;
}

/** Bytes as people read them: 298 B, 12.4 KB, 1.2 MB. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** A port's short name for log lines: /dev/ttyACM0 → ttyACM0, the virtual board (link:ota-virtual-board-…) → virtual. */
export function shortPortName(port: string): string {
  const last = (port.split(/[\\/]/).pop() || port).replace(/^link:/, '');
  return last.startsWith('ota-virtual-board') ? 'virtual' : last;
}

export function eventRenderer(now: () => number = () => Date.now()): (ev: OtaEvent) => RenderedEvent {
  let from: string | undefined;
  let started: number | undefined;
  let files = 0;
  let finished = 0;
  const seen = new Set<string>();
  return (ev) => {
    const s = (k: string): string => (typeof ev[k] === 'string' ? (ev[k] as string) : '');
    const n = (k: string): number | undefined => (typeof ev[k] === 'number' ? (ev[k] as number) : undefined);
    switch (ev.ev) {
      case 'check':
        from = s('current') || undefined;
        started = now();
        return {
          level: 'info',
          text: `checking ${s('source')}${s('channel') ? ` (${s('channel')})` : ''}, board runs ${from ?? 'no release'}`,
        };
      case 'available':
        from = s('current') || from;
        return {
          level: 'info',
          text: `release ${s('version')} available (board runs ${from ?? 'no release'})`,
        };
      case 'start': {
        files = n('files') ?? 0;
        finished = 0;
        seen.clear();
        started ??= now();
        const deleted = n('deleted') ? `, ${n('deleted')} to delete` : '';
        return {
          level: 'info',
          text: `downloading ${s('version')}: ${files} file${files === 1 ? '' : 's'}, ${formatBytes(n('bytes') ?? 0)}${deleted}`,
        };
      }
      case 'progress': {
        const file = s('file');
        const done = n('done') ?? 0;
        const total = n('total');
        if (total === undefined || done < total || seen.has(file))
          return {
            level: 'debug',
            text: `${file} ${formatBytes(done)}${total ? ` of ${formatBytes(total)}` : ''}`,
          };
        seen.add(file);
        finished++;
        return {
          level: 'info',
          text: `${file} ${formatBytes(total)} ✓ (${finished}/${Math.max(files, finished)})`,
        };
      }
      case 'verified':
        if (ev.manifest)
          return {
            level: 'info',
            text: `manifest ${s('version')} verified${s('key') ? ` (key ${s('key')})` : ''}`,
          };
        return { level: 'info', text: `verified ${s('firmware') || s('file') || s('version')}` };
      case 'swap': {
        // The board's swap event names only the version: the count is the download's (start).
        const count = n('files') ?? (files || undefined);
        return {
          level: 'info',
          text: `swapping in ${s('version')}${count === undefined ? '' : `: ${count} file${count === 1 ? '' : 's'}`}`,
        };
      }
      case 'done': {
        const took = started !== undefined ? ` in ${((now() - started) / 1000).toFixed(1)} s` : '';
        started = undefined;
        return {
          level: 'info',
          text: `${from ? `update ${from} →` : 'install'} ${s('version')} done${took}`,
        };
      }
      case 'confirm':
        return { level: 'info', text: `${s('version')} confirmed` };
      case 'rollback':
        return {
          level: 'warn',
          text: `rolled back ${s('version')}${s('reason') ? ` (${s('reason')})` : ''}, board runs ${s('current') || 'no release'}`,
        };
      case 'state':
        return { level: 'info', text: `state ${s('state')}, version ${s('version') || 'none'}` };
      case 'error':
        return { level: 'error', text: `${s('msg')} [${s('code')}]` };
      default:
        return { level: 'info', text: JSON.stringify(ev) };
    }
  };
}

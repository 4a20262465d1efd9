// The device log protocol: one `OTA:{json}` line per event (docs/protocols.md).

export const EVENT_NAMES = [
  'check',
  'available',
  'start',
  'progress',
  'verified',
  'swap',
  'done',
  'confirm',
  'rollback',
  'error',
  'state',
] as const;

export type EventName = (typeof EVENT_NAMES)[number];

export interface OtaEvent {
  ev: EventName;
  [key: string]: unknown;
}

const PREFIX = 'OTA:';

/** Parses one console line; returns undefined for free text or a malformed event line. */
export function parseEventLine(line: string): OtaEvent | undefined {
  const start = line.indexOf(PREFIX);
  if (start < 0) return undefined;
  try {
    const value: unknown = JSON.parse(line.slice(start + PREFIX.length).trim());
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    const ev = (value as { ev?: unknown }).ev;
    if (typeof ev !== 'string' || !(EVENT_NAMES as readonly string[]).includes(ev)) return undefined;
    return value as OtaEvent;
  } catch {
    return undefined;
  }
}

/**
 * Splits a byte stream from a board into lines and reports each event and each
 * line of free text; partial lines wait for their end.
 */
export class EventStream {
  private pending = '';
  constructor(private readonly sink: { event?(e: OtaEvent): void; text?(line: string): void }) {}

  push(chunk: string): void {
    this.pending += chunk;
    let nl: number;
    while ((nl = this.pending.indexOf('\n')) >= 0) {
      const line = this.pending.slice(0, nl).replace(/\r$/, '');
      this.pending = this.pending.slice(nl + 1);
      const event = parseEventLine(line);
      if (event) this.sink.event?.(event);
      else this.sink.text?.(line);
    }
  }
}

// The device log protocol: one `OTA:{json}` line per event (docs/protocols.md, "Log events").
// One entry per event: its fields as the board prints them (test/vocabularies.test.ts checks that the
// board's ev("...") calls name exactly these events). To add an event: a line here, its name in
// EVENT_NAMES, and the ev() call on the board.

interface EventFields {
  check: { source: string; channel?: string | null; current?: string | null };
  available: { version: string; current?: string | null };
  /** `bytes`: everything the update will download, for one progress figure (older updaters omit it). */
  start: { version: string; files?: number; bytes?: number; deleted?: number };
  progress: { file: string; done: number; total: number };
  /** The manifest's signature (`manifest`, `key`), the downloaded `files`, or a `firmware` image. */
  verified: { version?: string; manifest?: boolean; key?: string | null; files?: number; firmware?: string };
  swap: { version: string };
  done: { version: string };
  confirm: { version: string | null };
  rollback: { version: string | null; reason: string; current?: string | null };
  /** `code`: an error code of core/error-codes.ts, as the board spells it. */
  error: { code: string; msg: string };
  state: { state: string; version: string | null };
  /** Something the user should know that did not stop the check (`code`: tls_insecure, stale). */
  warning: { code: string; msg: string };
  /** A release the rollout holds back from this board (device/ota/fleetdoc.py). */
  held: { version: string; code?: string; msg?: string };
  /** The fleet session's news: `ok` false for a broker problem (`code`), true for a command or rollout taken. */
  fleet: { ok: boolean; code: string; msg?: string };
}

export type EventName = keyof EventFields;

/** One event from the board: narrow on `ev` to reach its fields. Fields added later pass through. */
export type OtaEvent = {
  [K in EventName]: { ev: K } & EventFields[K] & { [extra: string]: unknown };
}[EventName];

export type EventOf<K extends EventName> = Extract<OtaEvent, { ev: K }>;

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
  'warning',
  'held',
  'fleet',
] as const;

// Fails to compile when an event of EventFields is missing from EVENT_NAMES.
const _everyEventListed: Exclude<EventName, (typeof EVENT_NAMES)[number]> extends never ? true : never = true;
void _everyEventListed;

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
/** The longest console line kept whole (an event line is far shorter). */
export const MAX_LINE = 16 * 1024;

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
    // A board that never ends its line must not grow the host without bound: show it in pieces.
    if (this.pending.length > MAX_LINE) {
      this.sink.text?.(this.pending);
      this.pending = '';
    }
  }
}

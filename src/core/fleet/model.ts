/**
 * The fleet as the host sees it, built only from what the broker delivers: retained statuses (a board's
 * last check), last wills (offline), and events. Shared by `ota fleet`, the Fleet view and the rollout
 * controller, so every count has one definition.
 *
 *   new FleetModel(fleet, maxBoards?)
 *   model.handle(topic, payload)          // every message under ota/<fleet>/; malformed ones are counted and dropped
 *   model.boards / model.get(id) / model.summary() / model.byVersion() / model.byGroup()
 *   model.on('board', (b) => …)           // a board changed
 *   model.on('event', (id, e) => …)       // a board's OTA event
 *   model.on('capped', (warning) => …)    // once: a new board id past maxBoards (default MAX_BOARDS) was ignored
 *   describeError(code, msg) -> words
 */
import { EventEmitter } from 'node:events';
import { deviceTopic, parseEvent, parseStatus, topics, type DeviceStatus } from './protocol';

/** Events kept per board for "recent events". */
const RECENT = 20;

/** Bytes of event payloads kept per board: twenty real events (~200 B each) fit; a flood of 8 KB ones does not. */
const RECENT_BYTES = 8 * 1024;

/**
 * Board ids one connection keeps. Anyone with a fleet account can publish retained statuses under a
 * million ids; past this many, messages from further ids are ignored (one 'capped' warning) and the
 * boards already known keep working. 20 000 is twice the fleet the bench measures (README "Fleet":
 * ~3 MB per 1 000 boards), and at most ~10 KB per board (11 status fields of 200 characters,
 * RECENT_BYTES of events) bounds a hostile account's cost to ~200 MB.
 */
export const MAX_BOARDS = 20_000;

export interface FleetEvent {
  ev: string;
  /** Host time the event arrived (ms). */
  at: number;
  [k: string]: unknown;
}

export interface FleetBoard extends DeviceStatus {
  online: boolean;
  /** Host time of the last message from or about the board (ms). */
  seen: number;
  /** Host time of the last full status (ms). */
  reported?: number;
  /** The last error in words, or undefined. */
  error?: string;
  events: FleetEvent[];
}

export interface FleetSummary {
  boards: number;
  online: number;
  versions: Record<string, number>;
  groups: Record<string, number>;
  errors: number;
  pending: number;
}

const WORDS: Record<string, string> = {
  hash_mismatch: 'a downloaded file did not match its hash',
  bad_signature: 'the release signature did not verify',
  no_signature: 'the release was not signed and the board requires a signature',
  no_space: 'not enough free flash for the update',
  downgrade: 'the release is older than the installed one',
  bad_manifest: 'the release manifest was malformed',
  expired: 'the release manifest has expired',
  connection: 'the release host could not be reached',
  io: 'a file or network operation failed',
  busy: 'the previous update is waiting for confirmation',
  config: 'ota_config.json is invalid',
  fleet_auth: 'the broker refused the board’s user name or password',
  fleet_tls: 'the broker’s certificate was not trusted',
  fleet_down: 'the broker could not be reached',
  replay: 'a replayed command was refused',
  bad_command: 'a malformed command was refused',
  no_keys: 'the board has no release keys, so it takes no commands',
  no_rollback: 'nothing to roll back (the release was already confirmed)',
  internal: 'the updater hit an internal error',
};

export function describeError(code: string | undefined, msg?: string): string | undefined {
  if (!code) return undefined;
  const words =
    WORDS[code] ?? (/^http_\d+$/.test(code) ? `the release host answered ${code.slice(5)}` : code);
  return msg ? `${words} (${msg})` : words;
}

export class FleetModel extends EventEmitter {
  readonly prefix: string;
  private readonly map = new Map<string, FleetBoard>();
  /** Messages dropped as malformed or oversized. */
  dropped = 0;
  /** Messages ignored because they name a new board past the cap. */
  ignored = 0;
  private readonly eventBytes = new Map<string, number[]>();

  constructor(
    readonly fleet: string,
    readonly maxBoards = MAX_BOARDS,
  ) {
    super();
    this.prefix = topics(fleet).prefix;
  }

  get boards(): FleetBoard[] {
    return [...this.map.values()];
  }

  get size(): number {
    return this.map.size;
  }

  get(id: string): FleetBoard | undefined {
    return this.map.get(id);
  }

  private board(id: string, now: number): FleetBoard {
    let b = this.map.get(id);
    if (!b) {
      b = { id, online: false, seen: now, events: [] };
      this.map.set(id, b);
    }
    return b;
  }

  /** A message naming a new board past the cap: ignored before it is parsed (the first: one warning). */
  private ignore(id: string): boolean {
    if (this.map.has(id) || this.map.size < this.maxBoards) return false;
    if (this.ignored++ === 0)
      this.emit(
        'capped',
        `fleet ${this.fleet}: more than ${this.maxBoards} board ids on the broker; messages from ` +
          `further ids are ignored, the ${this.maxBoards} first keep working`,
      );
    return true;
  }

  handle(topic: string, payload: Uint8Array, now = Date.now()): void {
    const t = deviceTopic(this.prefix, topic);
    if (!t) return;
    if ((t.leaf === 'status' || t.leaf === 'events') && payload.length > 0 && this.ignore(t.id)) return;
    if (t.leaf === 'status') {
      if (payload.length === 0) {
        // A cleared retained status: the board was removed from the fleet.
        this.eventBytes.delete(t.id);
        if (this.map.delete(t.id)) this.emit('removed', t.id);
        return;
      }
      const s = parseStatus(payload);
      if (!s || s.id !== t.id) {
        this.dropped++;
        return;
      }
      const b = this.board(t.id, now);
      if (s.online === false && Object.keys(s).length <= 2) {
        b.online = false; // the last will: keep what the board last reported
      } else {
        for (const k of ['code', 'msg'] as const) delete b[k];
        Object.assign(b, s);
        b.online = s.online !== false;
        b.reported = now;
        b.error = describeError(s.code, s.msg);
      }
      b.seen = now;
      this.emit('board', b);
    } else if (t.leaf === 'events') {
      const e = parseEvent(payload);
      if (!e) {
        this.dropped++;
        return;
      }
      const b = this.board(t.id, now);
      const fe: FleetEvent = { ...e, at: now };
      b.events.push(fe);
      let sizes = this.eventBytes.get(t.id);
      if (!sizes) this.eventBytes.set(t.id, (sizes = []));
      sizes.push(payload.length);
      let kept = sizes.reduce((n, x) => n + x, 0);
      while (b.events.length > RECENT || (kept > RECENT_BYTES && b.events.length > 1)) {
        b.events.shift();
        kept -= sizes.shift()!;
      }
      b.seen = now;
      if (e.ev === 'error')
        b.error = describeError(String(e.code), typeof e.msg === 'string' ? e.msg : undefined);
      this.emit('event', t.id, fe);
      this.emit('board', b);
    }
  }

  summary(): FleetSummary {
    const s: FleetSummary = { boards: 0, online: 0, versions: {}, groups: {}, errors: 0, pending: 0 };
    for (const b of this.map.values()) {
      s.boards++;
      if (b.online) s.online++;
      const v = b.app ?? 'unknown';
      s.versions[v] = (s.versions[v] ?? 0) + 1;
      const g = b.group ?? '(no group)';
      s.groups[g] = (s.groups[g] ?? 0) + 1;
      if (b.result === 'error' || b.result === 'rollback') s.errors++;
      if (b.state === 'confirm_pending') s.pending++;
    }
    return s;
  }

  /** Boards keyed by a field (app version, group), each list sorted by id. */
  groupBy(key: (b: FleetBoard) => string): Map<string, FleetBoard[]> {
    const out = new Map<string, FleetBoard[]>();
    for (const b of this.map.values()) {
      const k = key(b);
      let l = out.get(k);
      if (!l) out.set(k, (l = []));
      l.push(b);
    }
    for (const l of out.values()) l.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return out;
  }

  byVersion(): Map<string, FleetBoard[]> {
    return this.groupBy((b) => b.app ?? 'unknown');
  }

  byGroup(): Map<string, FleetBoard[]> {
    return this.groupBy((b) => b.group ?? '(no group)');
  }
}

/**
 * The staged-rollout controller. Its whole state is one retained message (ota/<fleet>/controller), and
 * what boards obey is the signed retained rollout document (ota/<fleet>/rollout), so a controller can
 * stop and another start anywhere (a laptop, a CI job) and carry on.
 *
 *   new RolloutController(conn, key, { silentMs? })
 *   ctl.state                                   // the rollout under way (from the broker), or undefined
 *   ctl.start({ version, percent?, steps?, soakMs?, groups?, devices?, maxFailures? }, exists)
 *   ctl.tick(now?) -> Promise<string | undefined>  // soak / failure rules; a line when something changed
 *   ctl.pause(reason?) / ctl.resume(version?) / ctl.abort(version?) -> ids of the boards the abort sends back
 *
 * A signed controller state an attacker replays (retained, from an older rollout) must never steer a
 * signature: the controller acts only on a state at least as new as the newest rollout document any
 * board reports having taken (`rts` in its status), and abort/resume check the version the operator
 * names (docs/protocols.md, "Fleet (MQTT)").
 *   ctl.progress() -> { targeted, updated, failed, pending }
 *   parseDuration('30m') / parseMaxFailures('5%') / parseSteps('10,50,100')
 *
 * Failures: an `error` or `rollback` event from a board in the rollout, a status whose `bad` is the
 * rollout's version (the board rolled it back, maybe before it could report), or a board that started
 * the update and then went silent for `silentMs`.
 */
import { OtaError } from '../errors';
import type { KeyFile } from '../keys';
import { parseVersion } from '../version';
import type { FleetConnection } from './connection';
import type { FleetBoard, FleetEvent } from './model';
import { checkName, rolloutBucket, type RolloutDoc } from './protocol';
import { readDocument, signDocument, trustOf } from './signed';

export type MaxFailures = { percent: number } | { count: number };

export interface RolloutState {
  fleet: string;
  version: string;
  steps: number[];
  step: number;
  soakMs: number;
  groups: string[];
  devices: string[];
  maxFailures: MaxFailures;
  status: 'running' | 'paused' | 'aborted' | 'done';
  reason?: string;
  started: number;
  stepStarted: number;
  /** Boards that failed (ids), kept so a restarted controller counts them. */
  failed: string[];
  /** Failures already counted when the rollout was resumed: they no longer hold it back. */
  forgiven?: number;
  /** Boards that started the update (id -> host ms), for the silence rule. */
  starting: Record<string, number>;
  ts: number;
}

export interface RolloutRequest {
  version: string;
  percent?: number;
  steps?: number[];
  soakMs?: number;
  groups?: string[];
  devices?: string[];
  maxFailures?: MaxFailures;
}

export interface RolloutProgress {
  targeted: number;
  updated: number;
  failed: number;
  pending: number;
}

export function parseDuration(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(s.trim());
  if (!m) throw new OtaError('bad_option', `duration ${JSON.stringify(s)}: use e.g. 90s, 30m, 2h`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(m[2] ?? 's') as 'ms'];
  return Math.round(Number(m[1]) * unit);
}

export function parseMaxFailures(s: string): MaxFailures {
  const m = /^(\d+(?:\.\d+)?)(%?)$/.exec(s.trim());
  if (!m)
    throw new OtaError('bad_option', `--max-failures ${JSON.stringify(s)}: a count (3) or a percentage (5%)`);
  return m[2] ? { percent: Number(m[1]) } : { count: Number(m[1]) };
}

function checkPercent(p: number): number {
  if (!Number.isInteger(p) || p < 0 || p > 100) {
    throw new OtaError('bad_option', `percentage ${p} must be a whole number from 0 to 100`);
  }
  return p;
}

export function parseSteps(s: string): number[] {
  const steps = s.split(',').map((x) => checkPercent(Number(x.trim())));
  for (let i = 1; i < steps.length; i++) {
    if (steps[i] <= steps[i - 1])
      throw new OtaError('bad_option', `--step ${s}: each step must be larger than the last`);
  }
  return steps;
}

export class RolloutController {
  state: RolloutState | undefined;
  /** Why the controller state found in the broker was not taken (not signed with this key). */
  rejected: string | undefined;
  private readonly silentMs: number;
  private readonly mirror?: (signed: Buffer) => Promise<unknown>;

  /**
   * `mirror` also receives every signed rollout document (e.g. writeRolloutFile beside latest.json),
   * for boards that follow the rollout without a broker.
   */
  constructor(
    readonly conn: FleetConnection,
    readonly key: KeyFile,
    opts: { silentMs?: number; mirror?: (signed: Buffer) => Promise<unknown> } = {},
  ) {
    this.silentMs = opts.silentMs ?? 10 * 60_000;
    this.mirror = opts.mirror;
    const held = conn.latest.get(conn.t.controller);
    if (held) this.adopt(held);
    conn.on('message', (topic: string, payload: Buffer) => {
      if (topic === conn.t.controller) this.adopt(payload);
    });
    conn.model.on('event', (id: string, e: FleetEvent) => this.onEvent(id, e));
  }

  /**
   * Reads the controller state the broker holds (after conn.sync()). It is signed with the release key
   * like the rollout document: a state written by anyone else with broker access (say, percent 100) is
   * ignored, never signed into a rollout by this controller. `rejected` says why one was ignored.
   */
  private adopt(payload: Buffer): void {
    if (payload.length === 0) {
      this.state = undefined;
      return;
    }
    try {
      const s = readDocument(payload, [trustOf(this.key)]) as unknown as RolloutState;
      if (s.fleet === this.conn.fleet && (!this.state || s.ts >= this.state.ts)) {
        this.state = s;
        this.conn.observeTs(s.ts);
      }
      this.rejected = undefined;
    } catch (err) {
      this.rejected = `controller state in the broker ignored: ${(err as Error).message}`;
    }
  }

  /** rolloutBucket per board for the version under way: a tick over 10 000 boards hashes nothing twice. */
  private buckets = new Map<string, number>();
  private bucketsFor = '';

  private targeted(b: FleetBoard, s = this.state): boolean {
    if (!s) return false;
    if (s.devices.includes(b.id) || (b.group && s.groups.includes(b.group))) return true;
    if (this.bucketsFor !== s.version) {
      this.buckets.clear();
      this.bucketsFor = s.version;
    }
    let k = this.buckets.get(b.id);
    if (k === undefined) this.buckets.set(b.id, (k = rolloutBucket(b.id, s.version)));
    return k < s.steps[s.step];
  }

  private onEvent(id: string, e: FleetEvent): void {
    const s = this.state;
    if (!s || s.status === 'aborted' || s.status === 'done') return;
    const b = this.conn.model.get(id);
    if (!b || !this.targeted(b)) return;
    // A battery board says "available" and then leaves the broker while it downloads.
    if ((e.ev === 'start' || e.ev === 'available') && e.version === s.version) s.starting[id] = e.at;
    if ((e.ev === 'error' || e.ev === 'rollback') && !s.failed.includes(id)) s.failed.push(id);
    if (e.ev === 'done' || e.ev === 'error' || e.ev === 'rollback') delete s.starting[id];
  }

  progress(): RolloutProgress {
    const s = this.state;
    const p: RolloutProgress = { targeted: 0, updated: 0, failed: 0, pending: 0 };
    if (!s) return p;
    const failed = new Set(s.failed);
    for (const b of this.conn.model.boards) {
      if (!this.targeted(b)) continue;
      p.targeted++;
      if (failed.has(b.id)) p.failed++;
      else if (b.app === s.version) p.updated++;
      else p.pending++;
    }
    return p;
  }

  private doc(s: RolloutState): RolloutDoc {
    return {
      fleet: s.fleet,
      version: s.version,
      percent: s.status === 'aborted' ? 0 : s.steps[s.step],
      groups: s.status === 'aborted' ? [] : s.groups,
      devices: s.status === 'aborted' ? [] : s.devices,
      paused: s.status === 'paused',
      ...(s.status === 'aborted' ? { aborted: true } : {}),
      ts: this.conn.nextTs(),
    };
  }

  /** Publishes the signed rollout document and the controller state, both retained. */
  private async save(s: RolloutState, announce = true): Promise<void> {
    // The document's timestamp first, the state's above it: a controller that adopts the state (adopt())
    // signs above every document published so far, whatever its own clock says.
    const doc = announce ? this.doc(s) : undefined;
    s.ts = this.conn.nextTs();
    this.state = s;
    if (doc) {
      const signed = await signDocument(doc, this.key);
      await this.conn.publish(this.conn.t.rollout, signed, true, 1);
      await this.mirror?.(signed);
    }
    await this.conn.publish(this.conn.t.controller, await signDocument(s, this.key, Infinity), true, 1);
  }

  /**
   * Starts a rollout, or changes the one under way for the same version (raising the percentage only
   * adds boards). `exists` says whether the release is published; a rollout of nothing is refused.
   */
  async start(req: RolloutRequest, exists: (version: string) => Promise<boolean>): Promise<RolloutState> {
    parseVersion(req.version);
    if (!(await exists(req.version))) {
      throw new OtaError(
        'fleet_no_release',
        `release ${req.version} is not published: publish it before rolling it out`,
      );
    }
    const steps = req.steps ?? [checkPercent(req.percent ?? 100)];
    if (req.steps && req.percent !== undefined && req.percent !== req.steps[0]) {
      throw new OtaError(
        'bad_option',
        '--percent and --step disagree: the first step is the starting percentage',
      );
    }
    for (const g of req.groups ?? []) checkName('group', g);
    for (const d of req.devices ?? []) checkName('board id', d);
    const now = Date.now();
    // A stale state lends nothing (its groups, devices, failures) to the new rollout.
    const prev = this.stale() ? undefined : this.state;
    // Signed above every document known, so the new state is never itself stale.
    this.conn.observeTs(this.newestDoc().ts);
    const same = prev && prev.version === req.version && prev.status !== 'aborted';
    const s: RolloutState = {
      fleet: this.conn.fleet,
      version: req.version,
      steps,
      step: 0,
      soakMs: req.soakMs ?? prev?.soakMs ?? 30 * 60_000,
      groups: req.groups ?? (same ? prev.groups : []),
      devices: req.devices ?? (same ? prev.devices : []),
      maxFailures: req.maxFailures ?? (same ? prev.maxFailures : { percent: 5 }),
      status: 'running',
      started: same ? prev.started : now,
      stepStarted: now,
      failed: same ? prev.failed : [],
      starting: same ? prev.starting : {},
      ts: 0,
    };
    await this.save(s);
    return s;
  }

  private overThreshold(s: RolloutState, p: RolloutProgress): boolean {
    const failed = p.failed - (s.forgiven ?? 0);
    if (failed <= 0) return false;
    const m = s.maxFailures;
    return 'count' in m ? failed > m.count : (100 * failed) / Math.max(1, p.targeted) > m.percent;
  }

  /** Applies the rules once; returns a line saying what changed, if anything did. */
  async tick(now = Date.now()): Promise<string | undefined> {
    const s = this.state;
    if (!s || s.status !== 'running') return undefined;
    const why = this.stale(s);
    if (why) {
      if (this.rejected === why) return undefined;
      this.rejected = why;
      return `refused: ${why}`;
    }
    let changed = false;
    for (const b of this.conn.model.boards) {
      if (!this.targeted(b)) continue;
      const failed = s.failed.includes(b.id);
      if (!failed && b.bad === s.version) {
        s.failed.push(b.id);
        changed = true;
      }
      const t = s.starting[b.id];
      if (t !== undefined && !failed && b.seen <= t && now - t > this.silentMs) {
        s.failed.push(b.id); // started the update and went silent
        delete s.starting[b.id];
        changed = true;
      }
    }
    const p = this.progress();
    if (this.overThreshold(s, p)) {
      s.status = 'paused';
      s.reason = `${p.failed} of ${p.targeted} boards failed (${s.failed.join(', ')}): over --max-failures`;
      await this.save(s);
      return `paused: ${s.reason}`;
    }
    if (now - s.stepStarted >= s.soakMs) {
      if (s.step < s.steps.length - 1) {
        s.step++;
        s.stepStarted = now;
        await this.save(s);
        return `step ${s.step + 1}/${s.steps.length}: ${s.steps[s.step]}%`;
      }
      if (p.pending === 0) {
        s.status = 'done';
        await this.save(s, false);
        return `done: ${p.updated} boards on ${s.version}`;
      }
    }
    if (changed) await this.save(s, false);
    return undefined;
  }

  /**
   * Why the state must not be acted on, or undefined. Each rollout document is signed before its state
   * and below it, so a genuine state is never older than a document a board took; an older one is a
   * replay (or its own write never reached the broker) and anything signed from it could send boards
   * to an old version.
   */
  stale(s = this.state): string | undefined {
    if (!s) return undefined;
    const { ts, what } = this.newestDoc();
    if (ts <= s.ts) return undefined;
    return (
      `the controller state in the broker (rollout ${s.version}, signed ${new Date(s.ts).toISOString()}) ` +
      `is older than ${what} (${new Date(ts).toISOString()}): a replayed state, so nothing was signed. ` +
      'Start the rollout again (ota fleet rollout <version>; --percent 0 reaches no board) before acting on it'
    );
  }

  /**
   * The newest rollout document known: the signed one the broker holds, or the `rts` a board reports.
   * Statuses are not signed, so an `rts` more than a day ahead of this clock proves nothing (a forged
   * one could otherwise refuse every state for ever); one below that can at worst refuse the state until
   * the rollout is started again, which signs above it (start()).
   */
  private newestDoc(): { ts: number; what: string } {
    let ts = this.retainedTs();
    let what = 'the signed rollout document in the broker';
    const limit = Date.now() + 86_400_000;
    for (const b of this.conn.model.boards) {
      if (b.rts !== undefined && b.rts > ts && b.rts <= limit) {
        ts = b.rts;
        what = `the rollout document board ${b.id} took`;
      }
    }
    return { ts, what };
  }

  private docBytes: Buffer | undefined;
  private docTs = 0;

  /** The timestamp of the retained rollout document when this key signed it (0 otherwise). */
  private retainedTs(): number {
    const bytes = this.conn.latest.get(this.conn.t.rollout);
    if (bytes !== this.docBytes) {
      this.docBytes = bytes;
      this.docTs = 0;
      try {
        const ts = bytes?.length ? readDocument(bytes, [trustOf(this.key)]).ts : 0;
        if (typeof ts === 'number' && Number.isSafeInteger(ts)) this.docTs = ts;
      } catch {
        // not ours, or malformed: proves nothing
      }
    }
    return this.docTs;
  }

  /** The state to act on, checked fresh and, when the operator names it, for the version named. */
  private need(version?: string): RolloutState {
    const s = this.state;
    if (!s) throw new OtaError('fleet_no_rollout', 'no rollout is under way in this fleet');
    const why = this.stale(s);
    if (why) throw new OtaError('fleet_stale_state', why);
    if (version !== undefined && version !== s.version) {
      throw new OtaError(
        'fleet_wrong_version',
        `the rollout under way is ${s.version}, not ${version}: nothing was signed`,
      );
    }
    return s;
  }

  async pause(reason = 'paused by hand'): Promise<RolloutState> {
    const s = this.need();
    if (s.status !== 'running') throw new OtaError('fleet_not_running', `the rollout is ${s.status}`);
    s.status = 'paused';
    s.reason = reason;
    await this.save(s);
    return s;
  }

  async resume(version?: string): Promise<RolloutState> {
    const s = this.need(version);
    if (s.status !== 'paused') throw new OtaError('fleet_not_paused', `the rollout is ${s.status}`);
    s.status = 'running';
    s.reason = undefined;
    s.stepStarted = Date.now();
    s.forgiven = s.failed.length;
    await this.save(s);
    return s;
  }

  /**
   * Stops the rollout everywhere and sends back every board it moved, confirmed or not: the signed,
   * retained rollout document says `aborted`, and a board that installed this version through the
   * rollout returns to the release it came from (docs/protocols.md, "Fleet (MQTT)"). Boards offline
   * now get it when they next connect. Returns the boards the host sees on the version in the rollout.
   */
  async abort(version?: string): Promise<string[]> {
    const s = this.need(version);
    const moved = this.conn.model.boards
      .filter((b) => b.app === s.version && this.targeted(b))
      .map((b) => b.id);
    s.status = 'aborted';
    s.reason = 'aborted';
    await this.save(s);
    return moved;
  }
}

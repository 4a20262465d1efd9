// One power-on-to-reset lifetime of the board's interpreter: a worker thread running MicroPython, plus the
// main-thread side of its host calls. A reset or power cut ends it; the board then starts a new one.
import { Worker } from 'node:worker_threads';
import * as path from 'node:path';
import { EventEmitter } from 'node:events';
import { HostNet, type Answer } from './hostnet';
// The names this side and the worker (worker.ts) share are one table: protocol.ts.
import { DATA_BYTES, INTERRUPTED, Slot } from './protocol';
import type { ExecMode, FromWorker, HostCall, ToWorker, WorkerConfig } from './protocol';

export interface ExecResult {
  /** stopped: the interpreter went away mid-run (reset, power cut, crash); see the 'stop' event. */
  kind: 'ok' | 'exception' | 'exit' | 'stopped';
  /** Traceback text for an exception, "\r\n" line ends. */
  text: string;
}

/** Why the interpreter stopped for good. */
export type Stop = { why: 'reset'; soft: boolean } | { why: 'cut' } | { why: 'fatal'; message: string };

function spawnWorker(workerData: WorkerConfig): Worker {
  // Bundled: dist/sim-worker.js beside the bundle. From source (tests run through tsx): worker.ts, loaded
  // through tsx's require hook, since a worker does not inherit the parent's --import loaders.
  if (!__filename.endsWith('.ts')) return new Worker(path.join(__dirname, 'sim-worker.js'), { workerData });
  const source = path.join(__dirname, 'worker.ts');
  return new Worker(`require('tsx/cjs'); require(${JSON.stringify(source)});`, { eval: true, workerData });
}

export class Cpu extends EventEmitter {
  private readonly worker: Worker;
  private readonly net = new HostNet();
  private readonly control: Int32Array;
  private readonly data: Uint8Array;
  private nextId = 1;
  private readonly pending = new Map<number, (r: ExecResult) => void>();
  /** The number of the host call the worker waits on (0: none), and what a Ctrl-C aborts of it. */
  private open = 0;
  private abort: AbortController | undefined;
  private kbd: { words: Int32Array; writes: [number, number, number][]; charWord: number } | undefined;
  private stopped: Stop | undefined;
  readonly ready: Promise<void>;

  constructor(cfg: Omit<WorkerConfig, 'control' | 'data'>, control: SharedArrayBuffer) {
    super();
    const data = new SharedArrayBuffer(DATA_BYTES);
    this.control = new Int32Array(control);
    this.data = new Uint8Array(data);
    this.worker = spawnWorker({ ...cfg, control, data });
    this.ready = new Promise((resolve, reject) => {
      this.once('ready', resolve);
      this.once('stop', (s: Stop) =>
        reject(new Error(s.why === 'fatal' ? s.message : `board stopped: ${s.why}`)),
      );
    });
    this.ready.catch(() => undefined);
    this.worker.on('message', (msg: FromWorker) => this.onMessage(msg));
    this.worker.on('error', (err) => this.finish({ why: 'fatal', message: err.stack ?? err.message }));
  }

  get alive(): boolean {
    return this.stopped === undefined;
  }

  exec(code: string, mode: ExecMode): Promise<ExecResult> {
    const id = this.nextId++;
    Atomics.store(this.control, Slot.Interrupt, 0);
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.worker.postMessage({ t: 'exec', id, code, mode } satisfies ToWorker);
    });
  }

  get busy(): boolean {
    return this.pending.size > 0;
  }

  /** The byte that interrupts running code: 3 (Ctrl-C) unless the program changed it with kbd_intr. */
  get interruptChar(): number {
    return this.kbd && this.kbd.charWord >= 0 ? Atomics.load(this.kbd.words, this.kbd.charWord) : 3;
  }

  /** True when Ctrl-C reaches code that never leaves the interpreter (a bare loop), as on a board. */
  get interruptsCode(): boolean {
    return this.kbd !== undefined;
  }

  /**
   * Ctrl-C: KeyboardInterrupt at the interpreter's next check (the interpreter's own pending-exception
   * state, written in its shared memory), or right away from a host call it is blocked in.
   */
  interrupt(): void {
    if (this.kbd) for (const [i, value] of this.kbd.writes) Atomics.store(this.kbd.words, i, value);
    Atomics.store(this.control, Slot.Interrupt, 1);
    Atomics.notify(this.control, Slot.Wake);
    if (this.open) {
      this.abort?.abort();
      this.answer(this.open, { result: INTERRUPTED });
    }
  }

  async kill(): Promise<void> {
    this.finish({ why: 'fatal', message: 'killed' });
    await this.worker.terminate();
  }

  private finish(stop: Stop): void {
    if (this.stopped) return;
    this.stopped = stop;
    for (const resolve of this.pending.values()) resolve({ kind: 'stopped', text: '' });
    this.pending.clear();
    // The call in flight too: a connect that completes after this must not leave a socket open.
    this.abort?.abort();
    this.net.closeAll();
    void this.worker.terminate();
    this.emit('stop', stop);
  }

  private onMessage(msg: FromWorker): void {
    if (this.stopped) return;
    switch (msg.t) {
      case 'ready':
        if (msg.interrupt)
          this.kbd = {
            words: new Int32Array(msg.interrupt.memory),
            writes: msg.interrupt.writes,
            charWord: msg.interrupt.charWord,
          };
        this.emit('ready');
        break;
      case 'out':
        this.emit('out', Buffer.from(msg.bytes));
        break;
      case 'done': {
        const resolve = this.pending.get(msg.id);
        this.pending.delete(msg.id);
        Atomics.store(this.control, Slot.Interrupt, 0);
        resolve?.({ kind: msg.kind, text: msg.text });
        break;
      }
      case 'call':
        this.onCall(msg.seq, msg.call);
        break;
      case 'reset':
        this.finish({ why: 'reset', soft: msg.soft });
        break;
      case 'cut':
        this.finish({ why: 'cut' });
        break;
      case 'fatal':
        this.finish({ why: 'fatal', message: msg.message });
        break;
    }
  }

  private onCall(seq: number, call: HostCall): void {
    this.open = seq;
    const abort = new AbortController();
    this.abort = abort;
    const answered =
      call.op === 'stdin'
        ? new Promise<Answer>((resolve) =>
            this.emit('stdin', call.max, (bytes: Uint8Array) => resolve({ result: bytes.length, bytes })),
          )
        : this.net.handle(call, abort.signal);
    answered.then(
      (a) => this.answer(seq, a),
      () => this.answer(seq, { result: -5 }),
    );
  }

  /**
   * Hands the worker the answer to call `seq`, once: an answer that comes after Ctrl-C already answered
   * the call is dropped (the host side was told through the abort signal, so it kept nothing back).
   */
  private answer(seq: number, a: { result: number; bytes?: Uint8Array }): void {
    if (seq !== this.open || this.stopped) return;
    this.open = 0;
    this.abort = undefined;
    if (a.bytes) this.data.set(a.bytes.subarray(0, DATA_BYTES));
    Atomics.store(this.control, Slot.CallResult, a.result);
    Atomics.store(this.control, Slot.CallDone, seq);
    Atomics.notify(this.control, Slot.CallDone);
  }
}

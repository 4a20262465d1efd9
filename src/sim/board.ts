/**
 * The virtual board: a MicroPython board on the host, for tests and demos without hardware.
 *
 * API (others code against these names):
 *   interface BoardOptions { fsDir; flashKb?=2048; heapKb?=192; cutAfterMutations?; cutMode?='after';
 *                            fs?='posix' | 'littlefs' | 'fat'; sectorSize?=4096 (fat: 512 | 4096); sha1?=true;
 *                            partitions?: boolean | { dir?, sizeKb?=1024 }    // esp32.Partition, ./partitions
 *                            baud?; serialNumber?; usbReset?: { downMs?=800; rename? }; rawPaste?=true }
 *   class VirtualBoard extends EventEmitter {
 *     static start(opts: BoardOptions): Promise<VirtualBoard>  // power on: boot.py, main.py, then the REPL
 *                                                              // (resolves after 1 s if main.py keeps running)
 *     write(data: Uint8Array | string): void                   // bytes into the board's UART
 *     on('data', (chunk: Buffer) => void)                      // bytes out of the UART
 *     on('reset' | 'poweroff', () => void)
 *     on('usb-detach', () => void); on('usb-attach', (renamed: boolean) => void)   // with usbReset
 *     on('usb-port', (path: string) => void)   // exposeOnLink/exposeOnPty: the port exists again
 *     readonly serialNumber: string                            // its USB serial number
 *     readonly mutations: number; readonly poweredOff: boolean; readonly powerCut: boolean
 *     readonly resets: number; readonly overrun: number       // bytes lost beyond the raw-paste window
 *     readonly runningPartition: string | undefined            // OTA slot the bootloader started (partitions)
 *     settled(): Promise<void>                                 // boot, reboots and queued input all done
 *     stop(): Promise<void>
 *   }
 *   runBoard(opts & { code?, boot?=true, timeoutMs?=30000 })
 *     : Promise<{ output, mutations, powerCut, resets, running?, error? }>  // rejects with OtaError 'sim_timeout'
 *   exposeOnLink(board, name?) / exposeOnPty(board, linkPath?): Promise<BoardPort>  (./usb, ./pty)
 *
 * The board's root filesystem "/" is the host folder fsDir, kept in step with every write. A power cut
 * (cutAfterMutations) stops the board right after that many filesystem mutations, leaving fsDir exactly
 * as the flash was at that instant.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { OtaError } from '../core/errors';
import { Cpu, type ExecResult, type Stop } from './cpu';
import { Pacer } from './pace';
import { CONTROL_SLOTS, ResetCause, Slot } from './protocol';
import { Repl, type ReplAction } from './repl';
import { FS_MODELS, type CutMode, type FsModel } from './flash';
import {
  bootloader,
  partitionTable,
  preparePartitions,
  type PartitionTable,
  type PartitionsOption,
} from './partitions';

export interface BoardOptions {
  /** Host folder that is the board's root filesystem "/". */
  fsDir: string;
  /** Flash size; os.statvfs reports it and writes beyond it raise OSError(ENOSPC=28). Default 2048. */
  flashKb?: number;
  /** MicroPython heap size. Default 192. */
  heapKb?: number;
  /**
   * Power cut at the N-th filesystem step: a mutation (write/rename/remove/mkdir/rmdir) on 'posix', a
   * block write on 'littlefs' and 'fat' (src/sim/flash.ts).
   */
  cutAfterMutations?: number;
  /** How the step at the cut lands: whole ('after', default), not at all ('drop'), half ('tear'). */
  cutMode?: CutMode;
  /** Filesystem model of the flash (src/sim/flash.ts). Default 'posix'. */
  fs?: FsModel;
  /** FAT sector size, 512 or 4096 (default). */
  sectorSize?: number;
  /** hashlib.sha1 available (default true); false leaves only sha256, as on builds without it. */
  sha1?: boolean;
  /**
   * OTA partitions ota_0/ota_1 and the `esp32` module (absent without them, as on an RP2040): host files
   * in `dir` (default `<fsDir>.partitions`), created erased if missing; writes and set_boot() count as
   * mutations; every hard reset runs the bootloader's rollback rules.
   */
  partitions?: PartitionsOption;
  /** Pace the UART both ways at this baud rate (10 bits a byte), as a USB-UART bridge does. Default: no limit. */
  baud?: number;
  /** USB serial number the board reports (default: 16 random hex digits, like a unique_id). */
  serialNumber?: string;
  /**
   * Native USB (ESP32-S3, RP2040): on a hard reset (machine.reset(), an update's reset) the board leaves
   * the bus for `downMs` (default 800) and comes back, under a new port name when `rename`.
   */
  usbReset?: { downMs?: number; rename?: boolean };
  /** false: firmware from before raw paste (MicroPython < 1.14), where Ctrl-E `A` Ctrl-A only restarts the raw REPL. */
  rawPaste?: boolean;
}

/** How long Ctrl-C waits for running code to reach a host call before the interpreter is restarted. */
const HARD_BREAK_MS = 300;
/** With Ctrl-C delivered into the interpreter, the restart is only a safety net for code stuck in C. */
const SAFETY_BREAK_MS = 3000;
const CHUNK_END = -1;
/**
 * Bytes the UART receive ring holds while a program runs and is not reading them (ESP32's stdin_ringbuf
 * is 260 bytes); more are lost, as on the board. A program blocked in sys.stdin reading takes them as
 * they come instead.
 */
const RX_RING = 260;
/** How long start() waits for main.py to end before handing over a board that runs its application. */
const APP_WAIT_MS = 1000;
const KEYBOARD_INTERRUPT =
  'Traceback (most recent call last):\r\n  File "<stdin>", line 1, in <module>\r\nKeyboardInterrupt: \r\n';

interface Running {
  abort: (r: ExecResult) => void;
  broken: boolean;
  timer?: NodeJS.Timeout;
}

export class VirtualBoard extends EventEmitter {
  private readonly opts: Required<
    Omit<BoardOptions, 'cutAfterMutations' | 'partitions' | 'baud' | 'serialNumber' | 'usbReset' | 'rawPaste'>
  > & {
    cutAfterMutations: number;
  };
  readonly serialNumber: string;
  private readonly usbReset: BoardOptions['usbReset'];
  private usbTimer: NodeJS.Timeout | undefined;
  /** The wire's pace each way, with `baud`. */
  private readonly rxPace: Pacer | undefined;
  private readonly txPace: Pacer | undefined;
  private readonly partitions: PartitionTable | undefined;
  private runningSlot: string | undefined;
  private readonly control = new SharedArrayBuffer(CONTROL_SLOTS * 4);
  private readonly repl: Repl;
  private cpu: Cpu | undefined;
  /** UART receive queue; CHUNK_END marks where one arrival ended (raw-paste window accounting). */
  private input: number[] = [];
  private head = 0;
  private pumping = false;
  private booting: Promise<void> = Promise.resolve();
  private running: Running | undefined;
  /** Bytes in `input` (CHUNK_END marks aside). */
  private queued = 0;
  private rxOverrun = 0;
  /** Running code blocked reading sys.stdin: it wants `want` bytes and has `got`. */
  private reader: { want: number; got: number[]; give: (bytes: Uint8Array) => void } | undefined;
  private isOff = false;
  private cut = false;
  private resetCount = 0;
  private lastCause: number = ResetCause.PowerOn;

  /** headless: no REPL banner or prompts (runBoard wants only what the program printed). */
  private constructor(
    opts: BoardOptions,
    private readonly headless = false,
  ) {
    super();
    const fsDir = path.resolve(opts.fsDir);
    if (!fs.existsSync(fsDir) || !fs.statSync(fsDir).isDirectory()) {
      throw new OtaError('sim_fs_dir', `board filesystem folder ${fsDir} does not exist or is not a folder`);
    }
    const flashKb = opts.flashKb ?? 2048;
    const heapKb = opts.heapKb ?? 192;
    if (!Number.isInteger(flashKb) || flashKb < 64)
      throw new OtaError('sim_flash', 'flashKb must be an integer >= 64');
    if (!Number.isInteger(heapKb) || heapKb < 16)
      throw new OtaError('sim_heap', 'heapKb must be an integer >= 16');
    const cut = opts.cutAfterMutations ?? 0;
    if (!Number.isInteger(cut) || cut < 0) {
      throw new OtaError('sim_cut', 'cutAfterMutations must be a positive integer');
    }
    if (opts.baud !== undefined && !(Number.isInteger(opts.baud) && opts.baud >= 300))
      throw new OtaError('sim_baud', 'baud must be an integer >= 300');
    if (opts.baud) {
      this.rxPace = new Pacer(opts.baud, (b, end) => this.receive(b, end));
      this.txPace = new Pacer(opts.baud, (b) => this.emit('data', b));
    }
    this.serialNumber = opts.serialNumber ?? randomBytes(8).toString('hex').toUpperCase();
    this.usbReset = opts.usbReset;
    const model = opts.fs ?? 'posix';
    const sectorSize = opts.sectorSize ?? 4096;
    if (!FS_MODELS.includes(model)) throw new OtaError('sim_fs', `fs must be one of ${FS_MODELS.join(', ')}`);
    if (sectorSize !== 512 && sectorSize !== 4096)
      throw new OtaError('sim_fs', 'sectorSize must be 512 or 4096');
    const cutMode = opts.cutMode ?? 'after';
    if (!['after', 'drop', 'tear'].includes(cutMode))
      throw new OtaError('sim_cut', 'cutMode must be after, drop or tear');
    this.opts = {
      fsDir,
      flashKb,
      heapKb,
      sha1: opts.sha1 ?? true,
      cutAfterMutations: cut,
      cutMode,
      fs: model,
      sectorSize,
    };
    this.partitions = partitionTable(opts.partitions, fsDir);
    if (this.partitions) preparePartitions(this.partitions);
    this.repl = new Repl((s) => this.emitOut(Buffer.from(s, 'latin1')), opts.rawPaste ?? true);
  }

  /**
   * Powers the board on: boot.py, main.py, then the friendly REPL. Resolves when the REPL is reached, or
   * once main.py has run for APP_WAIT_MS without ending (an application loop): the board keeps running it,
   * and Ctrl-C written to the board interrupts it as on real hardware.
   */
  static async start(opts: BoardOptions): Promise<VirtualBoard> {
    const board = new VirtualBoard(opts);
    let timer: NodeJS.Timeout | undefined;
    const app = new Promise<void>((resolve) =>
      board.once('main', () => (timer = setTimeout(resolve, APP_WAIT_MS))),
    );
    await Promise.race([board.powerOn(true), app]);
    clearTimeout(timer);
    return board;
  }

  get mutations(): number {
    return Atomics.load(new Int32Array(this.control), Slot.Mutations);
  }

  get poweredOff(): boolean {
    return this.isOff;
  }

  /** True once a power cut (cutAfterMutations) has switched the board off. */
  get powerCut(): boolean {
    return this.cut;
  }

  get resets(): number {
    return this.resetCount;
  }

  /** The OTA partition the bootloader started at the last hard reset (with `partitions`). */
  get runningPartition(): string | undefined {
    return this.runningSlot;
  }

  /** Bytes a host sent beyond the raw-paste flow-control window (lost, as on a board). */
  get overrun(): number {
    return this.repl.overrun + this.rxOverrun;
  }

  write(data: Uint8Array | string): void {
    if (this.isOff) return;
    const bytes = typeof data === 'string' ? Buffer.from(data, 'latin1') : Buffer.from(data);
    if (this.rxPace) this.rxPace.push(bytes);
    else this.receive(bytes, true);
  }

  /** Bytes off the wire into the UART; `end`: the last of one write by the host. */
  private receive(bytes: Uint8Array, end: boolean): void {
    if (this.isOff) return;
    for (const c of bytes) {
      // The UART interrupt handler turns Ctrl-C into KeyboardInterrupt while code runs.
      if (c === this.cpu?.interruptChar && this.running && !this.repl.pasting) this.interrupt();
      else if (this.reader) {
        const r = this.reader;
        r.got.push(c);
        if (r.got.length === r.want) {
          this.reader = undefined;
          r.give(Uint8Array.from(r.got));
        }
      } else if (this.running && !this.repl.pasting && this.queued >= RX_RING) this.rxOverrun++;
      else {
        this.input.push(c);
        this.queued++;
      }
    }
    if (end) this.input.push(CHUNK_END);
    void this.pump();
  }

  async stop(): Promise<void> {
    this.isOff = true;
    this.rxPace?.stop();
    this.txPace?.stop();
    clearTimeout(this.usbTimer);
    this.input = [];
    this.head = 0;
    this.queued = 0;
    const cpu = this.cpu;
    this.cpu = undefined;
    this.running?.abort({ kind: 'stopped', text: '' });
    if (cpu) {
      cpu.removeAllListeners();
      await cpu.kill();
    }
  }

  /** Resolves when boot, reboots and queued input are all done (or the power is off). */
  async settled(): Promise<void> {
    for (;;) {
      const b = this.booting;
      await b;
      if (b === this.booting && !this.pumping) return;
      await new Promise((r) => setImmediate(r));
    }
  }

  private emitOut(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (this.txPace) this.txPace.push(chunk);
    else this.emit('data', chunk);
  }

  private async powerOn(runScripts: boolean): Promise<void> {
    this.booting = this.boot(ResetCause.PowerOn, runScripts, true);
    await this.booting;
  }

  private async newCpu(cause: number): Promise<Cpu | undefined> {
    const cpu = new Cpu(
      {
        fsDir: this.opts.fsDir,
        flashKb: this.opts.flashKb,
        heapKb: this.opts.heapKb,
        sha1: this.opts.sha1,
        cutAt: this.opts.cutAfterMutations,
        cutMode: this.opts.cutMode,
        fs: this.opts.fs,
        sectorSize: this.opts.sectorSize,
        resetCause: cause,
        partitions: this.partitions,
        running: this.runningSlot,
      },
      this.control,
    );
    this.cpu = cpu;
    cpu.on('out', (b: Buffer) => this.emitOut(b));
    cpu.on('stdin', (want: number, give: (bytes: Uint8Array) => void) => this.readStdin(want, give));
    cpu.on('stop', (s: Stop) => this.onStop(cpu, s));
    try {
      await cpu.ready;
    } catch (e) {
      if (this.isOff) return undefined;
      throw e;
    }
    return this.isOff ? undefined : cpu;
  }

  /**
   * Boot: boot.py, then main.py unless the raw REPL is active (as ports do), then the REPL prompt. A hard
   * boot (power on, machine.reset()) goes through the bootloader; a soft reboot keeps the running image.
   */
  private async boot(cause: number, runScripts = true, hard = false): Promise<void> {
    this.lastCause = cause;
    if (hard && this.partitions) this.runningSlot = bootloader(this.partitions);
    const cpu = await this.newCpu(cause);
    if (!cpu) return;
    if (runScripts) {
      for (const script of this.repl.mode === 'raw' ? ['boot.py'] : ['boot.py', 'main.py']) {
        if (script === 'main.py') this.emit('main');
        const r = await this.run(script, 'script');
        if (r.kind === 'stopped') return;
        if (r.kind === 'exception') this.emitOut(Buffer.from(r.text));
        if (r.kind === 'exit') break;
      }
    }
    if (!this.headless) this.repl.start();
  }

  private onStop(cpu: Cpu, s: Stop): void {
    if (cpu !== this.cpu || this.isOff) return;
    if (s.why === 'cut') {
      this.cut = true;
      this.isOff = true;
      this.input = [];
      this.head = 0;
      this.queued = 0;
      this.emit('poweroff');
      return;
    }
    if (s.why === 'fatal') {
      this.emitOut(Buffer.from(`\r\nvirtual board crashed: ${s.message}\r\n`));
      this.isOff = true;
      this.emit('poweroff');
      return;
    }
    this.resetCount++;
    this.emit('reset');
    if (!s.soft && this.usbReset) this.leaveBus(this.usbReset);
    if (s.soft) {
      this.emitOut(Buffer.from('MPY: soft reboot\r\n'));
      this.booting = this.boot(this.lastCause);
    } else {
      this.repl.mode = 'friendly';
      this.booting = this.boot(ResetCause.Soft, true, true);
    }
  }

  /** A native-USB reset: the port vanishes, then the board enumerates again (same serial number). */
  private leaveBus(how: NonNullable<BoardOptions['usbReset']>): void {
    clearTimeout(this.usbTimer);
    this.emit('usb-detach');
    this.usbTimer = setTimeout(() => {
      if (!this.isOff) this.emit('usb-attach', how.rename === true);
    }, how.downMs ?? 800);
  }

  private async run(code: string, mode: 'file' | 'single' | 'script'): Promise<ExecResult> {
    const cpu = this.cpu;
    if (!cpu) return { kind: 'stopped', text: '' };
    const r = await new Promise<ExecResult>((resolve) => {
      const running: Running = { abort: resolve, broken: false };
      this.running = running;
      // Once Ctrl-C has replaced a stuck interpreter, the old one's end is not this run's result.
      void cpu.exec(code, mode).then((res) => running.broken || resolve(res));
    });
    clearTimeout(this.running?.timer);
    this.running = undefined;
    this.reader = undefined;
    return r;
  }

  /** Running code reads `want` bytes of sys.stdin: it blocks until they have all come, as on a board. */
  private readStdin(want: number, give: (bytes: Uint8Array) => void): void {
    // Ctrl-C came and the program has not taken its KeyboardInterrupt yet (a slow host): this read
    // gets the interrupt, not the bytes behind it (the host's Ctrl-B is the REPL's), as on a board
    // where the interrupt is raised at once.
    if (this.running?.timer) {
      this.cpu?.interrupt();
      return;
    }
    const got: number[] = [];
    while (got.length < want && this.head < this.input.length) {
      const c = this.input[this.head++];
      if (c !== CHUNK_END) {
        got.push(c);
        this.queued--;
      }
    }
    if (got.length === want) give(Uint8Array.from(got));
    else this.reader = { want, got, give };
  }

  /** Ctrl-C during a run. Code that never calls the host (a bare loop) cannot see the flag: restart it. */
  private interrupt(): void {
    const running = this.running;
    if (!running || running.timer) return;
    this.reader = undefined;
    this.cpu?.interrupt();
    // Without shared memory only host calls see Ctrl-C; a bare loop gets a restarted interpreter.
    const wait = this.cpu?.interruptsCode ? SAFETY_BREAK_MS : HARD_BREAK_MS;
    running.timer = setTimeout(() => {
      if (this.running !== running || this.isOff) return;
      running.broken = true;
      const old = this.cpu;
      old?.removeAllListeners();
      void old?.kill();
      this.booting = this.newCpu(this.lastCause).then(() => {
        running.abort({ kind: 'exception', text: KEYBOARD_INTERRUPT });
      });
    }, wait);
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      await this.booting;
      while (this.head < this.input.length && !this.isOff) {
        const c = this.input[this.head++];
        if (c !== CHUNK_END) this.queued--;
        if (this.head > 4096) {
          this.input = this.input.slice(this.head);
          this.head = 0;
        }
        if (c === CHUNK_END) {
          this.repl.endChunk();
          continue;
        }
        const action = this.repl.feed(c);
        if (action) await this.perform(action);
        await this.booting;
      }
    } finally {
      this.pumping = false;
    }
    if (this.head < this.input.length && !this.isOff) void this.pump();
  }

  private async perform(action: ReplAction): Promise<void> {
    if (action.do === 'softReboot') {
      this.emitOut(Buffer.from('MPY: soft reboot\r\n'));
      await this.restart();
      return;
    }
    const r = await this.run(action.code, action.mode);
    if (r.kind === 'stopped') return;
    const next = this.repl.finished(action, r);
    if (next) await this.perform(next);
  }

  private async restart(): Promise<void> {
    const old = this.cpu;
    old?.removeAllListeners();
    await old?.kill();
    this.resetCount++;
    this.emit('reset');
    this.booting = this.boot(this.lastCause);
    await this.booting;
  }

  /** Runs code as the raw REPL would, outside the console (runBoard). */
  async execRaw(code: string): Promise<ExecResult> {
    await this.booting;
    return this.run(code, 'file');
  }

  static create(opts: BoardOptions, headless: boolean): VirtualBoard {
    return new VirtualBoard(opts, headless);
  }

  /** Powers a created board on, optionally without running boot.py and main.py. */
  async powerUp(runScripts: boolean): Promise<void> {
    await this.powerOn(runScripts);
  }
}

export interface RunResult {
  output: string;
  mutations: number;
  powerCut: boolean;
  resets: number;
  /** The OTA partition running when the board stopped (with `partitions`). */
  running?: string;
  /** Traceback text if `code` raised. */
  error?: string;
}

/**
 * Powers a board on (running boot.py and main.py unless boot is false), runs `code` as the raw REPL
 * would, and resolves once the board is idle after its last reboot, or at a power cut.
 */
export async function runBoard(
  opts: BoardOptions & { code?: string; boot?: boolean; timeoutMs?: number },
): Promise<RunResult> {
  const board = VirtualBoard.create(opts, true);
  const chunks: Buffer[] = [];
  board.on('data', (c: Buffer) => chunks.push(c));
  let error: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new OtaError('sim_timeout', `virtual board still busy after ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  const work = (async () => {
    await board.powerUp(opts.boot ?? true);
    if (opts.code !== undefined && !board.poweredOff) {
      const r = await board.execRaw(opts.code);
      if (r.kind === 'exception') error = r.text;
    }
    await board.settled();
  })();
  try {
    await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
    await board.stop();
  }
  const result: RunResult = {
    output: Buffer.concat(chunks).toString('utf8'),
    mutations: board.mutations,
    powerCut: board.powerCut,
    resets: board.resets,
  };
  if (board.runningPartition !== undefined) result.running = board.runningPartition;
  if (error !== undefined) result.error = error;
  return result;
}

export { exposeOnPty } from './pty';
export { exposeOnLink } from './usb';

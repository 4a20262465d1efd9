/**
 * One open connection to a MicroPython board over serial: the API the CLI and the
 * extension use.
 *
 *   const b = await openBoard('/dev/ttyACM0');          // or the virtual board's pty
 *   await b.exec('print(1)', { onOutput });             // -> Buffer (stdout); throws BoardException
 *   await b.info();                                      // BoardInfo (board-info.ts)
 *   await b.ls('/', { hashes: true }); await b.read('/main.py');
 *   await b.write('/main.py', bytes, { onProgress }); await b.writeFiles([...]);
 *   await b.mkdirp('/lib/x'); await b.rm('/old');
 *   await b.interrupt(); await b.softReset();
 *   await b.reconnect({ timeoutMs });                    // after a native-USB reset: finds it by USB serial number
 *   await b.close();                                     // leaves the raw REPL first
 *
 * Operations are queued, one at a time. The board is put in the raw REPL on first use
 * and returned to the friendly REPL by close(), whatever happened in between.
 */
import { OtaError } from '../errors';
import * as fs from './board-fs';
import { serialNumberOf, waitForBoard } from './discover';
import { BOOT, cacheHelpers, HELPERS_MISSING, STREAM_ACK } from './board-helpers';
import { info, type BoardInfo } from './board-info';
import { BoardException, RawRepl, type ExecOptions, type StreamPlan } from './raw-repl';
import { openTransport, type Transport } from './transport';

export interface OpenOptions {
  baudRate?: number;
  /** Per-step protocol timeout (default 5 s). */
  timeoutMs?: number;
}

/** Source bytes per command: large enough to amortise the compile, small enough for ~100 KB of heap. */
const COMMAND_BUDGET = 4096;

export class BoardConnection implements fs.HelperSession {
  private t: Transport;
  private r: RawRepl;
  /** The board's USB serial number, looked up while its port exists (a reset may take the port away). */
  private usbSerial: Promise<string | undefined>;
  private queue: Promise<unknown> = Promise.resolve();
  private helpersFor: RawRepl['generation'] | undefined;
  canInflate = false;
  canStream = false;
  preferHex = false;

  constructor(
    transport: Transport,
    private readonly timeoutMs = 5000,
    private readonly baudRate?: number,
  ) {
    this.t = transport;
    this.r = new RawRepl(transport, timeoutMs);
    this.usbSerial = serialNumberOf(transport.path).catch(() => undefined);
  }

  get transport(): Transport {
    return this.t;
  }

  get repl(): RawRepl {
    return this.r;
  }

  get path(): string {
    return this.transport.path;
  }

  /** The USB serial number port listing gave for this board's port, if any. */
  serialNumber(): Promise<string | undefined> {
    return this.usbSerial;
  }

  /**
   * After the port went away (a native-USB board resetting: machine.reset(), an update): waits for
   * the board to come back, by USB serial number under whatever name it gets (else on the same
   * path), and carries on over the new port. 'board_gone' after timeoutMs. Not queued: call it
   * from inside the operation that saw the port close.
   */
  async reconnect(opts: { timeoutMs?: number } = {}): Promise<string> {
    const timeoutMs = opts.timeoutMs ?? 20_000;
    const until = Date.now() + timeoutMs;
    const serialNumber = await this.usbSerial;
    for (;;) {
      const path = await waitForBoard({
        serialNumber,
        path: this.t.path,
        timeoutMs: Math.max(0, until - Date.now()),
      });
      try {
        const t = await openTransport(path, this.baudRate);
        await this.t.close().catch(() => undefined);
        this.t = t;
        this.r = new RawRepl(t, this.timeoutMs);
        this.helpersFor = undefined;
        return path;
      } catch (err) {
        // A device node that appeared a moment before its permissions (udev) or its driver: try again.
        if (!(err instanceof OtaError && err.code === 'port_open_failed') || Date.now() >= until) throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  get commandBudget(): number {
    const w = this.repl.window;
    // Whole windows, so no command ends waiting on a part-used window.
    return w > 0 && w <= COMMAND_BUDGET ? Math.floor(COMMAND_BUDGET / w) * w : COMMAND_BUDGET;
  }

  /** Runs `fn` after every operation queued before it. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Loads the board helpers once per session; for use inside a queued operation (exclusive()). */
  async prepare(): Promise<void> {
    if (!this.prepared) await this.boot();
  }

  /**
   * Runs the helpers cached on the board (board-helpers.ts), then `code` in the same command, so a
   * session's first operation costs no extra round trip; on a miss, sends and caches them first.
   * Returns `code`'s output.
   */
  private async boot(code?: string, opts?: ExecOptions): Promise<Buffer> {
    let out: Buffer;
    try {
      // Entering the raw REPL, the loader's first bytes go out with Ctrl-A: it only reads and checks.
      out = await this.repl.exec(code === undefined ? BOOT : `${BOOT}\n${code}`, { ...opts, ahead: true });
    } catch (err) {
      if (!(err instanceof BoardException && err.traceback.includes(HELPERS_MISSING))) throw err;
      try {
        out = await this.repl.exec(cacheHelpers(true));
      } catch (e) {
        // A board without the deflate module: the plain text instead.
        if (!(e instanceof BoardException && /ImportError|deflate/.test(e.traceback))) throw e;
        out = await this.repl.exec(cacheHelpers(false));
      }
      this.flags(out);
      return code === undefined ? Buffer.alloc(0) : this.repl.exec(code, opts);
    }
    return this.flags(out);
  }

  /** Reads the helpers' flags line off the front of `out`; returns the rest. */
  private flags(out: Buffer): Buffer {
    const nl = out.indexOf('\n');
    const [inflate, stream, hex] = out
      .subarray(0, nl < 0 ? out.length : nl)
      .toString()
      .trim()
      .split(' ');
    if (hex === undefined) {
      throw new OtaError(
        'protocol',
        `unexpected answer loading the board helpers: ${JSON.stringify(out.toString())}`,
      );
    }
    this.canInflate = inflate === '1';
    this.canStream = stream === '1' && this.repl.rawPaste === true;
    this.preferHex = hex === '1';
    this.helpersFor = this.repl.generation;
    return nl < 0 ? Buffer.alloc(0) : out.subarray(nl + 1);
  }

  private get prepared(): boolean {
    return this.repl.inRaw && this.helpersFor === this.repl.generation;
  }

  // HelperSession, used by board-fs and board-info from inside a queued operation.
  async run(code: string, opts?: ExecOptions): Promise<Buffer> {
    if (!this.prepared) return this.boot(code, opts);
    return this.repl.exec(code, opts);
  }

  async runMany(codes: string[], opts?: ExecOptions): Promise<Buffer[]> {
    if (codes.length === 0) return [];
    if (this.prepared) return this.repl.execMany(codes, opts);
    const first = await this.boot(codes[0], { ...opts, onCommandDone: undefined });
    opts?.onCommandDone?.(0);
    const rest = await this.repl.execMany(codes.slice(1), {
      ...opts,
      onCommandDone: opts?.onCommandDone && ((i) => opts.onCommandDone?.(i + 1)),
    });
    return [first, ...rest];
  }

  async stream(
    code: string,
    blocks: Buffer[] | ((head: string[]) => StreamPlan),
    opts: ExecOptions & { head?: number } = {},
  ): Promise<Buffer> {
    const o = { ...opts, ack: STREAM_ACK };
    if (this.prepared) return this.repl.execStream(code, blocks, o);
    try {
      // The loader runs as its own command, `code` sent behind it while the board loads the
      // helpers. Should the loader fail, `code` must not run older helpers still in the REPL's
      // globals: the loader first unbinds the helper `code` calls.
      const call = /^(_ota_\w+)\(/.exec(code)?.[1];
      if (!call) throw new Error(`stream(): ${code.slice(0, 40)} does not call a board helper`);
      return await this.repl.execStream(code, blocks, {
        ...o,
        ahead: true,
        before: { code: `${call}=0\n${BOOT}`, done: (out) => this.flags(out) },
      });
    } catch (err) {
      if (!(err instanceof BoardException && err.traceback.includes(HELPERS_MISSING))) throw err;
      await this.boot();
      return this.repl.execStream(code, blocks, o);
    }
  }

  /** Runs user code in the raw REPL, streaming its stdout. */
  exec(code: string, opts?: ExecOptions): Promise<Buffer> {
    return this.serial(() => this.repl.exec(code, opts));
  }

  info(): Promise<BoardInfo> {
    return this.serial(() => info((code) => this.repl.exec(code)));
  }

  ls(dir = '/', opts: { hashes?: boolean } = {}): Promise<fs.BoardEntry[]> {
    return this.serial(() => fs.ls(this, dir, opts));
  }

  stat(paths: string[]): ReturnType<typeof fs.stat> {
    return this.serial(() => fs.stat(this, paths));
  }

  read(path: string): Promise<Buffer> {
    return this.serial(() => fs.readFile(this, path));
  }

  write(path: string, data: Uint8Array, opts?: fs.WriteOptions): Promise<void> {
    return this.writeFiles([{ path, data }], opts);
  }

  writeFiles(files: { path: string; data: Uint8Array }[], opts?: fs.WriteOptions): Promise<void> {
    return this.serial(() => fs.writeFiles(this, files, opts));
  }

  mkdirp(path: string): Promise<void> {
    return this.serial(() => fs.mkdirp(this, path));
  }

  rm(path: string): Promise<void> {
    return this.serial(() => fs.rm(this, path));
  }

  /** Ctrl-C now, even while another operation is under way. */
  interrupt(): Promise<void> {
    return this.repl.interrupt();
  }

  softReset(): Promise<void> {
    return this.serial(() => this.repl.softReset());
  }

  /** Queues `fn` with exclusive use of the connection (for multi-step core operations). */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.serial(fn);
  }

  async close(): Promise<void> {
    await this.serial(async () => {
      try {
        await this.repl.leave({ closing: true });
      } finally {
        await this.transport.close();
      }
    });
  }
}

export async function openBoard(path: string, opts: OpenOptions = {}): Promise<BoardConnection> {
  if (!path) throw new OtaError('no_port', 'no serial port given (use --port <path>)');
  const t = await openTransport(path, opts.baudRate);
  return new BoardConnection(t, opts.timeoutMs, opts.baudRate);
}

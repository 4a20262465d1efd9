/**
 * Byte transport to a board: a byte port (a serial port, or the in-process link to a virtual
 * board: link.ts) with a receive buffer and the two reads the console protocol needs.
 *
 *   const t = await openTransport('/dev/ttyUSB0');     // or 'link:…', a virtual board in this process
 *   await t.write(bytes);
 *   const upTo = await t.readUntil(Buffer.from('>'), 2000);   // includes the marker
 *   const two = await t.readExactly(2, 2000);
 *   t.tap = (chunk) => ...;   // sees every received chunk (console streaming)
 *   await t.close();
 *
 * A read that times out throws OtaError 'timeout' and keeps the bytes received
 * so far; a port that closes or fails (cable pulled) fails every pending and
 * later read with OtaError 'port_closed'.
 */
import { read as fsRead } from 'node:fs';
import { promisify } from 'node:util';
import type { LinuxPortBinding } from '@serialport/bindings-cpp';
import { unixRead } from '@serialport/bindings-cpp/dist/unix-read';
import { SerialPort } from 'serialport';
import { OtaError } from '../errors';
import { isLinkName, openLink } from './link';

/**
 * A duplex byte port: all the raw-REPL client needs below it. serialport gives one (serialBytePort),
 * the in-process link another (link.ts); the same bytes and the same client code run over either.
 */
export interface BytePort {
  /** Resolves once the bytes have left (a serial port has drained them). */
  write(data: Buffer): Promise<void>;
  /** Every received chunk, in order. */
  onData(fn: (chunk: Buffer) => void): void;
  /** Called once when the port closes or fails (err: why, when it failed). */
  onClose(fn: (err?: Error) => void): void;
  close(): Promise<void>;
  readonly isOpen: boolean;
}

/** serialport's SerialPort as a BytePort. */
export function serialBytePort(port: SerialPort): BytePort {
  return {
    write: (data) =>
      new Promise<void>((resolve, reject) => {
        port.write(data, (err) => (err ? reject(err) : undefined));
        port.drain((err) => (err ? reject(err) : resolve()));
      }),
    onData: (fn) => void port.on('data', fn),
    onClose: (fn) => {
      let done = false;
      const once = (err?: Error | null) => {
        if (done) return;
        done = true;
        fn(err ?? undefined);
      };
      port.on('close', once);
      port.on('error', once);
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (!port.isOpen) resolve();
        else port.close(() => resolve());
      }),
    get isOpen() {
      return port.isOpen;
    },
  };
}

interface Waiter {
  check(): void;
  fail(err: Error): void;
}

export class Transport {
  private buf: Buffer = Buffer.alloc(0);
  private waiter: Waiter | undefined;
  private closedError: OtaError | undefined;
  /** A cancel() that came between reads: the next read fails with it. */
  private cancelled: Error | undefined;
  private closeListeners: (() => void)[] = [];
  /** Called with every received chunk, before reads consume it. */
  tap: ((chunk: Buffer) => void) | undefined;
  /** When set, received bytes go to `tap` only (watching the console), not to reads. */
  tapOnly = false;
  /** Bytes written to the board so far (what a transfer really cost on the wire). */
  bytesSent = 0;
  /** Bytes received from the board so far. */
  bytesReceived = 0;

  constructor(
    private readonly port: BytePort,
    readonly path: string,
  ) {
    port.onData((chunk: Buffer) => {
      this.bytesReceived += chunk.length;
      this.tap?.(chunk);
      if (this.tapOnly) return;
      this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
      this.waiter?.check();
    });
    port.onClose((err?: Error) => {
      if (this.closedError) return;
      this.closedError = new OtaError(
        'port_closed',
        `serial port ${path} closed${err ? `: ${err.message}` : ''} (board unplugged or reset?)`,
        { cause: err ?? undefined },
      );
      this.waiter?.fail(this.closedError);
      for (const fn of this.closeListeners) fn();
    });
  }

  /** Called once when the port closes or fails. */
  onClose(fn: () => void): void {
    if (this.closedError) fn();
    else this.closeListeners.push(fn);
  }

  get isOpen(): boolean {
    return !this.closedError && this.port.isOpen;
  }

  /** Bytes received and not yet read. */
  get pending(): number {
    return this.buf.length;
  }

  /** Drops everything received so far (stale output before a new command). */
  discard(): Buffer {
    const old = this.buf;
    this.buf = Buffer.alloc(0);
    return old;
  }

  async write(data: Buffer | string): Promise<void> {
    if (this.closedError) throw this.closedError;
    const bytes = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
    this.bytesSent += bytes.length;
    try {
      await this.port.write(bytes);
    } catch (err) {
      throw (
        this.closedError ??
        new OtaError('port_closed', `cannot write to ${this.path}: ${(err as Error).message}`)
      );
    }
  }

  /** Reads up to and including `marker`. */
  readUntil(marker: Buffer | string, timeoutMs: number, what?: string): Promise<Buffer> {
    const m = typeof marker === 'string' ? Buffer.from(marker, 'latin1') : marker;
    return this.wait(timeoutMs, what ?? `${JSON.stringify(m.toString('latin1'))}`, () => {
      const i = this.buf.indexOf(m);
      if (i < 0) return undefined;
      return this.take(i + m.length);
    });
  }

  readExactly(n: number, timeoutMs: number, what?: string): Promise<Buffer> {
    return this.wait(timeoutMs, what ?? `${n} bytes`, () =>
      this.buf.length >= n ? this.take(n) : undefined,
    );
  }

  /** Waits for at least one byte and returns everything buffered. */
  readSome(timeoutMs: number, what = 'output'): Promise<Buffer> {
    return this.wait(timeoutMs, what, () => (this.buf.length > 0 ? this.take(this.buf.length) : undefined));
  }

  /** Puts bytes back in front of the buffer (a read that took more than it needed). */
  unread(bytes: Buffer): void {
    if (bytes.length) this.buf = Buffer.concat([bytes, this.buf]);
  }

  /** Fails the read under way (if any) with `err`: how a caller abandons a wait. */
  cancel(err: Error): void {
    if (this.waiter) this.waiter.fail(err);
    else this.cancelled = err;
  }

  /** Resolves with whatever is buffered once the line has been quiet for `quietMs` (or `maxMs` passed). */
  async readQuiet(quietMs: number, maxMs: number): Promise<Buffer> {
    const start = Date.now();
    let last = -1;
    while (Date.now() - start < maxMs) {
      if (this.closedError) throw this.closedError;
      await new Promise((r) => setTimeout(r, quietMs));
      if (this.buf.length === last) break;
      last = this.buf.length;
    }
    return this.discard();
  }

  private take(n: number): Buffer {
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  private wait(timeoutMs: number, what: string, attempt: () => Buffer | undefined): Promise<Buffer> {
    if (this.waiter) return Promise.reject(new Error('Transport: concurrent reads'));
    const cancelled = this.cancelled;
    this.cancelled = undefined;
    if (cancelled) return Promise.reject(cancelled);
    const now = attempt();
    if (now) return Promise.resolve(now);
    if (this.closedError) return Promise.reject(this.closedError);
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.waiter = undefined;
      };
      const timer = setTimeout(() => {
        done();
        const got = this.buf.subarray(-80).toString('latin1');
        reject(
          new OtaError(
            'timeout',
            `no answer from the board on ${this.path} within ${timeoutMs} ms (waiting for ${what}; last bytes ${JSON.stringify(got)})`,
          ),
        );
      }, timeoutMs);
      this.waiter = {
        check: () => {
          const r = attempt();
          if (r) {
            done();
            resolve(r);
          }
        },
        fail: (err) => {
          done();
          reject(err);
        },
      };
    });
  }

  async close(): Promise<void> {
    if (!this.port.isOpen) return;
    await this.port.close();
  }
}

const readAsync = promisify(fsRead);

/**
 * A read of 0 bytes from a serial port (opened non-blocking, VMIN 1) is its hang-up: the USB
 * device or the pseudo-terminal's other side is gone. serialport reads again at once, for ever (a
 * core busy, the port never closed) when the hang-up comes while it is not waiting in poll; here it
 * is the disconnect it is (ENXIO: serialport then closes the port, as when a USB device is pulled).
 */
async function readOrHangUp(...args: Parameters<typeof readAsync>): ReturnType<typeof readAsync> {
  const r = await readAsync(...args);
  if (r.bytesRead === 0) throw Object.assign(new Error('the serial port hung up'), { code: 'ENXIO' });
  return r;
}

/** The platform's serialport binding, whose ports report a hang-up as closing (Linux, macOS). */
const binding: typeof SerialPort.binding =
  process.platform === 'win32'
    ? SerialPort.binding
    : ({
        ...SerialPort.binding,
        async open(opts: Parameters<typeof SerialPort.binding.open>[0]) {
          const port = (await SerialPort.binding.open(opts)) as LinuxPortBinding;
          const read = port.read.bind(port);
          port.read = (buffer, offset, length) =>
            port.isOpen
              ? unixRead({ binding: port, buffer, offset, length, fsReadAsync: readOrHangUp })
              : read(buffer, offset, length);
          return port;
        },
      } as typeof SerialPort.binding);

/**
 * Why a port did not open, in words: serialport's binding says "Error: No such file or directory,
 * cannot open /dev/ttyACM0" (the path is already in our message).
 */
function openFailure(err: Error): string {
  const said = err.message.replace(/^Error: /, '').replace(/, cannot open .*$/, '');
  if (/No such file or directory/i.test(said)) return 'no such port (is the board plugged in?)';
  if (/Inappropriate ioctl|Is a directory/i.test(said)) return 'not a serial port';
  // serialport's lock (flock): a serial monitor, an `ota watch`, the editor's extension has it open.
  if (/Cannot lock port/i.test(said))
    return 'another program has it open (a serial monitor, ota watch, an editor)';
  if (/Permission denied/i.test(said))
    return 'permission denied (on Linux, join the dialout group: sudo usermod -aG dialout $USER, then log in again)';
  return said;
}

/**
 * Opens a board's port by name: a virtual board's in-process link ('link:…', link.ts), else a serial
 * port by path (a USB device or a pseudo-terminal).
 */
export async function openTransport(path: string, baudRate = 115200): Promise<Transport> {
  if (isLinkName(path)) return new Transport(openLink(path), path);
  const port = new SerialPort({ path, baudRate, autoOpen: false, binding });
  await new Promise<void>((resolve, reject) =>
    port.open((err) =>
      err
        ? reject(
            new OtaError('port_open_failed', `cannot open serial port ${path}: ${openFailure(err)}`, {
              cause: err,
            }),
          )
        : resolve(),
    ),
  );
  return new Transport(serialBytePort(port), path);
}

/**
 * The board's console as text and OTA events (core/events.ts).
 *
 *   const stop = watchConsole(board, { event(e) {…}, text(line) {…}, raw(chunk) {…},
 *                                      status(msg) {…}, closed(err) {…} });  // until stop()
 *   const r = await runUpdate(board, { event, text });   // `import ota; ota.update()` while streaming
 *     -> { events, reset }   reset: the board restarted to apply the update
 *
 * Both cope with the board resetting under them. A USB bridge (CP210x, CH340) keeps the port
 * open across the reset, so after the reset banner runUpdate keeps streaming what the board
 * prints while it boots (ota.boot() events, main.py) until the console goes quiet or shows the
 * friendly prompt. A native-USB board (ESP32-S3, RP2040) leaves the bus as it resets and comes
 * back, maybe under another port name: after a 'done' event the closed port counts as the
 * reset, and both wait for the board by its USB serial number (BoardConnection.reconnect) and
 * carry on over the new port, or fail with 'board_gone' and a clear message.
 */
import { StringDecoder } from 'node:string_decoder';
import { OtaError } from '../errors';
import { EventStream, type OtaEvent } from '../events';
import type { BoardConnection } from './board';

export interface ConsoleSink {
  event?(e: OtaEvent): void;
  text?(line: string): void;
  /** Every byte as received (for a terminal view). */
  raw?(chunk: Buffer): void;
}

export interface WatchSink extends ConsoleSink {
  /** The board left the bus / came back (default: as a text line). */
  status?(message: string): void;
  /** The console ended by itself: the port closed and the board did not come back (err says why). */
  closed?(err: Error): void;
}

export interface WatchOptions {
  /** How long to wait for a board that left the bus (a native-USB reset); 0: end when the port closes. Default 10 s. */
  reconnectMs?: number;
}

export function watchConsole(board: BoardConnection, sink: WatchSink, opts: WatchOptions = {}): () => void {
  const decoder = new StringDecoder('utf8');
  const lines = new EventStream(sink);
  const status = (m: string) => (sink.status ? sink.status(m) : sink.text?.(`[ota] ${m}`));
  const reconnectMs = opts.reconnectMs ?? 10_000;
  let stopped = false;
  const follow = (): void => {
    const t = board.transport;
    t.tapOnly = true;
    t.tap = (chunk) => {
      sink.raw?.(chunk);
      lines.push(decoder.write(chunk));
    };
    t.onClose(() => {
      if (stopped || t !== board.transport) return;
      if (reconnectMs <= 0) {
        sink.closed?.(new OtaError('port_closed', `serial port ${t.path} closed`));
        return;
      }
      status(
        `board left ${t.path} (reset or unplugged); waiting up to ${Math.round(reconnectMs / 1000)} s for it`,
      );
      board.reconnect({ timeoutMs: reconnectMs }).then(
        (path) => {
          if (stopped) return;
          status(`board back on ${path}`);
          follow();
        },
        (err: Error) => {
          if (!stopped) sink.closed?.(err);
        },
      );
    });
  };
  follow();
  return () => {
    stopped = true;
    const t = board.transport;
    t.tap = undefined;
    t.tapOnly = false;
  };
}

/** What a board prints when it restarts: MicroPython's soft reboot line or its banner, ESP32 ROM boot text. */
const RESET_SIGNS = /soft reboot\r?\n|MicroPython v\d+\.\d+[^\r\n]* on |\brst:0x[0-9a-f]+ /;

export interface UpdateRun {
  events: OtaEvent[];
  reset: boolean;
}

export interface RunUpdateOptions extends ConsoleSink {
  /** Longest silence while the update runs (default 120 s: downloads can stall). */
  idleTimeoutMs?: number;
  /** After a reset, how long the console must be quiet before we stop listening (default 1.5 s). */
  settleMs?: number;
  /** Python to run (default `import ota\nota.update()`). */
  code?: string;
  /** How long to wait for a native-USB board to come back after its reset (default 20 s). */
  reconnectMs?: number;
  /** Told when the board left the bus and when it is back. */
  status?(message: string): void;
}

export function runUpdate(board: BoardConnection, opts: RunUpdateOptions = {}): Promise<UpdateRun> {
  const events: OtaEvent[] = [];
  const decoder = new StringDecoder('utf8');
  const lines = new EventStream({
    event: (e) => {
      events.push(e);
      opts.event?.(e);
    },
    text: (l) => opts.text?.(l),
  });
  let seen = '';
  let reset = false;
  const feed = (chunk: Buffer) => {
    opts.raw?.(chunk);
    const s = decoder.write(chunk);
    lines.push(s);
    seen = (seen + s).slice(-200);
    if (!reset && RESET_SIGNS.test(seen)) {
      reset = true;
      board.transport.cancel(new OtaError('cancelled', 'the board reset during the update'));
    }
  };
  return board.exclusive(async () => {
    try {
      await board.repl.exec(opts.code ?? 'import ota\nota.update()', {
        onOutput: feed,
        idleTimeoutMs: opts.idleTimeoutMs ?? 120_000,
      });
    } catch (err) {
      // A board on native USB (ESP32-S2/S3, RP2040) drops off the bus when it resets: after
      // the update finished, or a requested rollback to the older firmware image (which restarts
      // into it), a closed port is that reset. Find it again and follow its boot.
      if (
        err instanceof OtaError &&
        err.code === 'port_closed' &&
        events.some((e) => e.ev === 'done' || e.ev === 'rollback')
      ) {
        reset = true;
        const wait = opts.reconnectMs ?? 20_000;
        opts.status?.(`board left ${board.path} to reset; waiting up to ${Math.round(wait / 1000)} s for it`);
        const path = await board.reconnect({ timeoutMs: wait });
        opts.status?.(`board back on ${path}`);
        await followBoot(board, feed, opts.settleMs ?? 1500);
        lines.push(decoder.end() + '\n');
        return { events, reset: true };
      }
      if (!(reset && err instanceof OtaError && err.code === 'cancelled')) throw err;
      await followBoot(board, feed, opts.settleMs ?? 1500);
    }
    lines.push(decoder.end() + '\n');
    return { events, reset };
  });
}

/** Streams the console while the board boots, until it is quiet or at the friendly prompt. */
async function followBoot(
  board: BoardConnection,
  feed: (c: Buffer) => void,
  settleMs: number,
): Promise<void> {
  const t = board.transport;
  const deadline = Date.now() + 60_000;
  let tail = '';
  while (Date.now() < deadline) {
    let chunk: Buffer;
    try {
      chunk = await t.readSome(settleMs);
    } catch (err) {
      if (err instanceof OtaError && err.code === 'timeout') return;
      throw err;
    }
    feed(chunk);
    tail = (tail + chunk.toString('latin1')).slice(-8);
    if (tail.endsWith('>>> ')) return;
  }
}

/**
 * The board's console as text and OTA events (core/events.ts).
 *
 *   const stop = watchConsole(board, { event(e) {…}, text(line) {…}, raw(chunk) {…} });  // until stop()
 *   const r = await runUpdate(board, { event, text });   // `import ota; ota.update()` while streaming
 *     -> { events, reset }   reset: the board restarted to apply the update
 *
 * runUpdate copes with the board resetting under it: a USB bridge (CP210x, CH340) and the
 * virtual board keep the port open across the reset, so after the reset banner it keeps
 * streaming what the board prints while it boots (ota.boot() events, main.py) until the
 * console goes quiet or shows the friendly prompt. A native-USB board closes the port as it
 * resets: after a 'done' event that also counts as the reset (reopen the port to go on).
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

export function watchConsole(board: BoardConnection, sink: ConsoleSink): () => void {
  const t = board.transport;
  const decoder = new StringDecoder('utf8');
  const lines = new EventStream(sink);
  t.tapOnly = true;
  t.tap = (chunk) => {
    sink.raw?.(chunk);
    lines.push(decoder.write(chunk));
  };
  return () => {
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
      // the update finished, a closed port is that reset; the caller reopens the port.
      if (err instanceof OtaError && err.code === 'port_closed' && events.some((e) => e.ev === 'done')) {
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

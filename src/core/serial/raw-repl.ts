/**
 * MicroPython's raw REPL, host side (docs/reference/repl.rst, shared/runtime/pyexec.c).
 *
 *   const repl = new RawRepl(transport);
 *   await repl.enter();                       // from any state: running program, friendly REPL, half a line
 *   const out = await repl.exec('print(1)', { onOutput, idleTimeoutMs });   // -> Buffer of stdout
 *   await repl.execMany(['w("…")', 'w("…")']);  // pipelined: the next command waits in the board's buffer
 *   await repl.execStream('_ota_receive(…)', blocks, { ack: 0x06 });  // the command asks for each block by printing ack
 *   await repl.softReset();
 *   await repl.leave();                       // back to the friendly REPL (Ctrl-B)
 *
 * Commands go through raw-paste mode (Ctrl-E 'A' Ctrl-A) with the board's flow-control
 * window; a board that refuses raw paste (R\x00) or predates it gets plain raw REPL.
 * A Python exception on the board throws BoardException (code 'board_exception') with the
 * traceback; silence beyond the idle timeout throws 'timeout' after interrupting the program,
 * so the board is left at the raw prompt, never mid-command. leave() returns the board to the
 * friendly REPL even after a command was abandoned (Transport.cancel, a user's Ctrl-C).
 */
import { OtaError } from '../errors';
import type { Transport } from './transport';

const BANNER = 'raw REPL; CTRL-B to exit\r\n';
const CTRL_A = 0x01;
const CTRL_D = 0x04;
const EOT = Buffer.from([CTRL_D]);

export class BoardException extends OtaError {
  constructor(readonly traceback: string) {
    const lines = traceback.trim().split(/\r?\n/);
    super('board_exception', `the board raised ${lines[lines.length - 1] ?? 'an exception'}`);
  }
}

export interface ExecOptions {
  /** Receives stdout bytes as they arrive. */
  onOutput?: (chunk: Buffer) => void;
  /** Longest silence allowed while the command runs (default 10 s). */
  idleTimeoutMs?: number;
  /** execMany: called as each command finishes. */
  onCommandDone?(index: number): void;
  /**
   * Entering the raw REPL for this command (a session's first), send its first bytes right behind
   * Ctrl-A (enterPasting). For the client's own commands, whose first part is safe to run in any
   * REPL mode a lost control byte could leave the board in (the helpers' loader only reads).
   */
  ahead?: boolean;
  /**
   * Most output bytes kept per command (default MAX_OUTPUT): without onOutput, a board sending more
   * is interrupted and 'board_output_too_long' thrown; with onOutput, everything streams, the
   * returned Buffer holds only the first bytes.
   */
  maxOutput?: number;
}

/**
 * Most paste bytes sent before the board answers the raw-paste request: with the 8 control bytes,
 * what an ESP32's 260-byte UART receive ring holds while the board is busy printing, and within
 * the two windows (2 x 128: MICROPY_REPL_STDIN_BUFFER_MAX 256 / 2) ESP32 and RP2040 builds allow
 * before their first flow-control byte. A board announcing a smaller window has that paste
 * started again (enterPasting).
 */
const AHEAD = 248;

/** No board answer the host asks for (a file of a 16 MB flash, hex-encoded) comes near this. */
export const MAX_OUTPUT = 64 * 1024 * 1024;

/** The blocks a streaming command gets, and `lead`: bytes it reads unasked before its first ACK. */
export interface StreamPlan {
  lead?: Buffer;
  blocks: Buffer[];
}

export class RawRepl {
  /** True while the board sits at the raw REPL prompt waiting for us. */
  inRaw = false;
  /** undefined until the first command tells whether the board speaks raw paste. */
  rawPaste: boolean | undefined;
  /** The board's flow-control window (bytes), learnt from the first raw-paste command. */
  window = 0;
  /** We put the board in raw mode at some point (so leave() owes it the friendly REPL). */
  private touched = false;
  /** Changes whenever the board may have lost its globals (re-entered or reset). */
  generation = 0;

  constructor(
    readonly t: Transport,
    private readonly timeoutMs = 5000,
  ) {}

  /**
   * Reaches the raw REPL prompt from whatever the board is doing. With `ahead` (the start of a
   * framed command), the first try also asks for raw paste and sends up to AHEAD of its bytes
   * right behind Ctrl-A, while the board is still answering (enterPasting); returns how many.
   */
  async enter(ahead?: Buffer): Promise<number> {
    this.inRaw = false;
    this.touched = true;
    this.generation++;
    let lastErr: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      // Ctrl-C twice: stop a program (one that catches the first interrupt too) and clear any typed line.
      await this.t.write('\r\x03\x03');
      // First straight on, as mpremote does (a board at its prompt answers at once); if that
      // times out, let the stopped program's output die down before Ctrl-A.
      if (attempt === 0) this.t.discard();
      else await this.t.readQuiet(60, 600);
      // Never the final Ctrl-D: should this try fail, the bytes it sent can never run a command.
      const head =
        attempt === 0 && ahead && ahead.length > 1
          ? ahead.subarray(0, Math.min(AHEAD, ahead.length - 1))
          : undefined;
      await this.t.write(head ? Buffer.concat([Buffer.from('\r\x01\x05A\x01', 'latin1'), head]) : '\r\x01');
      try {
        await this.t.readUntil(BANNER + '>', this.timeoutMs / 2, 'the raw REPL prompt');
        // A late answer to an earlier try's Ctrl-A may follow: a second banner, not an answer to what comes next.
        if (attempt > 0) await this.t.readQuiet(60, 600);
        this.inRaw = true;
        return head?.length ?? 0;
      } catch (err) {
        if (!(err instanceof OtaError) || err.code !== 'timeout') throw err;
        lastErr = err;
      }
    }
    throw new OtaError(
      'board_busy',
      `the board on ${this.t.path} does not answer Ctrl-C / Ctrl-A (is a program ignoring KeyboardInterrupt, or is this not a MicroPython board?)`,
      { cause: lastErr },
    );
  }

  /**
   * A session's first command: enters the raw REPL and starts the raw paste of `framed` in one go,
   * its first bytes sent before the board answers, so they travel while the board's banners come
   * back. Returns how many bytes of it the board has (raw paste under way, window known), or
   * undefined at the plain raw prompt: the board speaks no raw paste (rawPaste false; the bytes it
   * took as a raw REPL line are cleared with Ctrl-C), or its window is smaller than what was sent
   * (that paste ended with Ctrl-C; start it again the usual way).
   */
  private async enterPasting(framed: Buffer): Promise<number | undefined> {
    const sent = await this.enter(this.rawPaste === false ? undefined : framed);
    if (sent === 0) return undefined;
    const r = await this.t.readExactly(2, this.timeoutMs, 'the raw-paste answer');
    if (r[0] === 0x52 && r[1] === 1) {
      const w = await this.t.readExactly(2, this.timeoutMs, 'the raw-paste window');
      this.window = w.readUInt16LE(0);
      this.rawPaste = true;
      if (sent <= 2 * this.window - 3) return sent;
      await this.recover();
      if (!this.inRaw) throw new OtaError('board_busy', `the board on ${this.t.path} stopped answering`);
      return undefined;
    }
    this.rawPaste = false;
    // Firmware without raw paste took Ctrl-A as "restart raw REPL" (refusing ones answer R 0).
    if (r[0] !== 0x52) {
      this.t.unread(r);
      await this.t.readUntil(BANNER + '>', this.timeoutMs, 'the raw REPL prompt');
    }
    await this.t.write('\x03');
    return undefined;
  }

  /** Back to the friendly REPL, so a terminal user finds the board as usual. */
  async leave(opts: { closing?: boolean } = {}): Promise<void> {
    if (!this.t.isOpen || (!this.inRaw && !this.touched)) return;
    // After an abandoned command the board may still be running it or mid raw paste: stop that first.
    if (!this.inRaw) await this.t.write('\r\x03\x03');
    this.inRaw = false;
    this.touched = false;
    await this.t.write('\x02');
    // The port closes next: the board's banner is nobody's to read, so no round trip for it.
    if (!opts.closing) await this.t.readUntil('>>> ', 1000).catch(() => undefined);
    this.t.discard();
  }

  /** Ctrl-D at the raw prompt: soft reset; the board comes back to the raw prompt. */
  async softReset(): Promise<void> {
    if (!this.inRaw) await this.enter();
    this.inRaw = false;
    this.generation++;
    await this.t.write('\x04');
    await this.t.readUntil('soft reboot\r\n', this.timeoutMs, 'the soft reboot');
    await this.t.readUntil(BANNER + '>', this.timeoutMs * 2, 'the raw REPL after the soft reboot');
    this.inRaw = true;
  }

  /** Ctrl-C: interrupts the running command (it then ends with KeyboardInterrupt). */
  async interrupt(): Promise<void> {
    await this.t.write('\x03');
  }

  async exec(code: string | Buffer, opts: ExecOptions = {}): Promise<Buffer> {
    const [out] = await this.execMany([code], opts);
    return out;
  }

  /**
   * Runs commands one after another. With raw paste, the start of the next command is sent
   * as soon as the board has compiled the current one (it then waits in the board's input
   * buffer, at most one window), so the board never idles for a round trip.
   */
  async execMany(codes: (string | Buffer)[], opts: ExecOptions = {}): Promise<Buffer[]> {
    const idle = opts.idleTimeoutMs ?? 10_000;
    const outputs: Buffer[] = [];
    let present = 0; // bytes of the current command already sent ahead
    let pasting = false; // the raw paste of the current command is under way
    if (!this.inRaw && (!opts.ahead || codes.length === 0)) await this.enter();
    try {
      if (!this.inRaw) {
        const sent = await this.enterPasting(Buffer.concat([toBytes(codes[0]), EOT]));
        if (sent !== undefined) [present, pasting] = [sent, true];
      }
      for (let i = 0; i < codes.length; i++) {
        const code = toBytes(codes[i]);
        const framed = Buffer.concat([code, EOT]);
        let usePaste = this.rawPaste !== false;
        if (pasting) pasting = false;
        else {
          if (usePaste && present === 0) await this.t.write('\x05A\x01');
          if (usePaste) usePaste = await this.startPaste(present > 0);
        }
        if (usePaste) {
          await this.pasteBody(framed, present);
        } else {
          await this.plainBody(code);
        }
        present = 0;
        // The board has the whole command: send ahead the head of the next one.
        const next =
          i + 1 < codes.length && usePaste && this.window > 0
            ? Buffer.concat([toBytes(codes[i + 1]), EOT])
            : undefined;
        if (next) {
          present = Math.min(next.length, 2 * this.window - 3);
          await this.t.write(Buffer.concat([Buffer.from('\x05A\x01', 'latin1'), next.subarray(0, present)]));
        }
        outputs.push(await this.collect(opts.onOutput, idle, opts.maxOutput));
        opts.onCommandDone?.(i);
      }
    } catch (err) {
      throw await this.failed(err, present > 0);
    }
    return outputs;
  }

  /**
   * Runs one command (raw paste) that reads data from stdin: each time it prints `ack`, the
   * next of `blocks` is sent, so the board asks for data only while it is ready to read it.
   * With `head`, the command first prints that many lines, and `blocks` is a function of them
   * (the board says what it needs before it asks; StreamPlan). Needs raw paste: on a board that refuses it,
   * throws 'protocol' with `rawPaste` false, the board left at the raw prompt.
   */
  async execStream(
    code: string,
    blocks: Buffer[] | ((head: string[]) => StreamPlan),
    opts: ExecOptions & { ack: number; head?: number; before?: { code: string; done(out: Buffer): void } },
  ): Promise<Buffer> {
    const idle = opts.idleTimeoutMs ?? 10_000;
    const framed = Buffer.concat([toBytes(code), EOT]);
    const first = opts.before ? Buffer.concat([toBytes(opts.before.code), EOT]) : framed;
    let sent: number | undefined;
    let queued = false;
    if (!this.inRaw && !opts.ahead) await this.enter();
    try {
      if (!this.inRaw) sent = await this.enterPasting(first);
      if (sent === undefined) {
        if (this.rawPaste !== false) await this.t.write('\x05A\x01');
        if (this.rawPaste === false || !(await this.startPaste(false)))
          throw new OtaError('protocol', 'streaming to the board needs raw-paste mode');
      }
      await this.pasteBody(first, sent ?? 0);
      if (opts.before) {
        // The command goes out while the board runs `before` (as execMany sends ahead).
        sent = Math.min(framed.length, 2 * this.window - 3);
        await this.t.write(Buffer.concat([Buffer.from('\x05A\x01', 'latin1'), framed.subarray(0, sent)]));
        queued = true;
        opts.before.done(await this.collect(undefined, idle));
        await this.startPaste(true);
        queued = false;
        await this.pasteBody(framed, sent);
      }
      const lines: string[] = [];
      while (lines.length < (opts.head ?? 0)) {
        const line = await this.readLine(idle);
        if (line === undefined) break; // the command ended early (an exception): collect() reports it
        lines.push(line);
      }
      let list: Buffer[] = [];
      if (typeof blocks !== 'function') list = blocks;
      else if (lines.length === (opts.head ?? 0)) {
        const plan = blocks(lines);
        list = plan.blocks;
        // What the command reads without asking once it has printed its head: a few bytes, which
        // the board's receive ring holds while it gets to the read.
        if (plan.lead) await this.t.write(plan.lead);
      }
      for (let i = 0; i < list.length; i++) {
        const b = await this.t.readExactly(1, idle, 'the board to ask for the next block');
        if (b[0] !== opts.ack) {
          // The command ended early (an exception): collect() reports it.
          this.t.unread(b);
          break;
        }
        await this.t.write(list[i]);
        opts.onCommandDone?.(i);
      }
      return await this.collect(opts.onOutput, idle, opts.maxOutput);
    } catch (err) {
      if (this.rawPaste === false) throw err;
      throw await this.failed(err, queued);
    }
  }

  /** One line of the running command's output, without its end; undefined if the command ends first. */
  private async readLine(idle: number): Promise<string | undefined> {
    let got = Buffer.alloc(0);
    for (;;) {
      got = Buffer.concat([got, await this.t.readSome(idle, 'the command to answer')]);
      const nl = got.indexOf(0x0a);
      const end = got.indexOf(CTRL_D);
      if (end >= 0 && (nl < 0 || end < nl)) {
        this.t.unread(got);
        return undefined;
      }
      if (nl >= 0) {
        this.t.unread(got.subarray(nl + 1));
        return got.subarray(0, nl).toString('utf8').replace(/\r$/, '');
      }
    }
  }

  /** After a failed command: the error to throw, with the board brought back to a raw prompt if need be. */
  private async failed(err: unknown, queued: boolean): Promise<unknown> {
    // A failed command with nothing queued behind it leaves the board at the prompt;
    // anything else (timeout, protocol upset, a queued command) needs a fresh prompt.
    if (err instanceof BoardException && !queued) return err;
    // 'cancelled': the caller saw the board reset under the command; nothing to recover.
    if (err instanceof OtaError && (err.code === 'port_closed' || err.code === 'cancelled'))
      this.inRaw = false;
    else await this.recover();
    // A port that died silently (no error until we wrote to it) is the better explanation.
    if (!this.t.isOpen && !(err instanceof OtaError && err.code === 'port_closed')) {
      return new OtaError('port_closed', `serial port ${this.t.path} closed (board unplugged or reset?)`, {
        cause: err,
      });
    }
    return err;
  }

  /** Reads the answer to Ctrl-E 'A' Ctrl-A; returns false (and stays at the raw prompt) without raw paste. */
  private async startPaste(sentAhead: boolean): Promise<boolean> {
    const r = await this.t.readExactly(2, this.timeoutMs, 'the raw-paste answer');
    if (r[0] === 0x52 && r[1] === 1) {
      const w = await this.t.readExactly(2, this.timeoutMs, 'the raw-paste window');
      this.window = w.readUInt16LE(0);
      this.rawPaste = true;
      return true;
    }
    if (sentAhead)
      throw new OtaError('protocol', `raw paste stopped working mid-transfer (${JSON.stringify(r)})`);
    this.rawPaste = false;
    if (r[0] === 0x52 && r[1] === 0) return false; // understood but refused: still at the raw prompt
    // Firmware without raw paste took Ctrl-A as "restart raw REPL": the two bytes read began its banner.
    this.t.unread(r);
    await this.t.readUntil(BANNER + '>', this.timeoutMs, 'the raw REPL prompt');
    return false;
  }

  /**
   * Sends a command (already framed with its Ctrl-D terminator) within the board's window;
   * `already` bytes were sent ahead. The terminator takes a byte of window too: it lands in
   * the same receive buffer as the code.
   */
  private async pasteBody(framed: Buffer, already: number): Promise<void> {
    let credit = this.window - already; // the window size itself is the first credit
    let i = already;
    let ended = false;
    const onByte = (b: number) => {
      if (b === CTRL_A) credit += this.window;
      else if (b === CTRL_D) ended = true;
      else
        throw new OtaError('protocol', `unexpected byte 0x${b.toString(16)} from the board during raw paste`);
    };
    while (i < framed.length && !ended) {
      while ((credit <= 0 || this.t.pending > 0) && !ended) {
        const b = await this.t.readExactly(1, this.timeoutMs, 'raw-paste flow control');
        onByte(b[0]);
      }
      if (ended) break;
      const n = Math.min(credit, framed.length - i);
      await this.t.write(framed.subarray(i, i + n));
      i += n;
      credit -= n;
    }
    if (ended) {
      // The board stopped reading early (a syntax error while compiling): acknowledge it, once.
      if (i < framed.length) await this.t.write('\x04');
      return;
    }
    for (;;) {
      const b = await this.t.readExactly(1, this.timeoutMs, 'the end of raw paste');
      if (b[0] === CTRL_D) return;
      onByte(b[0]);
    }
  }

  /** Plain raw REPL: small pieces with pauses, since there is no flow control. */
  private async plainBody(code: Buffer): Promise<void> {
    for (let i = 0; i < code.length; i += 256) {
      await this.t.write(code.subarray(i, i + 256));
      if (i + 256 < code.length) await new Promise((r) => setTimeout(r, 10));
    }
    await this.t.write('\x04');
    const ok = await this.t.readExactly(2, this.timeoutMs, 'OK');
    if (ok.toString('latin1') !== 'OK') {
      throw new OtaError(
        'protocol',
        `the board did not accept the command (got ${JSON.stringify(ok.toString())})`,
      );
    }
  }

  /** stdout up to Ctrl-D, stderr up to Ctrl-D, then the '>' prompt. */
  private async collect(
    onOutput: ((c: Buffer) => void) | undefined,
    idle: number,
    max = MAX_OUTPUT,
  ): Promise<Buffer> {
    const out: Buffer[] = [];
    let kept = 0;
    for (;;) {
      const chunk = await this.t.readSome(idle, 'the command to finish');
      const end = chunk.indexOf(CTRL_D);
      const part = end < 0 ? chunk : chunk.subarray(0, end);
      if (part.length) {
        // A board that never stops talking must not hold the host (Files tree, ota info) forever.
        if (kept + part.length > max && !onOutput)
          throw new OtaError(
            'board_output_too_long',
            `the board sent more than ${max} bytes for one command`,
          );
        if (kept < max) out.push(part);
        kept += part.length;
        onOutput?.(part);
      }
      if (end >= 0) {
        this.t.unread(chunk.subarray(end + 1));
        break;
      }
    }
    const err = (await this.t.readUntil('\x04', this.timeoutMs, 'the error report')).subarray(0, -1);
    await this.t.readUntil('>', this.timeoutMs, 'the raw REPL prompt');
    if (err.length) throw new BoardException(err.toString('utf8'));
    return Buffer.concat(out);
  }

  /** After a timeout: interrupt whatever runs and get back to a clean raw prompt. */
  private async recover(): Promise<void> {
    this.inRaw = false;
    try {
      await this.enter();
    } catch {
      // The original timeout is the error worth reporting.
    }
  }
}

function toBytes(code: string | Buffer): Buffer {
  return typeof code === 'string' ? Buffer.from(code, 'utf8') : code;
}

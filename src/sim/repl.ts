// The board's console protocol, byte for byte as MicroPython's shared/runtime/pyexec.c answers it:
// the friendly REPL (">>> ", line editing, paste mode) and the raw REPL (Ctrl-A, Ctrl-D, Ctrl-B) with
// raw-paste mode (Ctrl-E 'A' Ctrl-A) and its flow-control window. It only decides what to print and what
// to run; the board runs the code and reports back through finished().
import type { ExecResult } from './cpu';

export const BANNER = 'MicroPython v1.27.0 on 2025-12-09; virtual-board with wasm';
const FRIENDLY_HELLO = `${BANNER}\r\nType "help()" for more information.\r\n`;
const RAW_HELLO = 'raw REPL; CTRL-B to exit\r\n';
/**
 * Half of MICROPY_REPL_STDIN_BUFFER_MAX, 256 by default (shared/runtime/pyexec.c): what ESP32 and RP2040
 * builds announce, since neither port overrides it (their UART receive rings hold 260 and 512 bytes).
 */
export const RAW_PASTE_WINDOW = 128;

const CTRL_A = 1;
const CTRL_B = 2;
const CTRL_C = 3;
const CTRL_D = 4;
const CTRL_E = 5;

export type ReplAction =
  { do: 'exec'; code: string; mode: 'file' | 'single'; raw: boolean } | { do: 'softReboot' };

const COMPOUND = /^(@|if\b|while\b|for\b|try\b|with\b|def\b|class\b|async\b)/;

/** MicroPython's mp_repl_continue_with_input: does the friendly REPL need another line? */
export function continueWithInput(input: string): boolean {
  if (input === '') return false;
  let paren = 0;
  let quote = '';
  let triple = '';
  for (let i = 0; i < input.length; i++) {
    const c = input[i];
    if (triple) {
      if (input.startsWith(triple, i)) {
        triple = '';
        i += 2;
      } else if (c === '\\') i++;
    } else if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = '';
    } else if (c === '#') {
      while (i < input.length && input[i] !== '\n') i++;
    } else if ((c === '"' || c === "'") && input.startsWith(c.repeat(3), i)) {
      triple = c.repeat(3);
      i += 2;
    } else if (c === '"' || c === "'") quote = c;
    else if ('([{'.includes(c)) paren++;
    else if (')]}'.includes(c)) paren--;
  }
  if (triple) return true;
  if (paren > 0 && !quote) return true;
  if (input.endsWith('\\')) return true;
  return COMPOUND.test(input) && !input.endsWith('\n');
}

export class Repl {
  mode: 'friendly' | 'raw' = 'friendly';
  private sub: 'line' | 'paste' | 'rawpaste' = 'line';
  private line: number[] = [];
  /** Friendly REPL: lines of a compound statement entered so far. */
  private lines: string[] = [];
  private escape = 0;
  private lastCr = false;
  private window = 0;
  private allowance = 0;
  private granted = 0;
  /** Bytes a host sent beyond the raw-paste window: lost, as a real UART buffer overflows. */
  overrun = 0;

  /** `rawPaste` false: firmware from before raw paste, where Ctrl-A always restarts the raw REPL. */
  constructor(
    private readonly out: (s: string) => void,
    private readonly rawPaste = true,
  ) {}

  /** What the board prints when its REPL starts (after boot.py and main.py). */
  start(): void {
    this.reset();
    this.out(this.mode === 'raw' ? RAW_HELLO + '>' : FRIENDLY_HELLO + '>>> ');
  }

  /** True while raw paste is receiving code: Ctrl-C then belongs to the paste, not to running code. */
  get pasting(): boolean {
    return this.sub === 'rawpaste';
  }

  private reset(): void {
    this.sub = 'line';
    this.line = [];
    this.lines = [];
    this.escape = 0;
  }

  feed(c: number): ReplAction | undefined {
    if (this.mode === 'raw') return this.sub === 'rawpaste' ? this.feedRawPaste(c) : this.feedRaw(c);
    return this.sub === 'paste' ? this.feedPaste(c) : this.feedFriendly(c);
  }

  /** Prints what follows a run and the next prompt; a SystemExit soft-reboots the board. */
  finished(action: ReplAction & { do: 'exec' }, r: ExecResult): ReplAction | undefined {
    if (action.raw) {
      this.out('\x04' + (r.kind === 'exception' ? r.text : '') + '\x04');
      if (r.kind === 'exit') return { do: 'softReboot' };
      this.out('>');
      return undefined;
    }
    if (r.kind === 'exception') this.out(r.text);
    if (r.kind === 'exit') return { do: 'softReboot' };
    this.reset();
    this.out('>>> ');
    return undefined;
  }

  private text(bytes: number[]): string {
    return Buffer.from(bytes).toString('utf8');
  }

  private feedRaw(c: number): ReplAction | undefined {
    if (c === CTRL_A) {
      if (this.rawPaste && this.line.length === 2 && this.line[0] === CTRL_E) {
        const cmd = this.line[1];
        this.line = [];
        if (cmd !== 0x41) {
          this.out('R\x00>');
          return undefined;
        }
        this.window = RAW_PASTE_WINDOW;
        this.allowance = 2 * RAW_PASTE_WINDOW;
        this.granted = 0;
        this.sub = 'rawpaste';
        this.out('R\x01' + String.fromCharCode(RAW_PASTE_WINDOW & 0xff, RAW_PASTE_WINDOW >> 8) + '\x01');
        return undefined;
      }
      this.line = [];
      this.out(RAW_HELLO + '>');
    } else if (c === CTRL_B) {
      this.mode = 'friendly';
      this.reset();
      this.out('\r\n' + FRIENDLY_HELLO + '>>> ');
    } else if (c === CTRL_C) {
      this.line = [];
    } else if (c === CTRL_D) {
      this.out('OK');
      const code = this.line;
      this.line = [];
      if (code.length === 0) {
        this.out('\r\n');
        return { do: 'softReboot' };
      }
      return { do: 'exec', code: this.text(code), mode: 'file', raw: true };
    } else {
      this.line.push(c);
    }
    return undefined;
  }

  private feedRawPaste(c: number): ReplAction | undefined {
    if (this.allowance <= 0) {
      this.overrun++;
      return undefined;
    }
    if (c === CTRL_D || c === CTRL_C) {
      this.sub = 'line';
      const code = this.line;
      this.line = [];
      this.out('\x04');
      if (c === CTRL_C) {
        this.out('\x04KeyboardInterrupt: \r\n\x04>');
        return undefined;
      }
      return { do: 'exec', code: this.text(code), mode: 'file', raw: true };
    }
    this.line.push(c);
    this.allowance--;
    if (this.line.length % this.window === 0) {
      this.granted += this.window;
      this.out('\x01');
    }
    return undefined;
  }

  /**
   * End of one arrival of bytes. A grant sent while a burst was arriving cannot have been seen by the host
   * that sent it, so it only opens room for later bytes: a burst larger than the room is cut off, as the
   * board's 256-byte receive buffer overflows.
   */
  endChunk(): void {
    this.allowance += this.granted;
    this.granted = 0;
  }

  private feedPaste(c: number): ReplAction | undefined {
    if (c === CTRL_C) {
      this.reset();
      this.out('\r\n>>> ');
    } else if (c === CTRL_D) {
      this.out('\r\n');
      const code = this.text(this.line).replace(/\r\n?/g, '\n');
      this.reset();
      return { do: 'exec', code, mode: 'file', raw: false };
    } else {
      this.line.push(c);
      this.out(c === 13 ? '\r\n=== ' : String.fromCharCode(c));
    }
    return undefined;
  }

  private feedFriendly(c: number): ReplAction | undefined {
    const crlf = this.lastCr && c === 10;
    this.lastCr = c === 13;
    if (crlf) return undefined;
    if (this.escape) {
      // Cursor keys and the like: ESC [ ... final letter. Line history and cursor moves are not emulated.
      this.escape = this.escape === 1 && c === 0x5b ? 2 : c >= 0x40 && c <= 0x7e ? 0 : this.escape;
      return undefined;
    }
    const empty = this.line.length === 0 && this.lines.length === 0;
    switch (c) {
      case CTRL_A:
        if (!empty) return undefined;
        this.mode = 'raw';
        this.reset();
        this.out('\r\n' + RAW_HELLO + '>');
        return undefined;
      case CTRL_B:
        if (!empty) return undefined;
        this.out('\r\n' + FRIENDLY_HELLO + '>>> ');
        return undefined;
      case CTRL_C:
        this.reset();
        this.out('\r\n>>> ');
        return undefined;
      case CTRL_D:
        if (empty) {
          this.out('\r\n');
          return { do: 'softReboot' };
        }
        if (this.lines.length > 0 && this.line.length === 0) return this.run();
        return undefined;
      case CTRL_E:
        if (!empty) return undefined;
        this.reset();
        this.sub = 'paste';
        this.out('\r\npaste mode; Ctrl-C to cancel, Ctrl-D to finish\r\n=== ');
        return undefined;
      case 0x1b:
        this.escape = 1;
        return undefined;
      case 8:
      case 0x7f:
        if (this.line.length > 0) {
          this.line.pop();
          this.out('\b \b');
        }
        return undefined;
      case 13:
      case 10:
        return this.enter();
      default:
        if (c < 0x20) return undefined;
        this.line.push(c);
        this.out(String.fromCharCode(c));
        return undefined;
    }
  }

  private enter(): ReplAction | undefined {
    this.out('\r\n');
    const current = this.text(this.line);
    this.line = [];
    if (this.lines.length === 0) {
      if (current === '') {
        this.out('>>> ');
        return undefined;
      }
      if (!continueWithInput(current)) {
        this.lines.push(current);
        return this.run();
      }
    } else if (current.trim() === '') {
      return this.run();
    }
    this.lines.push(current);
    if (!continueWithInput(this.lines.join('\n'))) return this.run();
    // Auto-indent as MicroPython does: keep the last line's indent, one more level after a colon.
    const prev = this.lines[this.lines.length - 1];
    const indent = (prev.length - prev.trimStart().length) / 4 + (prev.trimEnd().endsWith(':') ? 1 : 0);
    const pad = '    '.repeat(Math.floor(indent));
    this.line = [...Buffer.from(pad)];
    this.out('... ' + pad);
    return undefined;
  }

  private run(): ReplAction {
    const code = this.lines.join('\n') + (this.lines.length > 1 ? '\n' : '');
    this.lines = [];
    this.line = [];
    return { do: 'exec', code, mode: 'single', raw: false };
  }
}

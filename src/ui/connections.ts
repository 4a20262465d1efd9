// One serial port, one user at a time: commands open the board, act and close it. A port kept
// open for its console (Watch Device into the output channel, a REPL terminal) steps aside while
// a command uses the port, and comes back after.
import { StringDecoder } from 'node:string_decoder';
import type { BoardConnection } from '../core/serial/board';
import { loadHeavy } from './load-heavy';
import type { OtaOutput } from './output';

interface Open {
  board: BoardConnection;
  stop: () => void;
}

/** A terminal attached to a board's console (src/ui/actions/repl.ts). */
export interface ConsoleTerminal {
  /** Text the board printed. */
  data(text: string): void;
  /** A note from the extension (the port paused for a command, resumed, lost). */
  note(text: string): void;
}

export class Connections {
  private readonly open = new Map<string, Open>();
  private readonly logging = new Set<string>();
  private readonly terminals = new Map<string, Set<ConsoleTerminal>>();
  private readonly busy = new Map<string, Promise<unknown>>();

  constructor(
    private readonly output: OtaOutput,
    private readonly baudRate: () => number,
    /** Called when a port starts or stops being watched (tree item, status bar). */
    private readonly changed: () => void = () => undefined,
  ) {}

  isWatching(port: string): boolean {
    return this.logging.has(port);
  }

  watched(): string[] {
    return [...this.logging];
  }

  private wanted(port: string): boolean {
    return this.logging.has(port) || (this.terminals.get(port)?.size ?? 0) > 0;
  }

  /** Opens `port`, runs `fn`, closes it; calls for one port run one after another. */
  use<T>(port: string, fn: (board: BoardConnection) => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      const reopen = this.open.has(port);
      if (reopen) {
        this.notify(port, 'paused: a command is using the board');
        await this.close(port);
      }
      const { openBoard } = loadHeavy();
      const board = await openBoard(port, { baudRate: this.baudRate() });
      try {
        return await fn(board);
      } finally {
        await board.close().catch(() => undefined);
        if (reopen && this.wanted(port))
          await this.ensureOpen(port).then(
            () => this.notify(port, 'resumed'),
            (err: unknown) => this.output.error(String(err)),
          );
      }
    };
    const next = (this.busy.get(port) ?? Promise.resolve()).then(run, run);
    this.busy.set(
      port,
      next.catch(() => undefined),
    );
    return next;
  }

  /** Streams the board's console into the output channel until unwatch(). */
  async watch(port: string): Promise<void> {
    if (this.logging.has(port)) return;
    this.logging.add(port);
    try {
      await this.ensureOpen(port);
    } catch (err) {
      this.logging.delete(port);
      throw err;
    }
    this.changed();
  }

  async unwatch(port: string): Promise<void> {
    if (!this.logging.delete(port)) return;
    if (!this.wanted(port)) await this.close(port);
    this.changed();
  }

  /** Attaches a terminal to the board's console; `write` sends keystrokes, `detach` lets go. */
  async attach(
    port: string,
    term: ConsoleTerminal,
  ): Promise<{ write(data: string): Promise<void>; detach(): Promise<void> }> {
    const set = this.terminals.get(port) ?? new Set<ConsoleTerminal>();
    this.terminals.set(port, set);
    set.add(term);
    try {
      await this.ensureOpen(port);
    } catch (err) {
      set.delete(term);
      throw err;
    }
    return {
      write: async (data) => {
        const o = this.open.get(port);
        if (o) await o.board.transport.write(Buffer.from(data, 'utf8'));
        else term.note('the board is busy with a command; try again in a moment');
      },
      detach: async () => {
        set.delete(term);
        if (!this.wanted(port)) await this.close(port);
      },
    };
  }

  private notify(port: string, text: string): void {
    for (const t of this.terminals.get(port) ?? []) t.note(text);
  }

  private async ensureOpen(port: string): Promise<void> {
    if (this.open.has(port)) return;
    const { openBoard, watchConsole } = loadHeavy();
    const board = await openBoard(port, { baudRate: this.baudRate() });
    const decoder = new StringDecoder('utf8');
    const stop = watchConsole(board, {
      text: (line) => this.logging.has(port) && this.output.board(port, line),
      event: (e) => this.logging.has(port) && this.output.event(port, e),
      raw: (chunk) => {
        const text = decoder.write(chunk);
        for (const t of this.terminals.get(port) ?? []) t.data(text);
      },
    });
    board.transport.onClose(() => {
      if (this.open.get(port)?.board === board) {
        this.open.delete(port);
        this.notify(port, 'the board went away (unplugged or reset)');
      }
    });
    this.open.set(port, { board, stop });
  }

  private async close(port: string): Promise<void> {
    const o = this.open.get(port);
    if (!o) return;
    this.open.delete(port);
    o.stop();
    await o.board.transport.close().catch(() => undefined);
  }

  async dispose(): Promise<void> {
    this.logging.clear();
    this.terminals.clear();
    await Promise.all([...this.open.keys()].map((p) => this.close(p)));
  }
}

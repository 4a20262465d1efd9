// One serial port, one user at a time: commands open the board, act and close it;
// a watched port's console connection steps aside while a command uses the port.
import type { BoardConnection } from '../core/serial/board';
import { loadHeavy } from './load-heavy';
import type { OtaOutput } from './output';

interface Watch {
  board: BoardConnection;
  stop: () => void;
}

export class Connections {
  private readonly watches = new Map<string, Watch>();
  private readonly busy = new Map<string, Promise<unknown>>();

  constructor(
    private readonly output: OtaOutput,
    private readonly baudRate: () => number,
    /** Called when a port starts or stops being watched (tree item, status bar). */
    private readonly changed: () => void = () => undefined,
  ) {}

  isWatching(port: string): boolean {
    return this.watches.has(port);
  }

  watched(): string[] {
    return [...this.watches.keys()];
  }

  /** Opens `port`, runs `fn`, closes it; calls for one port run one after another. */
  use<T>(port: string, fn: (board: BoardConnection) => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      const watching = this.watches.has(port);
      if (watching) await this.unwatch(port, true);
      const { openBoard } = loadHeavy();
      const board = await openBoard(port, { baudRate: this.baudRate() });
      try {
        return await fn(board);
      } finally {
        await board.close().catch(() => undefined);
        if (watching) await this.watch(port, true).catch((err: unknown) => this.output.error(String(err)));
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
  async watch(port: string, quiet = false): Promise<void> {
    if (this.watches.has(port)) return;
    const { openBoard, watchConsole } = loadHeavy();
    const board = await openBoard(port, { baudRate: this.baudRate() });
    const stop = watchConsole(board, {
      text: (line) => this.output.board(port, line),
      event: (e) => this.output.event(port, e),
    });
    this.watches.set(port, { board, stop });
    if (!quiet) this.changed();
  }

  async unwatch(port: string, quiet = false): Promise<void> {
    const w = this.watches.get(port);
    if (!w) return;
    this.watches.delete(port);
    w.stop();
    await w.board.transport.close().catch(() => undefined);
    if (!quiet) this.changed();
  }

  async dispose(): Promise<void> {
    await Promise.all([...this.watches.keys()].map((p) => this.unwatch(p, true)));
  }
}

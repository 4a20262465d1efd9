// Test and bench support: a virtual board (src/sim) on a real pseudo-terminal, in a temporary flash folder.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VirtualBoard } from '../src/sim/board';
import { exposeOnPty } from '../src/sim/pty';

export interface PtyBoard {
  board: VirtualBoard;
  fsDir: string;
  path: string;
  /** Closes the pseudo-terminal only (the cable); the board keeps running. */
  unplug(): Promise<void>;
  /** A new pseudo-terminal to the same board. */
  replug(): Promise<string>;
  stop(): Promise<void>;
}

export async function startPtyBoard(
  opts: { fsDir?: string; heapKb?: number; flashKb?: number } = {},
): Promise<PtyBoard> {
  const fsDir = opts.fsDir ?? mkdtempSync(join(tmpdir(), 'ota-serial-'));
  const board = await VirtualBoard.start({ fsDir, heapKb: opts.heapKb, flashKb: opts.flashKb });
  let pty = await exposeOnPty(board);
  const self: PtyBoard = {
    board,
    fsDir,
    path: pty.path,
    unplug: () => pty.close(),
    replug: async () => {
      pty = await exposeOnPty(board);
      self.path = pty.path;
      return pty.path;
    },
    stop: async () => {
      await pty.close().catch(() => undefined);
      await board.stop();
      if (!opts.fsDir) rmSync(fsDir, { recursive: true, force: true });
    },
  };
  return self;
}

// Test and bench support: a virtual board (src/sim) in a temporary flash folder, on its in-process
// link (what tests above the port use) or on a real pseudo-terminal (what proves the real port path).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VirtualBoard, type BoardOptions } from '../src/sim/board';
import { exposeOnPty } from '../src/sim/pty';
import { exposeOnLink, type BoardPort } from '../src/sim/usb';
import './support/own-ports';

export interface TestBoard {
  board: VirtualBoard;
  fsDir: string;
  path: string;
  /** Closes the port only (the cable); the board keeps running. */
  unplug(): Promise<void>;
  /** A new port to the same board. */
  replug(): Promise<string>;
  stop(): Promise<void>;
}

export async function startBoard(
  opts: Partial<BoardOptions> & { via?: 'link' | 'pty' } = {},
): Promise<TestBoard> {
  const { via = 'link', fsDir: given, ...rest } = opts;
  const fsDir = given ?? mkdtempSync(join(tmpdir(), 'ota-serial-'));
  const board = await VirtualBoard.start({ ...rest, fsDir });
  const expose = (): Promise<BoardPort> => (via === 'pty' ? exposeOnPty(board) : exposeOnLink(board));
  let port = await expose();
  const self: TestBoard = {
    board,
    fsDir,
    get path() {
      return port.path;
    },
    unplug: () => port.close(),
    replug: async () => {
      port = await expose();
      return port.path;
    },
    stop: async () => {
      await port.close().catch(() => undefined);
      await board.stop();
      if (!given) rmSync(fsDir, { recursive: true, force: true });
    },
  };
  return self;
}

export function startPtyBoard(opts: Partial<BoardOptions> = {}): Promise<TestBoard> {
  return startBoard({ ...opts, via: 'pty' });
}

// One host session with a virtual board on a power-cut test's folder: the power optionally cut at a
// block write (counted from power-up), the port going with it as a cable does. A failure counts only
// without a cut.
import type { BoardConnection } from '../../src/core/serial/board';
import type { BoardOptions } from '../../src/sim/board';
import type { CutMode } from '../../src/sim/flash';
import { startBoard, type TestBoard } from '../serial-board';
import { onBoard } from './on-board';

export async function cutSession(
  fsDir: string,
  model: Partial<BoardOptions>,
  cut: { at: number; mode: CutMode } | undefined,
  fn: (b: BoardConnection, vb: TestBoard) => Promise<unknown>,
): Promise<void> {
  const vb = await startBoard({
    fsDir,
    ...model,
    ...(cut ? { cutAfterMutations: cut.at, cutMode: cut.mode } : {}),
  });
  vb.board.once('poweroff', () => void vb.unplug());
  try {
    await onBoard(vb.path, (b) => fn(b, vb));
  } catch (e) {
    if (!cut) throw e;
  } finally {
    await vb.stop();
  }
}

// Opens the board named by --port for one CLI command and always closes it (leaving raw REPL).
import { OtaError } from '../core/errors';
import { openBoard, type BoardConnection } from '../core/serial/board';

export async function withBoard<T>(
  port: string | undefined,
  fn: (b: BoardConnection) => Promise<T>,
): Promise<T> {
  if (!port)
    throw new OtaError('bad-option', 'no board given: use --port <path> (ota info --list shows ports)');
  const board = await openBoard(port);
  try {
    return await fn(board);
  } finally {
    await board.close().catch(() => undefined);
  }
}

/** "12.3 KB/s" and friends, for progress lines. */
export function rate(bytesPerSec: number): string {
  return bytesPerSec >= 1024 * 1024
    ? `${(bytesPerSec / 1024 / 1024).toFixed(1)} MB/s`
    : `${(bytesPerSec / 1024).toFixed(1)} KB/s`;
}

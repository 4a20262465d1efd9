// Opens the board named by --port for one CLI command and always closes it (leaving raw REPL).
import { OtaError } from '../core/errors';
import { openBoard, type BoardConnection } from '../core/serial/board';

/** The --port given, or the usage error that asks for it (before a command reads anything else). */
export function boardPort(port: string | undefined): string {
  if (!port)
    throw new OtaError('bad_option', 'no board given: use --port <path> (ota info --list shows ports)');
  return port;
}

/**
 * Ctrl-C abandons the operation under way (close() then interrupts the board and returns it to
 * its friendly REPL), unless `ownSigint`: the command handles Ctrl-C itself.
 */
export async function withBoard<T>(
  port: string | undefined,
  fn: (b: BoardConnection) => Promise<T>,
  opts: { ownSigint?: boolean } = {},
): Promise<T> {
  const board = await openBoard(boardPort(port));
  const onSigint = () => board.transport.cancel(new OtaError('cancelled', 'interrupted (Ctrl-C)'));
  if (!opts.ownSigint) process.on('SIGINT', onSigint);
  try {
    return await fn(board);
  } finally {
    process.off('SIGINT', onSigint);
    await board.close().catch(() => undefined);
  }
}

/** "12.3 KB/s" and friends, for progress lines. */
export function rate(bytesPerSec: number): string {
  return bytesPerSec >= 1024 * 1024
    ? `${(bytesPerSec / 1024 / 1024).toFixed(1)} MB/s`
    : `${(bytesPerSec / 1024).toFixed(1)} KB/s`;
}

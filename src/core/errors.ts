/**
 * Every error a user can cause carries a stable code, so the CLI, the extension
 * and the tests can tell them apart without parsing messages. The codes, with a
 * message each, are one table: error-codes.ts.
 */
import type { ErrorCode } from './error-codes';

export type { ErrorCode } from './error-codes';

export class OtaError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'OtaError';
  }
}

/** Node's file-system error codes in a user's words; the code stays in brackets for a search. */
const FS_REASONS: Record<string, string> = {
  ENOENT: 'no such file or folder',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'it is a folder, not a file',
  ENOTDIR: 'a part of the path is a file, not a folder',
  ELOOP: 'a symlink loop',
  ENAMETOOLONG: 'the name is too long',
  EMFILE: 'too many open files',
  EBUSY: 'the file is busy',
};

/**
 * Why a file could not be read, for a message: `no such file or folder (ENOENT)`, not a bare
 * `ENOENT`. Takes the error node:fs threw, or its code.
 */
export function fsReason(err: unknown): string {
  const code = typeof err === 'string' ? err : (err as NodeJS.ErrnoException | undefined)?.code;
  if (!code) return err instanceof Error ? err.message : String(err);
  return FS_REASONS[code] ? `${FS_REASONS[code]} (${code})` : code;
}

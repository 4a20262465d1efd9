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

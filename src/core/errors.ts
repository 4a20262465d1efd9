/**
 * Every error a user can cause carries a stable code, so the CLI, the extension
 * and the tests can tell them apart without parsing messages.
 */
export class OtaError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'OtaError';
  }
}

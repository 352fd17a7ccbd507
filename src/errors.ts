/*
 * The one error type of Stasis. Everything the user can cause or fix (bad input, a missing
 * coordinator, a corrupt image) is a StasisError with a stable `code` and a one-line
 * message that says what to do next. Only src/cli/main.ts prints them; anything else that
 * reaches it is a bug and is printed with its stack.
 */

export const ERROR_CODES = [
  'USAGE', 'NO_COORDINATOR', 'PORT_IN_USE', 'COORDINATOR', 'NATIVE_MISSING', 'BAD_FRAME', 'BAD_REQUEST', 'BAD_IMAGE',
  'BAD_MANIFEST', 'NO_CHECKPOINT', 'INCOMPLETE_GENERATION', 'NOT_SUPPORTED', 'NO_PROCESSES', 'AGENT_FAILED',
  'AGENT_LOST', 'TIMEOUT', 'SHUTDOWN', 'EXEC', 'IO', 'INTERNAL', 'PROCESS_UNTRACKED',
] as const;

/** Stable codes: they cross the wire in `{ok:false, code}` responses. */
export type ErrorCode = (typeof ERROR_CODES)[number];

export function isErrorCode(v: unknown): v is ErrorCode {
  return typeof v === 'string' && (ERROR_CODES as readonly string[]).includes(v);
}

export class StasisError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StasisError';
    this.code = code;
  }
}

export function isStasisError(err: unknown): err is StasisError {
  return err instanceof StasisError;
}

/** The errno name of a Node system error (`ENOENT`), or undefined. */
export function errnoCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err as { code: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

// One error family for the whole project: a stable string `code` that the server maps to an HTTP
// status and the CLI to an exit code (see httpStatusFor / exitCodeFor), and a message for people.

export type ErrorCode =
  | 'invalid' // bad input: plan, request body, flag (HTTP 400, exit 2)
  | 'unauthenticated' // no or wrong credential (HTTP 401, exit 2)
  | 'forbidden' // credential valid but not allowed here (HTTP 403, exit 2)
  | 'not_found' // (HTTP 404, exit 2)
  | 'conflict' // not possible in the current state, e.g. approve with nothing to approve (HTTP 409, exit 1)
  | 'too_large' // request body over the limit (HTTP 413, exit 2)
  | 'unavailable' // a dependency is down: store, server unreachable (HTTP 503, exit 1)
  | 'failed'; // the operation ran and did not succeed (HTTP 500, exit 1)

/** A located problem in a user's file: line and column are 1-based. */
export interface SourceProblem {
  readonly line: number;
  readonly col: number;
  readonly message: string;
}

export class SluiceError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'SluiceError';
  }
}

export class ValidationError extends SluiceError {
  /** Every problem found, each with its place, when the input was a file. */
  readonly problems: readonly SourceProblem[];
  constructor(message: string, problems: readonly SourceProblem[] = []) {
    super('invalid', message);
    this.name = 'ValidationError';
    this.problems = problems;
  }
}

export class NotFoundError extends SluiceError {
  constructor(message: string) {
    super('not_found', message);
    this.name = 'NotFoundError';
  }
}

export class ConflictError extends SluiceError {
  constructor(message: string) {
    super('conflict', message);
    this.name = 'ConflictError';
  }
}

export class UnavailableError extends SluiceError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('unavailable', message, options);
    this.name = 'UnavailableError';
  }
}

const HTTP_STATUS: Record<ErrorCode, number> = {
  invalid: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  too_large: 413,
  unavailable: 503,
  failed: 500,
};

const EXIT_CODE: Record<ErrorCode, number> = {
  invalid: 2,
  unauthenticated: 2,
  forbidden: 2,
  not_found: 2,
  conflict: 1,
  too_large: 2,
  unavailable: 1,
  failed: 1,
};

export function httpStatusFor(code: ErrorCode): number {
  return HTTP_STATUS[code];
}

export function exitCodeFor(code: ErrorCode): number {
  return EXIT_CODE[code];
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && value in HTTP_STATUS;
}

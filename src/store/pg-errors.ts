// Which errors mean "the database cannot be reached right now" (as opposed to a bad query or bad
// input): the server answers those with 503 and Retry-After, and the caller retries.

/** Node socket errors and PostgreSQL's connection-level SQLSTATEs. */
const NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
/** 57P01-57P03: admin shutdown, crash shutdown, cannot connect now; 53300: too many connections; 3D000: the database is gone. */
const SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '3D000']);
/** What pg and pg-pool say, without a code, when a connection dies or cannot be had in time. */
const MESSAGES = [
  /connection terminated/i,
  /timeout exceeded when trying to connect/i,
  /connection error and is not queryable/i,
  /query read timeout/i,
  /cannot use a pool after calling end/i,
  /client was closed and is not queryable/i,
];

export function isDatabaseUnreachable(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e !== null && e !== undefined && depth < 4; depth++) {
    if (e instanceof AggregateError && e.errors.some((inner) => isDatabaseUnreachable(inner))) return true;
    if (typeof e === 'object') {
      const code = (e as { code?: unknown }).code;
      if (typeof code === 'string' && (NODE_CODES.has(code) || SQLSTATES.has(code) || code.startsWith('08'))) return true;
    }
    if (e instanceof Error) {
      const message = e.message;
      if (MESSAGES.some((m) => m.test(message))) return true;
      e = e.cause;
    } else {
      e = undefined;
    }
  }
  return false;
}

import { describe, expect, it } from 'vitest';
import { isDatabaseUnreachable } from './pg-errors.ts';

const coded = (code: string, message = 'x') => Object.assign(new Error(message), { code });

describe('isDatabaseUnreachable', () => {
  it('recognises sockets that fail, connections that die and a server that refuses connections', () => {
    expect(isDatabaseUnreachable(coded('ECONNREFUSED'))).toBe(true);
    expect(isDatabaseUnreachable(new AggregateError([coded('ECONNREFUSED')]))).toBe(true);
    expect(isDatabaseUnreachable(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isDatabaseUnreachable(new Error('timeout exceeded when trying to connect'))).toBe(true);
    expect(isDatabaseUnreachable(coded('57P01', 'terminating connection due to administrator command'))).toBe(true);
    expect(isDatabaseUnreachable(coded('08006'))).toBe(true);
    expect(isDatabaseUnreachable(new Error('wrapped', { cause: coded('ECONNRESET') }))).toBe(true);
  });

  it('leaves bad queries and bad input alone', () => {
    expect(isDatabaseUnreachable(coded('23505', 'duplicate key'))).toBe(false);
    expect(isDatabaseUnreachable(coded('22P02', 'invalid input syntax'))).toBe(false);
    expect(isDatabaseUnreachable(new Error('boom'))).toBe(false);
    expect(isDatabaseUnreachable(null)).toBe(false);
  });
});

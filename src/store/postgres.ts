// PostgreSQL driver for the `Sql` port (`--database-url`): a pg.Pool; each transaction runs on
// one pooled client. int8 comes back from pg as a string; this pool parses it to a number, since
// every bigint in the schema is a millisecond timestamp, a count or an event seq (all < 2^53).
import pg from 'pg';
import { UnavailableError, ValidationError } from '../core/errors.ts';
import type { Sql, SqlTx } from './store.ts';

const INT8_OID = 20;

/** Connects a pool to `url` and checks it answers; UnavailableError (URL without password) if not. */
export async function createPostgresSql(url: string): Promise<Sql> {
  const shown = redactUrl(url);
  const pool = new pg.Pool({
    connectionString: url,
    max: 10,
    connectionTimeoutMillis: 5000,
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === INT8_OID && format !== 'binary'
          ? (value: string) => Number(value)
          : pg.types.getTypeParser(oid, format ?? 'text')) as typeof pg.types.getTypeParser,
    },
  });
  // An idle client losing its connection must not crash the process: the next query reports it.
  pool.on('error', () => {});
  try {
    await pool.query('select 1');
  } catch (err) {
    await pool.end().catch(() => {});
    throw new UnavailableError(`cannot reach PostgreSQL at ${shown}: ${describe(err)}`, { cause: err });
  }
  return {
    async query<T>(text: string, params: readonly unknown[] = []): Promise<T[]> {
      const result = await pool.query(text, [...params]);
      return result.rows as T[];
    },
    async transaction<T>(fn: (tx: SqlTx) => Promise<T>): Promise<T> {
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        await client.query('begin');
        const result = await fn({
          async query<R>(text: string, params: readonly unknown[] = []): Promise<R[]> {
            const r = await client.query(text, [...params]);
            return r.rows as R[];
          },
        });
        await client.query('commit');
        return result;
      } catch (err) {
        try {
          await client.query('rollback');
        } catch (rollbackErr) {
          // the connection is in an unknown state: destroy it rather than return it to the pool
          broken = rollbackErr instanceof Error ? rollbackErr : new Error(String(rollbackErr));
        }
        throw err;
      } finally {
        client.release(broken);
      }
    },
    async close(): Promise<void> {
      await pool.end();
    },
  };
}

/** The URL with its password replaced by `***`, for messages and logs. */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ValidationError(`--database-url is not a URL (expected postgres://USER[:PASSWORD]@HOST[:PORT]/DB)`);
  }
  if (parsed.password !== '') parsed.password = '***';
  return parsed.toString();
}

function describe(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) return describe(err.errors[0]);
  return err instanceof Error && err.message !== '' ? err.message : String(err);
}

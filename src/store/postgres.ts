// PostgreSQL driver for the `Sql` port (`--database-url`): a pg.Pool; each transaction runs on
// one pooled client. int8 comes back from pg as a string; this pool parses it to a number, since
// every bigint in the schema is a millisecond timestamp, a count or an event seq (all < 2^53).
import pg from 'pg';
import { UnavailableError, ValidationError } from '../core/errors.ts';
import type { Sql, SqlTx } from './store.ts';

const INT8_OID = 20;

export interface PostgresPoolOptions {
  /** Default 10. */
  readonly max?: number;
  /** Shown in pg_stat_activity (replicas name their connections after themselves). */
  readonly applicationName?: string;
  /** Client-side limit on one query (a lease renewal must not hang on a dead network). */
  readonly queryTimeoutMs?: number;
  /** Default 5000. */
  readonly connectTimeoutMs?: number;
}

/** Connects a pool to `url` and checks it answers; UnavailableError (URL without password) if not. */
export async function createPostgresSql(url: string, options: PostgresPoolOptions = {}): Promise<Sql> {
  const shown = redactUrl(url);
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 10,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
    ...(options.applicationName !== undefined ? { application_name: options.applicationName } : {}),
    ...(options.queryTimeoutMs !== undefined ? { query_timeout: options.queryTimeoutMs } : {}),
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
  try {
    schemaCheck(shown, await pool.query(SCHEMA_QUERY).then((r) => r.rows[0]));
  } catch (err) {
    await pool.end().catch(() => {});
    throw err;
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

const SCHEMA_QUERY = "select current_schema() as schema, current_setting('search_path') as search_path";

/**
 * A search_path (e.g. `?options=-c search_path=sluice`) whose schemas do not exist leaves no
 * current schema: migrations would have nowhere to create tables, and the server lock (keyed by
 * schema) could not be taken and would blame "another server". Say what is wrong instead.
 */
function schemaCheck(shown: string, row: { schema?: unknown; search_path?: unknown } | undefined): void {
  if (row && typeof row.schema === 'string' && row.schema !== '') return;
  const path = typeof row?.search_path === 'string' ? row.search_path : '';
  const names = path
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '' && s !== '"$user"' && s !== '$user');
  const named = names.length === 0 ? 'search_path is empty' : names.length === 1 ? `schema ${quoteIdent(names[0]!)} does not exist` : `none of the schemas ${names.map(quoteIdent).join(', ')} exists`;
  throw new ValidationError(
    `PostgreSQL at ${shown}: ${named} (search_path: ${path || '(empty)'}), so Sluice has nowhere to keep its tables; ` +
      `create it (CREATE SCHEMA ${names[0] ? quoteIdent(names[0]) : 'sluice'}) or fix search_path in --database-url`,
  );
}

function quoteIdent(name: string): string {
  return `"${name.replace(/^"|"$/g, '').replace(/"/g, '""')}"`;
}

/** Refuses (ValidationError, exit 2) a database URL whose search_path names no existing schema. Run before taking the server lock. */
export async function assertPostgresSchema(url: string): Promise<void> {
  const shown = redactUrl(url);
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => {});
    throw new UnavailableError(`cannot reach PostgreSQL at ${shown}: ${describe(err)}`, { cause: err });
  }
  try {
    schemaCheck(shown, (await client.query(SCHEMA_QUERY)).rows[0]);
  } finally {
    await client.end().catch(() => {});
  }
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

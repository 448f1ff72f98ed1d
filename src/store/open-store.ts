// Opens the store the server was configured with: PostgreSQL when a database URL is given,
// otherwise PGlite in `<dataDir>/pgdata` (or in memory for tests), migrated and ready.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { SluiceError, UnavailableError } from '../core/errors.ts';
import { createPgliteSql } from './pglite.ts';
import { createPostgresSql, type PostgresPoolOptions } from './postgres.ts';
import { createSqlStore } from './sql-store.ts';
import type { Sql, Store } from './store.ts';

export interface OpenStoreOptions {
  /** Default `./.sluice`; PGlite keeps its files in `<dataDir>/pgdata`. */
  readonly dataDir?: string;
  /** `postgres://...`: use PostgreSQL instead of PGlite. */
  readonly databaseUrl?: string;
  /** PGlite in memory: nothing persists (tests). */
  readonly memory?: boolean;
  /** PostgreSQL pool settings (application name, size). */
  readonly postgres?: PostgresPoolOptions;
}

export const DEFAULT_DATA_DIR = './.sluice';

export async function openStore(opts: OpenStoreOptions = {}): Promise<Store> {
  let sql: Sql;
  let kind: Store['kind'];
  if (opts.databaseUrl !== undefined && opts.databaseUrl !== '') {
    sql = await createPostgresSql(opts.databaseUrl, opts.postgres);
    kind = 'postgres';
  } else if (opts.memory === true) {
    sql = await createPgliteSql(null);
    kind = 'pglite';
  } else {
    const dataDir = opts.dataDir ?? DEFAULT_DATA_DIR;
    try {
      mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw new UnavailableError(`cannot create the data directory ${dataDir}: ${describe(err)}`, { cause: err });
    }
    sql = await createPgliteSql(join(dataDir, 'pgdata'));
    kind = 'pglite';
  }
  const store = createSqlStore(sql, kind);
  try {
    await store.migrate();
  } catch (err) {
    await store.close().catch(() => {});
    if (err instanceof SluiceError) throw err;
    throw new UnavailableError(`cannot migrate the ${kind} store: ${describe(err)}`, { cause: err });
  }
  return store;
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

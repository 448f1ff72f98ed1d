// PostgreSQL for tests: a fresh schema per call on the server at SLUICE_TEST_DATABASE_URL (default
// postgres://postgres@127.0.0.1:5432/test), selected through the URL's search_path option, so
// suites never see each other's rows. Without a reachable server the suite skips, except in CI.
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const DEFAULT_TEST_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test';

export interface PostgresTestDatabase {
  /** Connects to the fresh schema (search_path set through the `options` parameter). */
  readonly url: string;
  readonly schema: string;
  /** Drops the schema and everything in it. Close your pools first. */
  cleanup(): Promise<void>;
}

const created: PostgresTestDatabase[] = [];

/**
 * A URL selecting a fresh schema, or null (with a visible message) when PostgreSQL is not
 * reachable. With CI=true an unreachable PostgreSQL throws: a missing database must fail CI.
 * Drop the schemas with `cleanupPostgresTestSchemas()` (e.g. in afterAll).
 */
export async function postgresTestUrl(): Promise<string | null> {
  const db = await postgresTestDatabase();
  return db?.url ?? null;
}

/** Like postgresTestUrl, with the schema name and its own cleanup. */
export async function postgresTestDatabase(): Promise<PostgresTestDatabase | null> {
  const baseUrl = process.env.SLUICE_TEST_DATABASE_URL ?? DEFAULT_TEST_DATABASE_URL;
  const schema = `sluice_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: baseUrl, connectionTimeoutMillis: 3000 });
  try {
    await admin.connect();
  } catch (err) {
    await admin.end().catch(() => {});
    const message = `PostgreSQL is not reachable at ${redact(baseUrl)} (${err instanceof Error ? err.message : String(err)})`;
    if (process.env.CI === 'true') throw new Error(`${message}; CI needs it (set SLUICE_TEST_DATABASE_URL)`);
    console.warn(`${message}: skipping PostgreSQL tests. Start it or set SLUICE_TEST_DATABASE_URL.`);
    return null;
  }
  try {
    await admin.query(`create schema ${schema}`);
  } finally {
    await admin.end();
  }
  const url = withSearchPath(baseUrl, schema);
  const db: PostgresTestDatabase = {
    url,
    schema,
    async cleanup() {
      const index = created.indexOf(db);
      if (index >= 0) created.splice(index, 1);
      const client = new pg.Client({ connectionString: baseUrl, connectionTimeoutMillis: 3000 });
      await client.connect();
      try {
        await client.query(`drop schema if exists ${schema} cascade`);
      } finally {
        await client.end();
      }
    },
  };
  created.push(db);
  return db;
}

/** Drops every schema this process created and has not cleaned up yet. */
export async function cleanupPostgresTestSchemas(): Promise<void> {
  for (const db of [...created]) await db.cleanup();
}

function withSearchPath(baseUrl: string, schema: string): string {
  const url = new URL(baseUrl);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return url.toString();
}

function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparsable URL)';
  }
}

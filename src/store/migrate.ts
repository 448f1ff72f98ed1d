// Schema migrations, safe when several processes start at once (graphile-worker's approach):
// each migration runs in its own transaction that first inserts its name into
// sluice_migrations. A concurrent process blocks on that key until the first commits, then gets
// a unique violation, which means "already applied": it rolls back and moves on.
import { readdirSync, readFileSync } from 'node:fs';
import type { Sql } from './store.ts';

const MIGRATIONS_DIR = new URL('./migrations/', import.meta.url);
const UNIQUE_VIOLATION = '23505';
const DUPLICATE_TABLE = '42P07';
/** The table's row type already exists: the other side of the same race, seen in pg_type. */
const DUPLICATE_OBJECT = '42710';

export interface Migration {
  readonly name: string;
  readonly statements: readonly string[];
}

/** Migration files in order (`NNNN-name.sql`), each split into statements. */
export function loadMigrations(): Migration[] {
  return readdirSync(MIGRATIONS_DIR)
    .filter((file) => /^\d{4}-[a-z0-9-]+\.sql$/.test(file))
    .sort()
    .map((file) => ({
      name: file.replace(/\.sql$/, ''),
      statements: splitStatements(readFileSync(new URL(file, MIGRATIONS_DIR), 'utf8')),
    }));
}

/**
 * PGlite's query() takes one statement, so files are split at a ';' that ends a line. Migration
 * files must not use dollar-quoted bodies with such lines.
 */
export function splitStatements(text: string): string[] {
  const withoutComments = text
    .split('\n')
    .map((line) => line.replace(/--.*$/, ''))
    .join('\n');
  return withoutComments
    .split(/;[ \t]*(?:\n|$)/)
    .map((statement) => statement.trim())
    .filter((statement) => statement !== '');
}

/** Applies every migration not applied yet. Returns the names it applied (others did the rest). */
export async function migrate(sql: Sql, now: () => number = Date.now): Promise<string[]> {
  await createMigrationsTable(sql);
  const applied: string[] = [];
  for (const migration of loadMigrations()) {
    const ran = await sql
      .transaction(async (tx) => {
        // First, so a concurrent migrator waits here on the same key instead of running the SQL too.
        await tx.query('insert into sluice_migrations (name, applied_at) values ($1, $2)', [migration.name, now()]);
        for (const statement of migration.statements) await tx.query(statement);
        return true;
      })
      .catch((err: unknown) => {
        if (pgCode(err) === UNIQUE_VIOLATION) return false;
        throw err;
      });
    if (ran) applied.push(migration.name);
  }
  return applied;
}

async function createMigrationsTable(sql: Sql): Promise<void> {
  // Two processes racing on `create table if not exists` can both pass the existence check; the
  // loser gets a duplicate error from the catalog (pg_class or pg_type, depending on timing).
  // Retrying then finds the table.
  for (let attempt = 1; ; attempt++) {
    try {
      await sql.query('create table if not exists sluice_migrations (name text primary key, applied_at bigint not null)');
      return;
    } catch (err) {
      const code = pgCode(err);
      if (attempt >= 5 || (code !== UNIQUE_VIOLATION && code !== DUPLICATE_TABLE && code !== DUPLICATE_OBJECT)) throw err;
    }
  }
}

export function pgCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

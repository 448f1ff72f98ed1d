// One server drives the rollouts of a PostgreSQL database: two drivers on the same rows would
// hand out the same work twice. A session-level advisory lock, held on its own connection for
// the life of the server, makes a second server refuse to start instead of silently racing.
import pg from 'pg';
import { UnavailableError } from '../core/errors.ts';
import { redactUrl } from './postgres.ts';

const LOCK_CLASS = 0x51c3; // "sluice"

export interface ServerLock {
  release(): Promise<void>;
}

export async function acquirePostgresServerLock(url: string): Promise<ServerLock> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (err) {
    throw new UnavailableError(`cannot reach PostgreSQL at ${redactUrl(url)}: ${err instanceof Error ? err.message : String(err)}`);
  }
  // Keyed by schema as well, so separate Sluice schemas in one database do not exclude each other.
  const { rows } = await client.query<{ locked: boolean }>('select pg_try_advisory_lock($1, hashtext(current_schema())) as locked', [LOCK_CLASS]);
  if (!rows[0]?.locked) {
    await client.end().catch(() => {});
    throw new UnavailableError(
      `another sluice server is already driving rollouts on ${redactUrl(url)}; run one server per database`,
    );
  }
  return {
    async release() {
      await client.query('select pg_advisory_unlock($1, hashtext(current_schema()))', [LOCK_CLASS]).catch(() => {});
      await client.end().catch(() => {});
    },
  };
}

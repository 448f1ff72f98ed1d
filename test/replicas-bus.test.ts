// The replicas' LISTEN/NOTIFY bus on the local PostgreSQL: a wake-up for a large wave arrives
// whole (in several notifications, each under PostgreSQL's 8000-byte limit), a replica does not
// hear itself, and host sightings go through.
import { afterAll, describe, expect, it } from 'vitest';
import { ClusterBus, type BusMessage } from '../src/server/leader/bus.ts';
import { createPostgresSql } from '../src/store/postgres.ts';
import { silentLogger } from '../src/server/logger.ts';
import { waitFor } from './helpers/processes.ts';
import { postgresTestDatabase, type PostgresTestDatabase } from './helpers/postgres.ts';

const db: PostgresTestDatabase | null = await postgresTestDatabase();
const closers: (() => Promise<void>)[] = [];

afterAll(async () => {
  for (const close of closers.reverse()) await close();
  await db?.cleanup();
});

async function bus(origin: string, received: BusMessage[]): Promise<ClusterBus> {
  const sql = await createPostgresSql(db!.url, { max: 2 });
  const b = new ClusterBus({ url: db!.url, sql, origin, applicationName: `bus-test ${origin}`, log: silentLogger(), onMessage: (m) => received.push(m) });
  await b.start();
  closers.push(async () => {
    await b.stop();
    await sql.close();
  });
  return b;
}

describe.skipIf(db === null)('replica bus (LISTEN/NOTIFY)', () => {
  it('delivers a 5,000-host wake-up whole to the other replica, not to the sender; and host sightings', async () => {
    const atA: BusMessage[] = [];
    const atB: BusMessage[] = [];
    const a = await bus('replica-a', atA);
    await bus('replica-b', atB);
    const hosts = Array.from({ length: 5000 }, (_, i) => `host-${String(i).padStart(5, '0')}.example.internal`);
    a.publish({ type: 'assign', hosts });
    a.publish({ type: 'host', name: 'new-host' });
    const woken = () => new Set(atB.flatMap((m) => (m.type === 'assign' && m.hosts ? m.hosts : [])));
    await waitFor('every host to be announced', () => woken().size === hosts.length && atB.some((m) => m.type === 'host'), 10_000, 20);
    expect(atB.filter((m) => m.type === 'assign').length).toBeGreaterThan(1);
    expect(atB.some((m) => m.type === 'assign' && m.hosts === null)).toBe(false);
    expect(atB.find((m) => m.type === 'host')).toEqual({ type: 'host', name: 'new-host' });
    await new Promise((r) => setTimeout(r, 200));
    expect(atA).toEqual([]);
  });
});

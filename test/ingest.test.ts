// Ingest at fleet scale (issue 8): heartbeats write nothing each (last_seen is flushed in batches,
// facts only when they change), what the API says of a host is the in-memory value, the last
// heartbeats survive a clean stop, and a re-enrolled host's old credential stops working at once.
import { afterAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startServer, type RunningServer } from '../src/server/start-server.ts';
import { silentLogger } from '../src/server/logger.ts';
import { postgresTestDatabase } from './helpers/postgres.ts';
import { openStore } from '../src/store/open-store.ts';

const ADMIN = 'sla_ingest_admin_0123456789';
const ENROLL = 'sle_ingest_enroll_0123456789';
const db = await postgresTestDatabase();

afterAll(async () => {
  await db?.cleanup();
});

async function call(server: RunningServer, method: string, path: string, token: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(server.url + path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, json: await res.json() };
}

async function rowOf(name: string): Promise<{ last_seen: number; facts: any; labels: any }> {
  const client = new pg.Client({ connectionString: db!.url });
  await client.connect();
  try {
    const { rows } = await client.query('select last_seen::float8 as last_seen, facts, labels from hosts where name = $1', [name]);
    return rows[0];
  } finally {
    await client.end();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(db === null)('heartbeat ingest on PostgreSQL', () => {
  it('heartbeats move last_seen only at a flush; the API sees the in-memory value; a clean stop writes it', async () => {
    // A flush interval far longer than the test: only the stop writes.
    const server = await startServer({ listen: '127.0.0.1:0', databaseUrl: db!.url, log: silentLogger(), adminToken: ADMIN, enrollToken: ENROLL, flushMs: 600_000 });
    let closed = false;
    try {
      const enrolled = await call(server, 'POST', '/v1/agent/enroll', ENROLL, { name: 'ing-1', labels: { role: 'web' }, facts: { kernel: '6.8', allow: [] } });
      expect(enrolled.status).toBe(200);
      const credential = enrolled.json.credential as string;
      const enrolledAt = (await rowOf('ing-1')).last_seen;
      await sleep(20);
      for (let i = 0; i < 5; i++) {
        const hb = await call(server, 'POST', '/v1/agent/heartbeat', credential, { labels: { role: 'web' }, facts: { allow: [], kernel: '6.8' } });
        expect(hb.status).toBe(200);
        expect(hb.json.heartbeatMs).toBe(5000);
        await sleep(5);
      }
      // Nothing written per heartbeat: not last_seen, not the (unchanged, reordered) facts.
      expect((await rowOf('ing-1')).last_seen).toBe(enrolledAt);
      expect(server.liveness.stats.detailWrites).toBe(0);
      expect(server.liveness.stats.flushes).toBe(0);
      // What operators see is the heartbeat, not the row.
      const hosts = (await call(server, 'GET', '/v1/hosts', ADMIN)).json.hosts as any[];
      const shown = hosts.find((h) => h.name === 'ing-1');
      expect(shown.lastSeen).toBeGreaterThan(enrolledAt);
      expect(shown.status).toBe('online');
      const memory = shown.lastSeen as number;

      // Facts that change are written at once, and only once.
      await call(server, 'POST', '/v1/agent/heartbeat', credential, { labels: { role: 'web' }, facts: { kernel: '6.9', allow: [] } });
      expect((await rowOf('ing-1')).facts).toEqual({ kernel: '6.9', allow: [] });
      expect(server.liveness.stats.detailWrites).toBe(1);
      await call(server, 'POST', '/v1/agent/heartbeat', credential, { labels: { role: 'web' }, facts: { kernel: '6.9', allow: [] } });
      expect(server.liveness.stats.detailWrites).toBe(1);
      // So are labels, and the host is seen with them.
      await call(server, 'POST', '/v1/agent/heartbeat', credential, { labels: { role: 'db' } });
      expect((await rowOf('ing-1')).labels).toEqual({ role: 'db' });
      expect(server.liveness.stats.detailWrites).toBe(2);

      const latest = (await call(server, 'GET', '/v1/hosts', ADMIN)).json.hosts.find((h: any) => h.name === 'ing-1').lastSeen as number;
      expect(latest).toBeGreaterThanOrEqual(memory);
      await server.close();
      closed = true;
      // The clean stop flushed what was pending: the row has the last heartbeat.
      expect((await rowOf('ing-1')).last_seen).toBe(latest);
    } finally {
      if (!closed) await server.close();
    }
  });

  it('a flush writes every pending host in one statement, about once a second', async () => {
    const server = await startServer({ listen: '127.0.0.1:0', databaseUrl: db!.url, log: silentLogger(), adminToken: ADMIN, enrollToken: ENROLL, flushMs: 200 });
    try {
      const creds: string[] = [];
      for (let i = 0; i < 20; i++) {
        const e = await call(server, 'POST', '/v1/agent/enroll', ENROLL, { name: `flush-${i}`, labels: {}, facts: {} });
        creds.push(e.json.credential);
      }
      await sleep(300); // let the enroll-time flushes pass
      const before = server.liveness.stats.flushes;
      const startedAt = Date.now();
      await Promise.all(creds.map((c) => call(server, 'POST', '/v1/agent/heartbeat', c, { labels: {} })));
      await sleep(500);
      const flushes = server.liveness.stats.flushes - before;
      // 20 heartbeats, at most a few flush statements (one per 200 ms that had something pending).
      expect(flushes).toBeGreaterThanOrEqual(1);
      expect(flushes).toBeLessThanOrEqual(Math.ceil((Date.now() - startedAt) / 200) + 1);
      for (let i = 0; i < 20; i++) expect((await rowOf(`flush-${i}`)).last_seen).toBeGreaterThanOrEqual(startedAt);
    } finally {
      await server.close();
    }
  });

  it('a re-enrolled host: the old credential is refused at once, although it was cached', async () => {
    const server = await startServer({ listen: '127.0.0.1:0', databaseUrl: db!.url, log: silentLogger(), adminToken: ADMIN, enrollToken: ENROLL });
    try {
      const first = (await call(server, 'POST', '/v1/agent/enroll', ENROLL, { name: 'reenroll', labels: {} })).json.credential;
      expect((await call(server, 'POST', '/v1/agent/heartbeat', first, { labels: {} })).status).toBe(200);
      expect((await call(server, 'POST', '/v1/agent/heartbeat', first, { labels: {} })).status).toBe(200);
      expect(server.liveness.stats.authHits).toBeGreaterThanOrEqual(1);
      // Re-enrolling a name takes its current credential (docs/host-identity.md).
      expect((await call(server, 'POST', '/v1/agent/enroll', ENROLL, { name: 'reenroll', labels: {} })).status).toBe(409);
      const second = (await call(server, 'POST', '/v1/agent/enroll', ENROLL, { name: 'reenroll', labels: {}, currentCredential: first })).json.credential;
      const old = await call(server, 'POST', '/v1/agent/heartbeat', first, { labels: {} });
      expect(old.status).toBe(401);
      expect((await call(server, 'POST', '/v1/agent/heartbeat', second, { labels: {} })).status).toBe(200);
      // A host credential on an operator route is still recognised (and refused with 403).
      expect((await call(server, 'GET', '/v1/hosts', second)).status).toBe(403);
    } finally {
      await server.close();
    }
  });
});

describe('batched reads (PGlite)', () => {
  it('hosts by many credential hashes, and assignments of many hosts, in one statement each', async () => {
    const store = await openStore({ memory: true });
    try {
      for (const n of ['b1', 'b2', 'b3']) await store.enrollHost({ name: n, labels: {}, facts: {}, credentialHash: `hash-${n}`, now: 1 });
      const found = await store.hostsByCredentialHashes(['hash-b1', 'hash-b3', 'nope']);
      expect([...found.keys()].sort()).toEqual(['hash-b1', 'hash-b3']);
      expect(found.get('hash-b3')?.name).toBe('b3');
      expect((await store.hostsByCredentialHashes([])).size).toBe(0);
      // No rollout: nobody has work; the single-host read agrees.
      expect((await store.assignmentsForHosts(['b1', 'b2'])).size).toBe(0);
      expect(await store.assignmentsForHost('b1')).toEqual([]);
      expect(await store.recordLastSeen(['b2', 'b1', 'ghost'], [50, 40, 60])).toBe(2);
      expect(await store.recordLastSeen(['b2'], [10])).toBe(0); // never backwards
      const hosts = await store.listHosts();
      expect(hosts.map((h) => [h.name, h.lastSeen])).toEqual([['b1', 40], ['b2', 50], ['b3', 1]]);
    } finally {
      await store.close();
    }
  });
});

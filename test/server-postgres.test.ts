// The server on PostgreSQL (--database-url): a rollout runs through the API, and a second server
// on the same database joins as a follower (one leader drives rollouts; see test/replicas.test.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../src/server/start-server.ts';
import { silentLogger } from '../src/server/logger.ts';
import { postgresTestDatabase, type PostgresTestDatabase } from './helpers/postgres.ts';

// Null when PostgreSQL is unreachable outside CI (the helper throws under CI=true).
const db: PostgresTestDatabase | null = await postgresTestDatabase();
let server: RunningServer | null = null;

beforeAll(async () => {
  if (db) server = await startServer({ listen: '127.0.0.1:0', databaseUrl: db.url, log: silentLogger(), tickMs: 50, adminToken: 'sla_pg_admin_0123456789', enrollToken: 'sle_pg_enroll_0123456789' });
});

afterAll(async () => {
  await server?.close();
  await db?.cleanup();
});

async function post(path: string, token: string, body: unknown): Promise<any> {
  const res = await fetch(server!.url + path, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}

describe.skipIf(db === null)('server on PostgreSQL', () => {
  it('runs a rollout to completion', async () => {
    const enrolled = await post('/v1/agent/enroll', 'sle_pg_enroll_0123456789', { name: 'pg-host', labels: { env: 'pg' }, facts: { allow: ['command'] } });
    expect(enrolled.status).toBe(200);
    const credential = enrolled.json.credential;
    const plan = 'name: pg-plan\nchange:\n  command: { apply: ["true"] }\nwaves:\n  - { name: all }\nconfirmWindow: 0s\n';
    const started = await post('/v1/rollouts', 'sla_pg_admin_0123456789', { plan });
    expect(started.status).toBe(201);
    const id = started.json.id;
    const r = await post('/v1/agent/reports', credential, { reports: [{ id: 'pg-apply-0001', rolloutId: id, attempt: 1, kind: 'apply', ok: true }] });
    expect(r.json.accepted).toEqual(['pg-apply-0001']);
    let state = '';
    for (let i = 0; i < 100 && state !== 'completed'; i++) {
      const res = await fetch(`${server!.url}/v1/rollouts/${id}`, { headers: { authorization: 'Bearer sla_pg_admin_0123456789' } });
      state = (await res.json()).state;
      if (state !== 'completed') await new Promise((res) => setTimeout(res, 50));
    }
    expect(state).toBe('completed');
  });

  it('a second server on the same database follows the first, which stays the leader', async () => {
    const second = await startServer({ listen: '127.0.0.1:0', databaseUrl: db!.url, log: silentLogger(), adminToken: 'sla_pg_admin_0123456789', enrollToken: 'sle_pg_enroll_0123456789' });
    try {
      const health = async (url: string) => (await fetch(`${url}/v1/health`, { headers: { authorization: 'Bearer sla_pg_admin_0123456789' } })).json();
      expect((await health(server!.url)).role).toBe('leader');
      const follower = await health(second.url);
      expect(follower.role).toBe('follower');
      expect(follower.leader.url).toBe(server!.url);
    } finally {
      await second.close();
    }
  });
});

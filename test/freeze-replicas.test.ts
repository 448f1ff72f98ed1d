// The fleet freeze on PostgreSQL replicas: started through a follower, it is seen by every replica
// (starts refused on the leader and on followers), the leader's rollout stops at its next wave
// boundary within a tick, and ended through another follower, the rollout goes on.
import { afterEach, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, ENROLL_TOKEN, api, tempDir, waitFor, type ServerProc } from './helpers/processes.ts';
import { postgresTestDatabase, type PostgresTestDatabase } from './helpers/postgres.ts';
import { startReplicaProc, waitOneLeader } from './helpers/replicas.ts';

const probe: PostgresTestDatabase | null = await postgresTestDatabase();
await probe?.cleanup();

let db: PostgresTestDatabase | null = null;
let dir: ReturnType<typeof tempDir> | null = null;
const replicas: ServerProc[] = [];

afterEach(async () => {
  await Promise.all(replicas.splice(0).map((r) => r.kill()));
  await db?.cleanup();
  dir?.remove();
});

async function enroll(url: string, name: string, labels: Record<string, string>): Promise<string> {
  const res = await fetch(`${url}/v1/agent/enroll`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ENROLL_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name, labels, facts: { allow: ['command'] } }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { credential: string }).credential;
}

async function report(url: string, credential: string, rolloutId: string, id: string): Promise<void> {
  const res = await fetch(`${url}/v1/agent/reports`, {
    method: 'POST',
    headers: { authorization: `Bearer ${credential}`, 'content-type': 'application/json' },
    body: JSON.stringify({ reports: [{ id, rolloutId, attempt: 1, kind: 'apply', ok: true }] }),
  });
  expect(await res.json()).toEqual({ accepted: [id] });
}

async function startStatus(url: string, plan: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`${url}/v1/rollouts`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ plan }),
  });
  return { status: res.status, text: await res.text() };
}

const plan = (name: string, team: string, waves: string) =>
  `name: ${name}\nchange:\n  command: { apply: ["true"] }\nhosts: { match: { team: ${team} } }\nwaves:\n${waves}\nconfirmWindow: 0s\n`;

describe.skipIf(probe === null)('fleet freeze across replicas', () => {
  it('a freeze started on a follower stops the leader\'s rollout at its next wave boundary and refuses starts everywhere; ended elsewhere, the rollout goes on', async () => {
    db = (await postgresTestDatabase())!;
    dir = tempDir('freeze-replicas');
    const rs = await Promise.all(['a', 'b', 'c'].map((n) => startReplicaProc(dir!.path, n, db!.url)));
    replicas.push(...rs);
    const leader = await waitOneLeader(rs);
    const [f1, f2] = rs.filter((r) => r !== leader) as [ServerProc, ServerProc];

    const c1 = await enroll(f1.url, 'h1', { team: 'x', tier: 'one' });
    const c2 = await enroll(f2.url, 'h2', { team: 'x', tier: 'two' });
    await enroll(f1.url, 'h3', { team: 'y' });
    const { id } = await api(f1.url, 'POST', '/v1/rollouts', { plan: plan('two-waves', 'x', '  - { name: one, match: { tier: one } }\n  - { name: two, match: { tier: two } }') });
    await waitFor('wave one applying', async () => (await api(leader.url, 'GET', `/v1/rollouts/${id}`)).waves[0]?.state === 'applying', 20_000);

    const frozen = await api(f2.url, 'POST', '/v1/freeze', { reason: 'replica freeze' });
    expect(frozen.frozen).toBe(true);
    for (const r of rs) expect((await api(r.url, 'GET', '/v1/freeze')).freeze.reason).toBe('replica freeze');
    for (const r of rs) {
      const refused = await startStatus(r.url, plan(`refused-${r.port}`, 'y', '  - { name: all }'));
      expect(refused.status).toBe(409);
      expect(refused.text).toContain('the fleet is frozen (replica freeze) by admin');
    }

    // The leader reads the freeze every tick (1 s); then wave one finishes and wave two waits.
    await new Promise((r) => setTimeout(r, 1500));
    await report(f1.url, c1, id, 'rep-h1-1');
    const waiting = await waitFor('wave two waiting for the freeze', async () => {
      const v = await api(f2.url, 'GET', `/v1/rollouts/${id}`);
      return v.waves[0]?.state === 'completed' && v.waiting ? v : null;
    }, 20_000);
    expect(waiting.waiting).toBe('waiting: fleet frozen (replica freeze) by admin until `sluice freeze end`');
    expect(waiting.waves.map((w: any) => w.state)).toEqual(['completed', 'pending']);

    await api(f1.url, 'POST', '/v1/freeze/end', {});
    await waitFor('wave two applying', async () => (await api(leader.url, 'GET', `/v1/rollouts/${id}`)).waves[1]?.state === 'applying', 20_000);
    await report(f2.url, c2, id, 'rep-h2-1');
    const done = await waitFor('completed', async () => {
      const v = await api(leader.url, 'GET', `/v1/rollouts/${id}`);
      return v.state === 'completed' ? v : null;
    }, 20_000);
    expect(done.waiting).toBeNull();
    const audit = (await api(leader.url, 'GET', '/v1/audit?action=freeze.*')).entries as any[];
    expect(audit.filter((e) => e.result === 'ok').map((e) => e.action)).toEqual(['freeze.start', 'freeze.end']);
  }, 120_000);
});

// Replicas on PostgreSQL (issue 8), with real server and agent processes on the local PostgreSQL,
// each test in its own schema: exactly one leader among three; SIGKILL of the leader mid-rollout
// (agents behind a load balancer): another replica takes over, no host applied twice, no report
// lost, the bake not restarted; a leader paused past its lease is replaced and stops leading when
// it wakes; wake-ups reach agents long-polling on a follower, also after its
// LISTEN connection was killed; a replica cut off from PostgreSQL stops leading, says so, answers
// 503 with Retry-After and does not crash; a stale leader's write is refused (fenced).
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, ENROLL_TOKEN, api, startAgentProc, tempDir, waitFor, type Proc, type ServerProc } from './helpers/processes.ts';
import { postgresTestDatabase, type PostgresTestDatabase } from './helpers/postgres.ts';
import { health, startReplicaProc, waitOneLeader } from './helpers/replicas.ts';
import { startTcpBalancer, startTcpProxy, type TcpBalancer, type TcpProxy } from './helpers/tcp-proxy.ts';
import { startServer, type RunningServer } from '../src/server/start-server.ts';
import { silentLogger } from '../src/server/logger.ts';

const FINAL = ['completed', 'halted', 'rolled_back', 'aborted'];

// Null when PostgreSQL is unreachable outside CI (the helper throws under CI=true).
const probe: PostgresTestDatabase | null = await postgresTestDatabase();
await probe?.cleanup();

interface Cluster {
  db: PostgresTestDatabase;
  dir: ReturnType<typeof tempDir>;
  marks: string;
  replicas: ServerProc[];
  agents: Proc[];
  proxies: TcpProxy[];
  balancers: TcpBalancer[];
  inProcess: RunningServer[];
}

const clusters: Cluster[] = [];

async function cluster(): Promise<Cluster> {
  const db = (await postgresTestDatabase())!;
  const dir = tempDir('replicas');
  const marks = join(dir.path, 'marks');
  mkdirSync(marks, { recursive: true });
  const c: Cluster = { db, dir, marks, replicas: [], agents: [], proxies: [], balancers: [], inProcess: [] };
  clusters.push(c);
  return c;
}

async function replica(c: Cluster, url = c.db.url): Promise<ServerProc> {
  const r = await startReplicaProc(c.dir.path, `replica-${c.replicas.length + 1}`, url);
  c.replicas.push(r);
  return r;
}

function alive(c: Cluster): ServerProc[] {
  return c.replicas.filter((r) => r.child.exitCode === null && r.child.signalCode === null);
}

afterEach(async () => {
  for (const c of clusters.splice(0)) {
    await Promise.all(c.agents.map((a) => a.kill()));
    await Promise.all(c.replicas.map((r) => r.kill()));
    for (const s of c.inProcess) await s.close().catch(() => {});
    for (const b of c.balancers) await b.close();
    for (const p of c.proxies) await p.close();
    await c.db.cleanup();
    c.dir.remove();
  }
});

function lines(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
}

async function enroll(url: string, name: string, labels: Record<string, string> = {}): Promise<string> {
  const res = await fetch(`${url}/v1/agent/enroll`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ENROLL_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name, labels, facts: { allow: ['command'] } }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { credential: string }).credential;
}

const quickPlan = (name: string) => `name: ${name}\nchange:\n  command: { apply: ["true"] }\nwaves:\n  - { name: all }\nconfirmWindow: 0s\n`;

describe.skipIf(probe === null)('replicas on PostgreSQL', () => {
  it('elects exactly one leader among three; the others follow it and serve reads and forwarded commands', async () => {
    const c = await cluster();
    const rs = await Promise.all([replica(c), replica(c), replica(c)]);
    const leader = await waitOneLeader(rs);
    const followers = rs.filter((r) => r !== leader);
    // A rollout started through a follower is created by the leader, and every replica reads it.
    const credential = await enroll(followers[0]!.url, 'solo');
    const { id } = await api(followers[1]!.url, 'POST', '/v1/rollouts', { plan: quickPlan('via-follower') });
    const res = await fetch(`${followers[0]!.url}/v1/agent/reports`, {
      method: 'POST',
      headers: { authorization: `Bearer ${credential}`, 'content-type': 'application/json' },
      body: JSON.stringify({ reports: [{ id: 'rep-0001', rolloutId: id, attempt: 1, kind: 'apply', ok: true }] }),
    });
    expect(await res.json()).toEqual({ accepted: ['rep-0001'] });
    for (const r of rs) {
      const v = await waitFor('the rollout to complete', async () => {
        const x = await api(r.url, 'GET', `/v1/rollouts/${id}`);
        return x.state === 'completed' ? x : null;
      }, 20_000, 100);
      expect(v.state).toBe('completed');
    }
    // Still exactly one leader, and the lease term did not move.
    const again = await Promise.all(rs.map((r) => health(r.url)));
    expect(again.filter((h) => h.role === 'leader')).toHaveLength(1);
    expect(new Set(again.map((h) => h.leader?.term)).size).toBe(1);
    // A leader stopped cleanly ends its lease: one of the others takes over.
    await leader.kill('SIGTERM');
    const next = await waitOneLeader(followers, 20_000);
    expect((await health(next.url)).leader!.term).toBeGreaterThan(again[0]!.leader!.term);
  }, 120_000);

  it('SIGKILL of the leader during a bake and again during a wave: another takes over, no host applied twice, no report lost, the bake not restarted', async () => {
    const c = await cluster();
    const rs = await Promise.all([replica(c), replica(c), replica(c)]);
    await waitOneLeader(rs);
    const lb = await startTcpBalancer(() => alive(c).map((r) => r.port));
    c.balancers.push(lb);
    const hosts = [
      { name: 'h1', zone: 'a' },
      { name: 'h2', zone: 'a' },
      { name: 'h3', zone: 'b' },
      { name: 'h4', zone: 'b' },
    ];
    for (const h of hosts) c.agents.push(startAgentProc(lb.url, { name: h.name, labels: { zone: h.zone }, stateDir: join(c.dir.path, 'agents', h.name) }));
    await waitFor('agents online', async () => (await api(lb.url, 'GET', '/v1/hosts')).hosts.filter((h: any) => h.status === 'online').length === 4, 60_000, 200);

    const apply = `echo started >> ${c.marks}/$SLUICE_HOST.apply-started; sleep 3; echo "$SLUICE_ROLLOUT_ID" >> ${c.marks}/$SLUICE_HOST.apply`;
    const plan = `
name: failover
change:
  command:
    apply: ["sh", "-c", ${JSON.stringify(apply)}]
    rollback: ["true"]
    timeout: 30s
waves:
  - { name: canary, size: 1, bake: 8s }
  - { name: zones, each: zone, bake: 0s }
budget: { failedPerWave: 0, failedTotal: 0, silentAfter: 30s }
confirmWindow: 0s
`;
    const { id } = await api(lb.url, 'POST', '/v1/rollouts', { plan, file: 'failover.yaml' });
    const view = () => api(alive(c)[0]!.url, 'GET', `/v1/rollouts/${id}`);

    // 1. During the canary's bake.
    const baking = await waitFor('the canary to bake', async () => {
      const v = await view();
      return v.waves[0]?.state === 'baking' ? v.waves[0] : null;
    }, 60_000, 100);
    const first = await waitOneLeader(alive(c));
    const before = await health(first.url);
    await first.kill('SIGKILL');
    const killedAt = Date.now();
    const second = await waitOneLeader(alive(c), 30_000);
    const takeover1 = Date.now() - killedAt;
    const after = await health(second.url);
    expect(after.leader!.term).toBeGreaterThan(before.leader!.term);

    // 2. During the next wave, while its hosts are applying (their reports arrive leaderless).
    await waitFor('a zone wave to apply', async () => {
      const started = hosts.filter((h) => lines(join(c.marks, `${h.name}.apply-started`)).length > 0);
      return started.length >= 2;
    }, 60_000, 50);
    await second.kill('SIGKILL');
    const killed2At = Date.now();
    const third = await waitOneLeader(alive(c), 30_000);
    const takeover2 = Date.now() - killed2At;
    console.log(`takeover after SIGKILL: during the bake ${takeover1} ms, during the wave ${takeover2} ms`);

    const v = await waitFor('the rollout to finish', async () => {
      const x = await api(third.url, 'GET', `/v1/rollouts/${id}`);
      return FINAL.includes(x.state) ? x : null;
    }, 120_000, 250);
    expect(v.state).toBe('completed');
    expect(v.waves.map((w: any) => w.name)).toEqual(['canary', 'zones/a', 'zones/b']);
    // The bake kept its recorded start and the next wave did not wait for a bake restarted at takeover.
    expect(v.waves[0].bakeStartedAt).toBe(baking.bakeStartedAt);
    expect(v.waves[1].startedAt).toBeGreaterThanOrEqual(baking.bakeStartedAt + 8000);
    expect(v.waves[1].startedAt).toBeLessThan(killedAt + takeover1 + 8000);
    for (const h of hosts) {
      expect(lines(join(c.marks, `${h.name}.apply-started`)), h.name).toEqual(['started']);
      expect(lines(join(c.marks, `${h.name}.apply`)), h.name).toEqual([id]);
    }
    const { events } = await api(third.url, 'GET', `/v1/rollouts/${id}/events?limit=5000`);
    const applied = events.filter((e: any) => e.kind === 'report.apply').map((e: any) => e.host).sort();
    expect(applied).toEqual(['h1', 'h2', 'h3', 'h4']);
  }, 240_000);

  it('silence across replicas: a host heartbeating to a follower stays alive through a long apply; one that dies goes silent', async () => {
    const c = await cluster();
    const rs = await Promise.all([replica(c), replica(c)]);
    const leader = await waitOneLeader(rs);
    const follower = rs.find((r) => r !== leader)!;
    for (const name of ['slow', 'dies']) c.agents.push(startAgentProc(follower.url, { name, labels: { role: name }, stateDir: join(c.dir.path, 'agents', name) }));
    await waitFor('agents online', async () => (await api(follower.url, 'GET', '/v1/hosts')).hosts.filter((h: any) => h.status === 'online').length === 2, 60_000, 200);
    // Applies last longer than silentAfter: only heartbeats (all on the follower) keep a host alive.
    const apply = `echo started >> ${c.marks}/$SLUICE_HOST.started; if [ "$SLUICE_HOST" = dies ]; then sleep 60; else sleep 9; fi`;
    const plan = `
name: silence
change:
  command:
    apply: ["sh", "-c", ${JSON.stringify(apply)}]
    rollback: ["true"]
    timeout: 90s
waves:
  - { name: all }
budget: { failedPerWave: 1, failedTotal: 1, silentAfter: 4s }
confirmWindow: 0s
`;
    const { id } = await api(follower.url, 'POST', '/v1/rollouts', { plan });
    await waitFor('both applies to start', () => lines(join(c.marks, 'slow.started')).length > 0 && lines(join(c.marks, 'dies.started')).length > 0, 30_000, 50);
    await c.agents[1]!.kill('SIGKILL');
    const v = await waitFor('the rollout to finish', async () => {
      const x = await api(leader.url, 'GET', `/v1/rollouts/${id}`);
      return FINAL.includes(x.state) ? x : null;
    }, 90_000, 250);
    const steps = Object.fromEntries(v.waves[0].hosts.map((h: any) => [h.name, h.state]));
    expect(steps).toEqual({ dies: 'silent', slow: 'healthy' });
    expect(v.state).toBe('completed');
  }, 150_000);

  it('an agent long-polling on a follower gets its assignment as soon as the leader assigns it, also after its LISTEN connection was killed', async () => {
    const c = await cluster();
    const rs = await Promise.all([replica(c), replica(c)]);
    const leader = await waitOneLeader(rs);
    const follower = rs.find((r) => r !== leader)!;
    const credential = await enroll(follower.url, 'poller');
    const poll = async (version: string | null) => {
      const q = new URLSearchParams({ waitMs: '25000', ...(version ? { version } : {}) });
      const started = Date.now();
      const res = await fetch(`${follower.url}/v1/agent/assignments?${q}`, { headers: { authorization: `Bearer ${credential}` } });
      const body = (await res.json()) as { version: string; assignments: { rolloutId: string }[] };
      return { ...body, ms: Date.now() - started };
    };
    const waitsOnFollower = async (name: string) => {
      const idle = await poll(null);
      expect(idle.assignments).toEqual([]);
      const held = poll(idle.version);
      await new Promise((r) => setTimeout(r, 300)); // the poll is held on the follower now
      const { id } = await api(leader.url, 'POST', '/v1/rollouts', { plan: quickPlan(name) });
      const woke = await held;
      // Woken by the leader's NOTIFY, not by the end of the 25 s wait.
      expect(woke.assignments.map((a) => a.rolloutId)).toEqual([id]);
      expect(woke.ms).toBeLessThan(15_000);
      await api(leader.url, 'POST', `/v1/rollouts/${id}/abort`);
    };
    await waitsOnFollower('wake-1');

    // Kill the follower's connections to PostgreSQL (its LISTEN among them): it listens again.
    const admin = new pg.Client({ connectionString: c.db.url });
    await admin.connect();
    try {
      const replicaId = (await health(follower.url)).replica;
      const killed = await admin.query(`select pg_terminate_backend(pid) from pg_stat_activity where application_name = $1`, [`sluice ${replicaId}`.slice(0, 63)]);
      expect(killed.rowCount).toBeGreaterThan(0);
      await waitFor('the follower to listen again', async () => {
        const r = await admin.query(`select 1 from pg_stat_activity where application_name = $1 and query ilike 'listen%'`, [`sluice ${replicaId}`.slice(0, 63)]);
        return (r.rowCount ?? 0) > 0;
      }, 20_000, 100);
    } finally {
      await admin.end();
    }
    await waitsOnFollower('wake-2');
  }, 120_000);

  it('a replica cut off from PostgreSQL stops leading and says so, answers 503 with Retry-After, does not crash, and follows once the network is back', async () => {
    const c = await cluster();
    const proxy = await startTcpProxy('127.0.0.1', Number(new URL(c.db.url).port || 5432));
    c.proxies.push(proxy);
    const cut = await replica(c, proxy.through(c.db.url));
    await waitFor('the first replica to lead', async () => (await health(cut.url)).role === 'leader', 20_000, 100);
    const other = await replica(c);
    await waitOneLeader([cut, other]);

    await proxy.cut();
    const h = await waitFor('the cut-off replica to stop leading', async () => {
      const x = await health(cut.url);
      return x.role === 'unavailable' ? x : null;
    }, 20_000, 200);
    expect(h.database).toMatch(/cannot reach PostgreSQL/);
    expect(h.stoppedLeading?.reason).toMatch(/could not renew the lease/);
    expect(cut.output()).toMatch(/stopped leading/);
    const res = await fetch(`${cut.url}/v1/rollouts`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(res.status).toBe(503);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await res.json()) as any).error.code).toBe('unavailable');
    const report = await fetch(`${cut.url}/v1/agent/reports`, { method: 'POST', headers: { authorization: 'Bearer shc_whatever', 'content-type': 'application/json' }, body: '{"reports":[]}' });
    expect(report.status).toBe(503);
    expect(report.headers.get('retry-after')).not.toBeNull();
    await waitFor('the other replica to take over', async () => (await health(other.url)).role === 'leader', 20_000, 200);
    expect(cut.child.exitCode).toBeNull();

    await proxy.restore();
    await waitOneLeader([cut, other], 20_000);
    expect((await health(other.url)).role).toBe('leader');
    expect((await health(cut.url)).role).toBe('follower');
  }, 120_000);

  it('a leader paused (SIGSTOP) past its lease is replaced; woken up (SIGCONT) it stops leading, and no host is applied twice', async () => {
    const c = await cluster();
    const a = await replica(c);
    await waitFor('the first replica to lead', async () => (await health(a.url)).role === 'leader', 20_000, 100);
    const b = await replica(c);
    await waitOneLeader([a, b]);
    // Agents talk to b only: a paused process still accepts TCP connections and would hold theirs.
    const hosts = ['p1', 'p2', 'p3'];
    for (const name of hosts) c.agents.push(startAgentProc(b.url, { name, labels: { zone: name }, stateDir: join(c.dir.path, 'agents', name) }));
    await waitFor('agents online', async () => (await api(b.url, 'GET', '/v1/hosts')).hosts.filter((h: any) => h.status === 'online').length === 3, 60_000, 200);
    const apply = `echo started >> ${c.marks}/$SLUICE_HOST.apply-started; sleep 1`;
    const plan = `
name: paused-leader
change:
  command:
    apply: ["sh", "-c", ${JSON.stringify(apply)}]
    rollback: ["true"]
waves:
  - { name: canary, size: 1, bake: 6s }
  - { name: rest, bake: 0s }
budget: { failedPerWave: 0, failedTotal: 0, silentAfter: 30s }
confirmWindow: 0s
`;
    const { id } = await api(b.url, 'POST', '/v1/rollouts', { plan });
    await waitFor('the canary to bake', async () => (await api(b.url, 'GET', `/v1/rollouts/${id}`)).waves[0]?.state === 'baking', 60_000, 100);
    a.child.kill('SIGSTOP');
    try {
      await waitFor('b to take over', async () => (await health(b.url)).role === 'leader', 30_000, 100);
    } finally {
      a.child.kill('SIGCONT');
    }
    const h = await waitFor('the woken replica to stop leading', async () => {
      const x = await health(a.url);
      return x.role === 'follower' && x.stoppedLeading ? x : null;
    }, 20_000, 100);
    expect(h.leader?.url).toBe(b.url);
    // Its own clock says the lease ran out (or, had a transition come first, the fence refused it).
    expect(h.stoppedLeading!.reason).toMatch(/could not renew the lease in time|fenced/);
    const v = await waitFor('the rollout to finish', async () => {
      const x = await api(b.url, 'GET', `/v1/rollouts/${id}`);
      return FINAL.includes(x.state) ? x : null;
    }, 90_000, 250);
    expect(v.state).toBe('completed');
    for (const name of hosts) expect(lines(join(c.marks, `${name}.apply-started`)), name).toEqual(['started']);
    expect(a.output()).toMatch(/stopped leading/);
  }, 150_000);

  it('a host that enrolls on a follower during a rollout is taken into a wave not started yet (the leader hears of it)', async () => {
    const c = await cluster();
    const opts = { listen: '127.0.0.1:0', databaseUrl: c.db.url, log: silentLogger(), adminToken: ADMIN_TOKEN, enrollToken: ENROLL_TOKEN, tickMs: 100 };
    const leader = await startServer(opts);
    c.inProcess.push(leader);
    const follower = await startServer(opts);
    c.inProcess.push(follower);
    expect((await health(follower.url)).role).toBe('follower');
    const credential = await enroll(follower.url, 'early');
    const plan = 'name: late-joiner\nchange:\n  command: { apply: ["true"] }\nwaves:\n  - { name: canary, size: 1, bake: 3s }\n  - { name: rest }\nconfirmWindow: 0s\n';
    const { id } = await api(follower.url, 'POST', '/v1/rollouts', { plan });
    const report = await fetch(`${follower.url}/v1/agent/reports`, {
      method: 'POST',
      headers: { authorization: `Bearer ${credential}`, 'content-type': 'application/json' },
      body: JSON.stringify({ reports: [{ id: 'early-apply', rolloutId: id, attempt: 1, kind: 'apply', ok: true }] }),
    });
    expect(await report.json()).toEqual({ accepted: ['early-apply'] });
    await waitFor('the canary to bake', async () => (await api(follower.url, 'GET', `/v1/rollouts/${id}`)).waves[0]?.state === 'baking', 20_000, 50);
    await enroll(follower.url, 'late');
    const v = await waitFor('the next wave to start', async () => {
      const x = await api(follower.url, 'GET', `/v1/rollouts/${id}`);
      return x.waves.length > 1 ? x : null;
    }, 20_000, 100);
    expect(v.waves[1].hosts.map((h: any) => h.name)).toEqual(['late']);
  }, 60_000);

  it("a stale leader's write is refused: the lease moved on while it still believed it led", async () => {
    const c = await cluster();
    // Slow renewals, so this leader still believes it leads when its next write comes.
    const server = await startServer({
      listen: '127.0.0.1:0',
      databaseUrl: c.db.url,
      log: silentLogger(),
      adminToken: ADMIN_TOKEN,
      enrollToken: ENROLL_TOKEN,
      lease: { ttlMs: 120_000, renewMs: 60_000, pollMs: 60_000 },
    });
    c.inProcess.push(server);
    expect((await health(server.url)).role).toBe('leader');
    await enroll(server.url, 'stale-h'); // never reports: the rollout stays running
    const { id } = await api(server.url, 'POST', '/v1/rollouts', { plan: quickPlan('before') });

    // Another holder takes the lease under a new term (as after a pause longer than the TTL).
    const admin = new pg.Client({ connectionString: c.db.url });
    await admin.connect();
    try {
      await admin.query(`update leader_lease set holder = 'another-replica', term = term + 1, url = 'http://127.0.0.1:9', expires_at = clock_timestamp() + interval '1 minute'`);
      const eventsBefore = (await admin.query('select count(*)::int as n from events')).rows[0].n;
      const res = await fetch(`${server.url}/v1/rollouts/${id}/pause`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      expect(res.status).toBe(503);
      expect(((await res.json()) as any).error.message).toMatch(/no longer holds the leader lease/);
      const created = await fetch(`${server.url}/v1/rollouts`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ plan: quickPlan('after') }) });
      expect(created.status).toBe(503);
      // Nothing of it was written: the rollout is still running, no event, no new rollout.
      expect((await admin.query('select state from rollouts where id = $1', [id])).rows[0].state).not.toBe('paused');
      expect((await admin.query('select count(*)::int as n from events')).rows[0].n).toBe(eventsBefore);
      expect((await admin.query(`select count(*)::int as n from rollouts where name = 'after'`)).rows[0].n).toBe(0);
      // And it stopped leading, saying why; the lease it reads next (a round it runs at once, not
      // awaited by the refused request) names the new holder.
      const h = await health(server.url);
      expect(h.role).toBe('follower');
      expect(h.stoppedLeading?.reason).toMatch(/fenced/);
      await waitFor('the replica to read the new holder', async () => (await health(server.url)).leader?.holder === 'another-replica', 10_000, 50);
    } finally {
      await admin.end();
    }
  }, 60_000);
});

describe('the embedded store (PGlite)', () => {
  it('has no election: /v1/health says leader, always', async () => {
    const server = await startServer({ listen: '127.0.0.1:0', memory: true, log: silentLogger(), adminToken: ADMIN_TOKEN, enrollToken: ENROLL_TOKEN });
    try {
      const h = await health(server.url);
      expect(h.role).toBe('leader');
      expect(h.reason).toMatch(/embedded store/);
      expect(server.replica).toBeNull();
    } finally {
      await server.close();
    }
  });
});

// Failover of the leader among replicas on PostgreSQL (issue 8): 3 `sluice server` processes on one
// schema, real agents behind a TCP load balancer, one rollout; the leader is SIGKILLed once during
// a bake and once during a wave (a replacement replica is started after each, so 3 remain).
// Figures per kill: takeover time (SIGKILL -> another replica reports role "leader" in
// /v1/health), and for the run: double applies (an apply command started twice on a host: must
// be 0) and lost reports (a host's apply finished but its report never reached the rollout's
// event log: must be 0). 3 runs, min/median/max.
// Run: npm run bench:failover   (PostgreSQL at SLUICE_TEST_DATABASE_URL, default
// postgres://postgres@127.0.0.1:5432/test; each run gets its own schema, dropped at the end)
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { api, startAgentProc, tempDir, waitFor, type Proc, type ServerProc } from '../test/helpers/processes.ts';
import { DEFAULT_TEST_DATABASE_URL, postgresTestDatabase } from '../test/helpers/postgres.ts';
import { health, startReplicaProc, waitOneLeader } from '../test/helpers/replicas.ts';
import { startTcpBalancer } from '../test/helpers/tcp-proxy.ts';

const RUNS = 3;
const HOSTS = ['a', 'b', 'c'].flatMap((zone) => [1, 2].map((i) => ({ name: `${zone}${i}`, zone })));
const BAKE_MS = 8000;

interface RunResult {
  takeoverBakeMs: number;
  takeoverWaveMs: number;
  doubleApplies: number;
  lostReports: number;
  state: string;
  totalMs: number;
}

function lines(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
}

/** Polls every replica still alive until one says it leads; ms from `since`. */
async function takeover(replicas: readonly ServerProc[], since: number): Promise<{ ms: number; leader: ServerProc }> {
  const leader = await waitFor(
    'a new leader',
    async () => {
      for (const r of replicas) {
        const h = await health(r.url).catch(() => null);
        if (h?.role === 'leader') return r;
      }
      return null;
    },
    60_000,
    25,
  );
  return { ms: Date.now() - since, leader };
}

async function run(n: number): Promise<RunResult> {
  const db = await postgresTestDatabase();
  if (!db) throw new Error('PostgreSQL is not reachable: the failover bench needs it');
  const dir = tempDir('bench-failover');
  const marks = join(dir.path, 'marks');
  mkdirSync(marks, { recursive: true });
  const replicas: ServerProc[] = [];
  const agents: Proc[] = [];
  const alive = () => replicas.filter((r) => r.child.exitCode === null && r.child.signalCode === null);
  const lb = await startTcpBalancer(() => alive().map((r) => r.port));
  let count = 0;
  const addReplica = async () => {
    const r = await startReplicaProc(dir.path, `replica-${++count}`, db.url);
    replicas.push(r);
    return r;
  };
  try {
    await Promise.all([addReplica(), addReplica(), addReplica()]);
    await waitOneLeader(alive(), 60_000);
    for (const h of HOSTS) agents.push(startAgentProc(lb.url, { name: h.name, labels: { zone: h.zone }, stateDir: join(dir.path, 'agents', h.name) }));
    await waitFor('agents online', async () => (await api(lb.url, 'GET', '/v1/hosts')).hosts.filter((h: any) => h.status === 'online').length === HOSTS.length, 120_000, 250);

    const apply = `echo started >> ${marks}/$SLUICE_HOST.apply-started; sleep 3; echo "$SLUICE_ROLLOUT_ID" >> ${marks}/$SLUICE_HOST.apply`;
    const plan = `
name: failover-bench
change:
  command:
    apply: ["sh", "-c", ${JSON.stringify(apply)}]
    rollback: ["true"]
    timeout: 60s
waves:
  - { name: canary, size: 1, bake: ${BAKE_MS / 1000}s }
  - { name: zones, each: zone, bake: 2s }
budget: { failedPerWave: 0, failedTotal: 0, silentAfter: 30s }
confirmWindow: 0s
`;
    const started = Date.now();
    const { id } = await api(lb.url, 'POST', '/v1/rollouts', { plan, file: 'failover-bench.yaml' });
    const view = () => api(lb.url, 'GET', `/v1/rollouts/${id}`);

    // 1. During the canary's bake (a second into it).
    await waitFor('the canary to bake', async () => (await view()).waves[0]?.state === 'baking', 60_000, 100);
    await new Promise((r) => setTimeout(r, 1000));
    const first = await waitOneLeader(alive());
    await first.kill('SIGKILL');
    const t1 = await takeover(alive(), Date.now());
    await addReplica();

    // 2. During a zone wave, while its hosts apply (their reports meet a leaderless moment).
    await waitFor('a zone wave to apply', () => HOSTS.filter((h) => lines(join(marks, `${h.name}.apply-started`)).length > 0).length >= 2, 60_000, 25);
    const second = await waitOneLeader(alive());
    await second.kill('SIGKILL');
    const t2 = await takeover(alive(), Date.now());
    await addReplica();

    const v = await waitFor('the rollout to finish', async () => {
      const x = await view();
      return ['completed', 'halted', 'rolled_back', 'aborted'].includes(x.state) ? x : null;
    }, 180_000, 250);
    const { events } = await api(lb.url, 'GET', `/v1/rollouts/${id}/events?limit=5000`);
    const reported = new Set(events.filter((e: any) => e.kind === 'report.apply').map((e: any) => e.host));
    let doubleApplies = 0;
    let lostReports = 0;
    for (const h of HOSTS) {
      doubleApplies += Math.max(0, lines(join(marks, `${h.name}.apply-started`)).length - 1);
      if (lines(join(marks, `${h.name}.apply`)).length > 0 && !reported.has(h.name)) lostReports += 1;
    }
    const result = { takeoverBakeMs: t1.ms, takeoverWaveMs: t2.ms, doubleApplies, lostReports, state: v.state, totalMs: Date.now() - started };
    console.log(
      `run ${n}: takeover during the bake ${t1.ms} ms, during the wave ${t2.ms} ms; double applies ${doubleApplies}, lost reports ${lostReports}; rollout ${v.state} in ${(result.totalMs / 1000).toFixed(1)} s`,
    );
    return result;
  } finally {
    await Promise.all(agents.map((a) => a.kill()));
    await Promise.all(replicas.map((r) => r.kill()));
    await lb.close();
    await db.cleanup();
    dir.remove();
  }
}

function stats(values: number[]): string {
  const s = [...values].sort((a, b) => a - b);
  return `min ${s[0]}  median ${s[Math.floor(s.length / 2)]}  max ${s[s.length - 1]}`;
}

async function postgresVersion(): Promise<string> {
  const client = new pg.Client({ connectionString: process.env.SLUICE_TEST_DATABASE_URL ?? DEFAULT_TEST_DATABASE_URL });
  await client.connect();
  try {
    return String((await client.query('show server_version')).rows[0].server_version);
  } finally {
    await client.end();
  }
}

const cpu = cpus();
console.log(
  `machine: ${cpu.length} x ${cpu[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, node ${process.version}, PostgreSQL ${await postgresVersion()}`,
);
console.log(`3 replicas (lease TTL 6 s, renew 2 s, followers poll 1 s), ${HOSTS.length} agents behind a TCP load balancer, ${RUNS} runs`);
const results: RunResult[] = [];
for (let i = 1; i <= RUNS; i++) results.push(await run(i));
console.log('');
console.log(`takeover during a bake (ms):  ${stats(results.map((r) => r.takeoverBakeMs))}`);
console.log(`takeover during a wave (ms):  ${stats(results.map((r) => r.takeoverWaveMs))}`);
console.log(`double applies:               ${stats(results.map((r) => r.doubleApplies))}  (must be 0)`);
console.log(`lost reports:                 ${stats(results.map((r) => r.lostReports))}  (must be 0)`);
console.log(`rollouts completed:           ${results.filter((r) => r.state === 'completed').length} of ${RUNS}`);
const bad = results.some((r) => r.doubleApplies > 0 || r.lostReports > 0 || r.state !== 'completed');
process.exit(bad ? 1 : 0);

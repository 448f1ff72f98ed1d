// A store that stays fast as it grows: heartbeat latency, rollout start and `rollout list` on a
// store with 10,000 hosts and no history, then after 200 finished rollouts over those 10,000
// hosts (their steps, event logs and report records: about 60,000 rows each), then after the
// retention purge of those events and reports. Each measurement 3 runs: min/median/max.
// Run: npm run bench:store-growth [-- --store pglite|postgres|both --hosts 10000 --rollouts 200]
import { checkPlan } from '../src/core/plan/parse-plan.ts';
import type { Sql } from '../src/store/store.ts';
import { purgeFinishedRollouts } from '../src/server/retention.ts';
import type { RunningServer } from '../src/server/start-server.ts';
import { ADMIN, arg, benchStore, credentialOf, fmtMs, http, machine, median, quantile, writeHosts, type StoreKind } from './lib/bench-fleet.ts';

const HOSTS = Number(arg('hosts', '10000'));
const ROLLOUTS = Number(arg('rollouts', '200'));
const RUNS = 3;
const HEARTBEATS = 200;
const LISTS = 20;
const PLAN = `name: growth
change:
  command: { apply: ["true"], rollback: ["true"] }
waves:
  - { name: canary, size: 100 }
  - { name: rest }
budget: { failedPerWave: 0, failedTotal: 0, silentAfter: 30m }
onFailure: halt
confirmWindow: 0s
`;

interface Run {
  heartbeatP50: number;
  heartbeatP99: number;
  start: number;
  list: number;
}

async function measure(server: RunningServer): Promise<Run> {
  const beats: number[] = [];
  for (let k = 0; k < HEARTBEATS; k++) {
    const i = Math.floor(Math.random() * HOSTS);
    const res = await http(server, 'POST', '/v1/agent/heartbeat', credentialOf(i), {});
    if (res.status !== 200) throw new Error(`heartbeat: ${res.status}`);
    beats.push(res.ms);
  }
  const started = await http(server, 'POST', '/v1/rollouts', ADMIN, { plan: PLAN });
  if (started.status !== 201) throw new Error(`start: ${started.status} ${JSON.stringify(started.json)}`);
  await http(server, 'POST', `/v1/rollouts/${started.json.id}/abort`, ADMIN, {});
  const lists: number[] = [];
  for (let k = 0; k < LISTS; k++) {
    const res = await http(server, 'GET', '/v1/rollouts', ADMIN);
    if (res.status !== 200) throw new Error(`list: ${res.status}`);
    lists.push(res.ms);
  }
  return { heartbeatP50: median(beats), heartbeatP99: quantile(beats, 0.99), start: started.ms, list: median(lists) };
}

async function phase(server: RunningServer): Promise<Run[]> {
  await measure(server); // warm-up: JIT, connection pool, caches
  const runs: Run[] = [];
  for (let r = 0; r < RUNS; r++) runs.push(await measure(server));
  return runs;
}

/** `count` completed rollouts over every host: steps, 2 events and 3 report records per host. */
async function writeHistory(sql: Sql, count: number): Promise<void> {
  const { plan } = checkPlan(PLAN, 'growth.yaml');
  const t0 = Date.now() - 90 * 86_400_000;
  for (let r = 0; r < count; r++) {
    const id = `r_growth_${String(r).padStart(4, '0')}`;
    const at = t0 + r * 3_600_000;
    await sql.transaction(async (tx) => {
      await tx.query(
        `insert into rollouts (id, name, state, next_spec, failed_total, targeted_hosts, reason, plan, plan_source, created_at, updated_at)
         values ($1, 'growth', 'completed', 2, 0, $4, null, $2::jsonb, $3, $5, $5)`,
        [id, JSON.stringify(plan), PLAN, HOSTS, at],
      );
      await tx.query(
        `insert into waves (rollout_id, idx, name, spec_index, state, host_count, failed, started_at, bake_started_at, finished_at)
         values ($1, 0, 'canary', 0, 'completed', 100, 0, $2, $2, $2), ($1, 1, 'rest', 1, 'completed', $3, 0, $2, $2, $2)`,
        [id, at, HOSTS - 100],
      );
      await tx.query(
        `insert into steps (rollout_id, host, wave_index, state, attempt, message, checked_at, updated_at, confirmed_at)
         select $1, name, case when row_number() over (order by name) <= 100 then 0 else 1 end, 'healthy', 1, null, $2, $2, $2 from hosts`,
        [id, at],
      );
      await tx.query(
        `insert into events (rollout_id, at, kind, message, host, wave, data)
         select $1, $2, k.kind, h.name || ': ' || k.kind, h.name, null, '{"attempt": 1, "ok": true}'::jsonb
         from hosts h cross join (values ('report.apply'), ('step.healthy')) as k(kind)`,
        [id, at],
      );
      await tx.query(
        `insert into reports (id, rollout_id, host, at)
         select $1 || '-' || k.kind, $1, h.name, $2 from hosts h cross join (values ('apply'), ('check'), ('confirm')) as k(kind)`,
        [id, at],
      );
    });
    if ((r + 1) % 20 === 0) process.stderr.write(`  history: ${r + 1}/${count} rollouts\n`);
  }
}

async function counts(sql: Sql): Promise<string> {
  const [row] = await sql.query<Record<string, unknown>>(
    `select (select count(*) from rollouts) as rollouts, (select count(*) from steps) as steps,
            (select count(*) from events) as events, (select count(*) from reports) as reports`,
  );
  return `${row!.rollouts} rollouts, ${row!.steps} steps, ${row!.events} events, ${row!.reports} reports`;
}

/** The hot queries as sql-store.ts runs them, explained on the grown store (docs/operations.md). */
const HOT_QUERIES: [string, string, unknown[]][] = [
  [
    'assignments for a host (every long-poll)',
    `select s.rollout_id, r.name as rollout_name, s.attempt, s.state as step_state, r.plan
     from steps s join rollouts r on r.id = s.rollout_id
     where s.host = $1 and (
       (s.state in ('applying', 'verifying') and r.state in ('running', 'paused'))
       or (s.state = 'rolling_back' and r.state in ('rolling_back', 'rolled_back', 'halted')))
     order by r.created_at, r.id`,
    ['h-004242'],
  ],
  [
    'heartbeat update',
    `update hosts set last_seen = greatest(last_seen, $2), labels = coalesce($3::jsonb, labels), facts = coalesce($4::jsonb, facts)
     where name = $1 returning name`,
    ['h-004242', Date.now(), null, null],
  ],
  ['events list (rollout events, --follow)', 'select * from events where rollout_id = $1 and seq > $2 order by seq limit $3', ['r_growth_0100', 0, 500]],
  ['active rollouts', 'select id from rollouts where state = any($1::text[]) order by created_at, id', [['pending', 'queued', 'running', 'paused', 'rolling_back']]],
  ['rollout list', `select id, name, state from rollouts order by created_at desc, id desc limit $1`, [200]],
  ['hosts page (label filter, keyset)', `select name, labels, facts, enrolled_at, last_seen from hosts where labels @> $1::jsonb and name > $2 order by name limit $3`, ['{"zone":"z3"}', 'h-005000', 501]],
  ['steps page (state filter)', 'select * from steps where rollout_id = $1 and state = any($2::text[]) order by wave_index, host limit $3', ['r_growth_0100', ['failed', 'silent'], 501]],
  ['retention batch (events)', `select seq from events where rollout_id in (select id from rollouts where state = any($1::text[]) and updated_at < $2) limit $3`, [['completed', 'halted', 'rolled_back', 'aborted'], Date.now(), 5000]],
];

async function explain(sql: Sql): Promise<void> {
  for (const [title, text, params] of HOT_QUERIES) {
    // EXPLAIN ANALYZE of an update runs it: inside a transaction that is rolled back.
    const rows = await sql
      .transaction(async (tx) => {
        const plan = await tx.query<Record<string, unknown>>(`explain (analyze, costs off, timing off, summary off) ${text}`, params);
        throw Object.assign(new Error('rollback'), { plan });
      })
      .catch((err: { plan?: Record<string, unknown>[] }) => {
        if (!err.plan) throw err;
        return err.plan;
      });
    console.log(`\n-- ${title}\n${rows.map((r) => String(Object.values(r)[0])).join('\n')}`);
  }
}

function line(label: string, values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  return `${label.padEnd(26)} ${fmtMs(sorted[0]!).padStart(9)} ${fmtMs(median(sorted)).padStart(9)} ${fmtMs(sorted.at(-1)!).padStart(9)}`;
}

function print(title: string, runs: Run[]): void {
  console.log(`  ${title}`);
  console.log(`    ${'(min / median / max of 3)'.padEnd(26)} ${'min'.padStart(9)} ${'median'.padStart(9)} ${'max'.padStart(9)}`);
  console.log(`    ${line('heartbeat p50', runs.map((r) => r.heartbeatP50))}`);
  console.log(`    ${line('heartbeat p99', runs.map((r) => r.heartbeatP99))}`);
  console.log(`    ${line(`rollout start (${HOSTS} hosts)`, runs.map((r) => r.start))}`);
  console.log(`    ${line('rollout list', runs.map((r) => r.list))}`);
}

async function run(kind: StoreKind): Promise<void> {
  const store = await benchStore(kind);
  try {
    await store.withSql((sql) => writeHosts(sql, HOSTS, Date.now()));
    let server = await store.startServer({ retainFinishedMs: null });
    const empty = await phase(server);
    await server.close();
    console.log(`\n${kind} (${store.where}), ${HOSTS} hosts`);
    print('empty store (hosts only)', empty);

    const fillStarted = performance.now();
    const size = await store.withSql(async (sql) => {
      await writeHistory(sql, ROLLOUTS);
      await sql.query('analyze');
      if (process.argv.includes('--explain')) {
        console.log(`\nEXPLAIN ANALYZE on ${kind}, ${HOSTS} hosts, ${ROLLOUTS} finished rollouts:`);
        await explain(sql);
      }
      return counts(sql);
    });
    const fillS = (performance.now() - fillStarted) / 1000;

    // The server's own retention stays off: the bench purges by itself, after measuring.
    server = await store.startServer({ retainFinishedMs: null });
    const grown = await phase(server);
    print(`after ${ROLLOUTS} finished rollouts (${size}; written in ${fillS.toFixed(0)} s)`, grown);
    const purgeStarted = performance.now();
    const purged = { events: 0, reports: 0, batches: 0 };
    for (;;) {
      const done = await purgeFinishedRollouts(server.store, { retainMs: 30 * 86_400_000, now: Date.now() });
      purged.events += done.events;
      purged.reports += done.reports;
      purged.batches += done.batches;
      if (done.events + done.reports === 0) break;
    }
    const purgeS = (performance.now() - purgeStarted) / 1000;
    const afterPurge = await phase(server);
    await server.close();

    print(`after the retention purge (${purged.events} events, ${purged.reports} reports in ${purged.batches} batches, ${purgeS.toFixed(1)} s)`, afterPurge);
  } finally {
    await store.remove();
  }
}

const which = arg('store', 'both');
console.log(`bench/store-growth.ts on ${machine()}`);
for (const kind of (which === 'both' ? ['pglite', 'postgres'] : [which]) as StoreKind[]) await run(kind);

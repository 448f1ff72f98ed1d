// Halting at scale: 10,000 hosts, a big first wave (5,000 hosts, 500 in flight), simulated agents
// taking and finishing work through the agent API, then one failing apply report. Measured per
// trial: how long until the failing report is acknowledged (the halt is committed before the
// answer), and whether any assignment poll that started after the acknowledgement was handed an
// apply (must be 0). p50/p99 over the trials.
// Run: npm run bench:halt [-- --store pglite|postgres|both --hosts 10000 --trials 20]
import { ADMIN, arg, benchStore, credentialOf, fmtMs, hostName, http, machine, quantile, writeHosts, type StoreKind } from './lib/bench-fleet.ts';
import type { RunningServer } from '../src/server/start-server.ts';

const HOSTS = Number(arg('hosts', '10000'));
const TRIALS = Number(arg('trials', '20'));
const WORKERS = Number(arg('workers', '16'));
/** Successful reports before the failing one: the wave is busy handing out work when it comes. */
const WARMUP_REPORTS = Number(arg('warmup', '200'));
const PLAN = `name: halt-bench
change:
  command: { apply: ["true"], rollback: ["true"] }
waves:
  - { name: big, size: 50%, parallel: 500 }
  - { name: rest }
budget: { failedPerWave: 0, failedTotal: 0, silentAfter: 30m }
onFailure: halt
confirmWindow: 0s
`;

interface Poll {
  readonly host: string;
  readonly start: number;
  readonly end: number;
  readonly applies: number;
}

interface Trial {
  readonly ackMs: number;
  /** Apply assignments handed to polls that started after the acknowledgement (must be 0). */
  readonly appliesAfterAck: number;
  /** Polls that started after the acknowledgement. */
  readonly pollsAfterAck: number;
  /** The last apply handed out, relative to sending the failing report (ms; negative: before). */
  readonly lastApplyMs: number;
  readonly state: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function trial(server: RunningServer, n: number): Promise<Trial> {
  const started = await http(server, 'POST', '/v1/rollouts', ADMIN, { plan: PLAN });
  if (started.status !== 201) throw new Error(`start: ${started.status} ${JSON.stringify(started.json)}`);
  const id = started.json.id as string;
  const polls: Poll[] = [];
  const busy = new Set<string>();
  const queue: string[] = [];
  let okReports = 0;
  let stop = false;
  let failHost: string | null = null;
  let seq = 0;

  const poll = async (host: string, i: number) => {
    const start = performance.now();
    const res = await http(server, 'GET', '/v1/agent/assignments', credentialOf(i));
    const mine = (res.json?.assignments ?? []).filter((a: { rolloutId: string }) => a.rolloutId === id);
    polls.push({ host, start, end: performance.now(), applies: mine.filter((a: { action: string }) => a.action === 'apply').length });
    return mine as { action: string; attempt: number }[];
  };
  const report = (i: number, attempt: number, kind: string, ok: boolean) =>
    http(server, 'POST', '/v1/agent/reports', credentialOf(i), { reports: [{ id: `rep-${n}-${i}-${kind}-${attempt}-${seq++}`, rolloutId: id, attempt, kind, ok }] });

  // Find in-flight hosts through the operator API, as a dashboard would.
  const finder = (async () => {
    while (!stop) {
      const page = await http(server, 'GET', `/v1/rollouts/${id}/hosts?state=applying,verifying&limit=1000`, ADMIN);
      for (const h of page.json?.hosts ?? []) if (!busy.has(h.name) && !queue.includes(h.name)) queue.push(h.name);
      await sleep(queue.length > 0 ? 100 : 20);
    }
  })();
  const workers = Array.from({ length: WORKERS }, async () => {
    while (!stop) {
      const host = queue.shift();
      if (host === undefined || busy.has(host)) {
        await sleep(5);
        continue;
      }
      busy.add(host);
      const i = Number(host.slice(2));
      for (const a of await poll(host, i)) {
        if (stop) break;
        if (a.action === 'apply' && failHost === null && okReports >= WARMUP_REPORTS) {
          failHost = host;
          break;
        }
        const res = await report(i, a.attempt, a.action === 'apply' ? 'apply' : 'check', true);
        if (res.status === 200) okReports += 1;
      }
      busy.delete(host);
    }
  });

  while (failHost === null) await sleep(5);
  const fi = Number((failHost as string).slice(2));
  const sent = performance.now();
  const failed = await report(fi, 1, 'apply', false);
  const acked = performance.now();
  if (failed.status !== 200) throw new Error(`failing report: ${failed.status}`);
  // After the acknowledgement: agents keep polling for a while, and a probe asks 200 more hosts.
  for (let k = 0; k < 200; k++) await poll(hostName((fi + 7 * k + 1) % HOSTS), (fi + 7 * k + 1) % HOSTS);
  stop = true;
  await Promise.all([finder, ...workers]);
  const after = polls.filter((p) => p.start > acked);
  const lastApply = Math.max(...polls.filter((p) => p.applies > 0).map((p) => p.end));
  const state = (await http(server, 'GET', `/v1/rollouts/${id}/summary`, ADMIN)).json.state as string;
  return {
    ackMs: acked - sent,
    appliesAfterAck: after.reduce((x, p) => x + p.applies, 0),
    pollsAfterAck: after.length,
    lastApplyMs: lastApply - sent,
    state,
  };
}

async function run(kind: StoreKind): Promise<void> {
  const store = await benchStore(kind);
  try {
    await store.withSql((sql) => writeHosts(sql, HOSTS, Date.now()));
    const server = await store.startServer();
    try {
      const trials: Trial[] = [];
      for (let n = 0; n < TRIALS; n++) {
        const t = await trial(server, n);
        trials.push(t);
        process.stderr.write(`  ${kind} trial ${n + 1}/${TRIALS}: ack ${fmtMs(t.ackMs)}, last apply ${fmtMs(t.lastApplyMs)} after sending, ${t.appliesAfterAck} applies in ${t.pollsAfterAck} polls after the ack, rollout ${t.state}\n`);
      }
      const acks = trials.map((t) => t.ackMs);
      console.log(`\n${kind} (${store.where}): ${HOSTS} hosts, first wave ${HOSTS / 2} hosts (500 in flight), ${TRIALS} trials`);
      console.log(`  failing report -> acknowledged (halt committed): p50 ${fmtMs(quantile(acks, 0.5))}, p99 ${fmtMs(quantile(acks, 0.99))}, min ${fmtMs(Math.min(...acks))}, max ${fmtMs(Math.max(...acks))}`);
      const last = trials.map((t) => t.lastApplyMs);
      console.log(`  last apply handed out, from sending the failing report: p50 ${fmtMs(quantile(last, 0.5))}, p99 ${fmtMs(quantile(last, 0.99))}`);
      console.log(`  apply assignments handed out after the ack: ${trials.reduce((x, t) => x + t.appliesAfterAck, 0)} (in ${trials.reduce((x, t) => x + t.pollsAfterAck, 0)} polls)`);
      console.log(`  rollouts halted: ${trials.filter((t) => t.state === 'halted').length}/${TRIALS}`);
    } finally {
      await server.close();
    }
  } finally {
    await store.remove();
  }
}

const which = arg('store', 'both');
console.log(`bench/halt.ts on ${machine()}`);
for (const kind of (which === 'both' ? ['pglite', 'postgres'] : [which]) as StoreKind[]) await run(kind);

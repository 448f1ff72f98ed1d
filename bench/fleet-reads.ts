// Fleet-wide reads on hosts that carry whole package inventories: GET /v1/updates and
// GET /v1/drift on a real server, and, in the same run, the read they used to make (every host's
// whole facts, then the same pure view), so the figures compare like with like. Each host has
// PACKAGES installed packages and 3 pending security updates. Reports wall time and the server
// process's peak heap growth during the request (sampled every 5 ms), min/median/max of 3 runs.
// Run: npm run bench:fleet-reads [-- --store postgres|pglite --hosts 5000 --packages 1500]
import { updatesView } from '../src/server/routes/drift-routes.ts';
import type { Sql } from '../src/store/store.ts';
import { hashSecret } from '../src/server/tokens.ts';
import { ADMIN, arg, benchStore, credentialOf, hostName, http, machine, median, type StoreKind } from './lib/bench-fleet.ts';

const HOSTS = Number(arg('hosts', '5000'));
const PACKAGES = Number(arg('packages', '1500'));
const KIND = arg('store', 'postgres') as StoreKind;
const RUNS = 3;

async function writeInventories(sql: Sql): Promise<void> {
  const packages: Record<string, string> = {};
  for (let p = 0; p < PACKAGES; p++) packages[`pkg-${p}`] = `1.${p}.0-1`;
  packages['libssl3:amd64'] = '3.0.2-0ubuntu1.14';
  packages['openssh-server'] = '1:8.9p1-3ubuntu0.6';
  const updates = [
    { package: 'libssl3', installed: '3.0.2-0ubuntu1.14', candidate: '3.0.2-0ubuntu1.15', security: true },
    { package: 'openssh-server', installed: '1:8.9p1-3ubuntu0.6', candidate: '1:8.9p1-3ubuntu0.7', security: true },
    { package: 'pkg-7', installed: '1.7.0-1', candidate: '1.7.0-2', security: true },
  ];
  const now = Date.now();
  for (let from = 0; from < HOSTS; from += 250) {
    const rows = [];
    for (let i = from; i < Math.min(HOSTS, from + 250); i++) {
      rows.push({
        name: hostName(i),
        labels: { env: 'prod', zone: `z${i % 10}` },
        facts: { allow: ['apt'], packages, pendingUpdates: { checkedAt: now, updates }, driftGuard: { policy: 'report' } },
        hash: hashSecret(credentialOf(i)),
      });
    }
    await sql.query(
      `insert into hosts (name, labels, facts, credential_hash, enrolled_at, last_seen)
       select name, labels, facts, hash, $2, $2 from jsonb_to_recordset($1::jsonb) as h(name text, labels jsonb, facts jsonb, hash text)`,
      [JSON.stringify(rows), now],
    );
  }
}

/** Runs fn, sampling heapUsed every 5 ms: wall ms and peak heap growth in MB. */
async function measured(fn: () => Promise<unknown>): Promise<{ ms: number; heapMb: number }> {
  global.gc?.();
  const before = process.memoryUsage().heapUsed;
  let peak = before;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().heapUsed)), 5);
  const started = performance.now();
  try {
    await fn();
  } finally {
    clearInterval(timer);
  }
  const ms = performance.now() - started;
  peak = Math.max(peak, process.memoryUsage().heapUsed);
  return { ms, heapMb: (peak - before) / 2 ** 20 };
}

const fmt = (xs: number[], unit: string) => {
  const s = [...xs].sort((a, b) => a - b);
  return `${s[0]!.toFixed(0)} / ${median(s).toFixed(0)} / ${s[s.length - 1]!.toFixed(0)} ${unit}`;
};

async function main(): Promise<void> {
  console.log(`fleet reads: ${HOSTS} hosts x ${PACKAGES} packages on ${KIND}; ${machine()}`);
  const bench = await benchStore(KIND);
  try {
    await bench.withSql(writeInventories);
    const server = await bench.startServer();
    try {
      const cases: [string, () => Promise<unknown>][] = [
        ['GET /v1/updates', async () => expectOk(await http(server, 'GET', '/v1/updates', ADMIN))],
        ['GET /v1/drift', async () => expectOk(await http(server, 'GET', '/v1/drift', ADMIN))],
        ['whole facts + updatesView (the old read)', async () => updatesView(await server.store.listHosts(), false)],
      ];
      for (const [name, fn] of cases) {
        await fn(); // warm-up
        const runs = [];
        for (let r = 0; r < RUNS; r++) runs.push(await measured(fn));
        console.log(`${name.padEnd(42)} ${fmt(runs.map((r) => r.ms), 'ms').padEnd(22)} heap +${fmt(runs.map((r) => r.heapMb), 'MB')}`);
      }
    } finally {
      await server.close();
    }
  } finally {
    await bench.remove();
  }
}

function expectOk(res: { status: number; json: unknown }): void {
  if (res.status !== 200) throw new Error(`status ${res.status}: ${JSON.stringify(res.json).slice(0, 200)}`);
}

await main();

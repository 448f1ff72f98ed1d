// Heartbeat ingest and held long-polls at fleet size (issue 8). For each fleet size, against
// `sluice server` on PostgreSQL and on PGlite and against a bare node:http server doing the same
// JSON work (bench/ingest-bare.ts), in the same run:
//   - max:    every simulated agent heartbeats again as soon as answered (closed loop): rate,
//             p50/p99, errors, server CPU per heartbeat, RSS;
//   - paced:  every agent heartbeats every 5 s (the default cadence): achieved rate, p50/p99, errors;
//   - hold:   every agent holds one long-poll: time to establish them, server memory and CPU per
//             held poll, right after the last poll was sent (the servers may still be working off
//             the establishment then) and steady (once every server process was idle: under
//             --settle-pct % of a core for a second, then --settle-quiet-ms more).
// One server process per ~16,700 agents (the open-file limit here is 20,000; PostgreSQL shards use
// a schema each until replicas share one; PGlite is one process, so it stops at one shard).
//   - sustain (--sustain-ms N, default off): every agent every 5 s for N ms, reported per minute
//             (rate, p50/p99, errors, server RSS): does it hold, and does memory stay flat?
// Run: npm run bench:ingest [-- --sizes 1000,10000,100000 --runs 3 --targets bare,postgres,postgres-hono,pglite]
//      npm run bench:ingest -- --sizes 10000 --runs 1 --targets bare,postgres --sustain-ms 600000
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { createPgliteSql } from '../src/store/pglite.ts';
import { createSqlStore } from '../src/store/sql-store.ts';
import { BUCKETS, credentialOf, usOf } from './ingest-load.ts';

const REPO = resolve(import.meta.dirname, '..');
const LOADER = join(REPO, 'node_modules/tsx/dist/loader.mjs');
const PG_BASE = process.env.SLUICE_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const PER_PROCESS = 16_700;
const ADMIN = 'sla_bench_admin_0123456789abcdef';
const ENROLL = 'sle_bench_enroll_0123456789abcdef';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}
const SIZES = arg('sizes', '1000,10000,100000').split(',').map(Number);
const RUNS = Number(arg('runs', '3'));
const TARGETS = arg('targets', 'bare,postgres,pglite').split(',') as Target[];
const MAX_MS = Number(arg('max-ms', '4000'));
const PACED_MS = Number(arg('paced-ms', '6000'));
const HOLD_MS = Number(arg('hold-ms', '5000'));
// Sustained: after the other phases, every agent at the default cadence (5 s) for this long, in
// one-minute windows (rate, p50/p99, errors and server RSS each minute); 0: not run.
const SUSTAIN_MS = Number(arg('sustain-ms', '0'));
const SUSTAIN_WINDOW_MS = 60_000;
// Steady holding: the window starts once every server process has worked off the establishment
// (a 1 s sample under SETTLE_PCT % of a core) and then stayed quiet for SETTLE_QUIET_MS more; at
// most SETTLE_MAX_MS after the last poll was sent (then it is measured anyway, and marked).
const SETTLE_PCT = Number(arg('settle-pct', '25'));
const SETTLE_QUIET_MS = Number(arg('settle-quiet-ms', '2000'));
const SETTLE_MAX_MS = Number(arg('settle-max-ms', '15000'));
// postgres-hono: the same server with the heartbeat fast path off (SLUICE_AGENT_FAST_PATH=0): every
// request through the Hono app, as before the fast path; compared in the same run.
type Target = 'bare' | 'postgres' | 'postgres-hono' | 'pglite';

// ---- /proc readings ----

const TICK_MS = 10; // USER_HZ 100
function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * TICK_MS;
  } catch {
    return 0;
  }
}
function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}
/** CPU of every PostgreSQL process on the machine (the local server is shared: noisy). */
function postgresCpuMs(): number {
  let total = 0;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      if (!stat.includes('(postgres)')) continue;
      total += cpuMs(Number(d));
    } catch {
      /* gone */
    }
  }
  return total;
}

// ---- processes ----

interface Shard {
  readonly proc: ChildProcess;
  /** What the server printed (warnings and errors: the servers log at warn). */
  readonly output: () => string;
  readonly port: number;
  readonly from: number;
  readonly count: number;
  cleanup(): Promise<void>;
}

/** Everything each server process printed, kept for the hold phase's explanation of lost polls. */
const outputs = new WeakMap<ChildProcess, string>();

function waitListening(proc: ChildProcess, what: string): Promise<number> {
  return new Promise((res, rej) => {
    let out = '';
    proc.stdout?.on('data', (b: Buffer) => outputs.set(proc, ((outputs.get(proc) ?? '') + b.toString()).slice(-200_000)));
    proc.stderr?.on('data', (b: Buffer) => outputs.set(proc, ((outputs.get(proc) ?? '') + b.toString()).slice(-200_000)));
    const timer = setTimeout(() => rej(new Error(`${what} did not start: ${out.slice(-2000)}`)), 120_000);
    const on = (b: Buffer) => {
      out += b.toString();
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        res(Number(m[1]));
      }
    };
    proc.stdout?.on('data', on);
    proc.stderr?.on('data', on);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      rej(new Error(`${what} exited (${code}): ${out.slice(-2000)}`));
    });
  });
}

function stop(proc: ChildProcess): Promise<void> {
  return new Promise((res) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return res();
    const t = setTimeout(() => proc.kill('SIGKILL'), 15_000);
    proc.once('exit', () => {
      clearTimeout(t);
      res();
    });
    proc.kill('SIGTERM');
  });
}

const hashOf = (i: number) => createHash('sha256').update(credentialOf(i)).digest('hex');
const INSERT_HOSTS = `insert into hosts (name, labels, facts, credential_hash, enrolled_at, last_seen)
  select n, jsonb_build_object('role', 'web', 'zone', 'z' || (i % 12)), '{}'::jsonb, h, $4, $4
  from unnest($1::text[], $2::text[], $3::int[]) as v(n, h, i)`;
function hostBatch(from: number, count: number): [string[], string[], number[]] {
  const names: string[] = [];
  const hashes: string[] = [];
  const idx: number[] = [];
  for (let i = from; i < from + count; i++) {
    names.push(`h${i}`);
    hashes.push(hashOf(i));
    idx.push(i);
  }
  return [names, hashes, idx];
}

function sluiceServer(dataDir: string, databaseUrl?: string, fastPath = true): ChildProcess {
  // SLUICE_BENCH_PROFILE=DIR: the servers write V8 CPU profiles there (node --cpu-prof).
  const profile = process.env.SLUICE_BENCH_PROFILE;
  const [cmd, pre] = profile ? [process.execPath, ['--cpu-prof', '--cpu-prof-dir', profile, '--import', LOADER, join(REPO, 'src/cli/main.ts')]] : [join(REPO, 'bin/sluice'), []];
  return spawn(cmd, [...pre, 'server', '--listen', '127.0.0.1:0', '--data-dir', dataDir, ...(databaseUrl ? ['--database-url', databaseUrl] : [])], {
    env: {
      ...process.env,
      SLUICE_LOG_LEVEL: 'warn',
      SLUICE_ADMIN_TOKEN: ADMIN,
      SLUICE_ENROLL_TOKEN: ENROLL,
      ...(fastPath ? {} : { SLUICE_AGENT_FAST_PATH: '0' }),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

async function startShard(target: Target, from: number, count: number): Promise<Shard> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-ingest-'));
  const started: { proc: ChildProcess | null; dropSchema: (() => Promise<void>) | null } = { proc: null, dropSchema: null };
  try {
    return await startShardIn(dir, started, target, from, count);
  } catch (err) {
    // A shard that did not start leaves nothing behind either.
    if (started.proc) await stop(started.proc);
    await started.dropSchema?.().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

async function startShardIn(
  dir: string,
  started: { proc: ChildProcess | null; dropSchema: (() => Promise<void>) | null },
  target: Target,
  from: number,
  count: number,
): Promise<Shard> {
  let proc: ChildProcess;
  let dropSchema: (() => Promise<void>) | null = null;
  if (target === 'bare') {
    proc = spawn(process.execPath, ['--import', LOADER, join(REPO, 'bench/ingest-bare.ts'), String(count), String(from)], { stdio: ['ignore', 'pipe', 'pipe'] });
    started.proc = proc;
  } else if (target === 'pglite') {
    // Seeded before the server opens the directory (PGlite is one process's).
    const sql = await createPgliteSql(join(dir, 'pgdata'));
    await createSqlStore(sql, 'pglite').migrate();
    for (let i = from; i < from + count; i += 5000) await sql.query(INSERT_HOSTS, [...hostBatch(i, Math.min(5000, from + count - i)), Date.now()]);
    await sql.close();
    proc = sluiceServer(dir);
    started.proc = proc;
  } else {
    const schema = `bench_ingest_${randomBytes(4).toString('hex')}`;
    const admin = new pg.Client({ connectionString: PG_BASE });
    await admin.connect();
    await admin.query(`create schema ${schema}`);
    await admin.end();
    const url = new URL(PG_BASE);
    url.searchParams.set('options', `-c search_path=${schema}`);
    dropSchema = async () => {
      const c = new pg.Client({ connectionString: PG_BASE });
      await c.connect();
      await c.query(`drop schema if exists ${schema} cascade`);
      await c.end();
    };
    started.dropSchema = dropSchema;
    proc = sluiceServer(dir, url.toString(), target !== 'postgres-hono');
    started.proc = proc;
    const port = await waitListening(proc, `sluice server (${target})`);
    const c = new pg.Client({ connectionString: url.toString() });
    await c.connect();
    for (let i = from; i < from + count; i += 5000) await c.query(INSERT_HOSTS, [...hostBatch(i, Math.min(5000, from + count - i)), Date.now()]);
    await c.end();
    return shardOf(proc, port, from, count, dir, dropSchema);
  }
  const port = await waitListening(proc, `${target} server`);
  return shardOf(proc, port, from, count, dir, dropSchema);
}

function shardOf(proc: ChildProcess, port: number, from: number, count: number, dir: string, dropSchema: (() => Promise<void>) | null): Shard {
  return {
    proc,
    output: () => outputs.get(proc) ?? '',
    port,
    from,
    count,
    async cleanup() {
      await stop(proc);
      await dropSchema?.();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

interface Worker {
  readonly child: ChildProcess;
  request(msg: Record<string, unknown>, answer: string): Promise<any>;
  close(): Promise<void>;
}

async function startWorker(): Promise<Worker> {
  const child = fork(join(REPO, 'bench/ingest-load.ts'), [], { execArgv: ['--import', LOADER], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const waiters = new Map<string, (m: any) => void>();
  child.on('message', (m: any) => {
    const w = waiters.get(m.cmd);
    waiters.delete(m.cmd);
    w?.(m);
  });
  const request = (msg: Record<string, unknown>, answer: string) =>
    new Promise<any>((res, rej) => {
      const exited = () => rej(new Error('load worker exited'));
      waiters.set(answer, (m) => {
        child.off('exit', exited); // one listener per request in flight, not one per request ever made
        res(m);
      });
      child.once('exit', exited);
      if (msg.cmd !== 'noop') child.send(msg);
    });
  await request({ cmd: 'noop' }, 'ready');
  return {
    child,
    request,
    async close() {
      if (child.exitCode === null) await request({ cmd: 'close' }, 'closed').catch(() => {});
      await stop(child);
    },
  };
}

// ---- measurements ----

interface LoadResult {
  rate: number;
  p50: number;
  p99: number;
  errors: number;
  cpuPerReqMs: number;
  pgCpuPerReqMs: number;
  rssMb: number;
}

function percentile(hist: number[], total: number, p: number): number {
  const want = Math.ceil(total * p);
  let seen = 0;
  for (let b = 0; b < BUCKETS; b++) {
    seen += hist[b]!;
    if (seen >= want) return usOf(b) / 1000;
  }
  return NaN;
}

async function loadPhase(shards: Shard[], workers: Worker[], intervalMs: number, ms: number, warmMs: number): Promise<LoadResult> {
  const pids = shards.map((s) => s.proc.pid!);
  let cpu0 = 0;
  let pg0 = 0;
  const started = performance.now();
  const results = workers.map((w) => w.request({ cmd: 'run', intervalMs, ms, warmMs }, 'result'));
  await new Promise((r) => setTimeout(r, warmMs));
  cpu0 = pids.reduce((a, p) => a + cpuMs(p), 0);
  pg0 = postgresCpuMs();
  await new Promise((r) => setTimeout(r, ms));
  const cpu1 = pids.reduce((a, p) => a + cpuMs(p), 0);
  const pg1 = postgresCpuMs();
  const rss = pids.reduce((a, p) => a + rssMb(p), 0);
  const all = await Promise.all(results);
  void started;
  const hist = new Array<number>(BUCKETS).fill(0);
  let count = 0;
  let errors = 0;
  for (const r of all) {
    count += r.count;
    errors += r.errors;
    for (let b = 0; b < BUCKETS; b++) hist[b]! += r.hist[b];
  }
  return {
    rate: count / (ms / 1000),
    p50: percentile(hist, count, 0.5),
    p99: percentile(hist, count, 0.99),
    errors,
    cpuPerReqMs: count > 0 ? (cpu1 - cpu0) / count : NaN,
    // PostgreSQL backends of other clients come and go: a negative difference means unmeasurable.
    pgCpuPerReqMs: count > 0 && pg1 >= pg0 ? (pg1 - pg0) / count : NaN,
    rssMb: rss,
  };
}

interface HoldResult {
  establishS: number;
  held: number;
  errors: number;
  kbPerPoll: number;
  /** CPU from 0.5 s after the last poll was sent, for HOLD_MS: includes the establishment's tail. */
  cpuPctPerThousand: number;
  /** CPU over HOLD_MS once the servers were idle (steady holding only). */
  steadyPctPerThousand: number;
  /** Seconds from the last poll sent to the steady window; negative: never settled (measured anyway). */
  settleS: number;
  rssMb: number;
}

async function holdPhase(shards: Shard[]): Promise<HoldResult> {
  const pids = shards.map((s) => s.proc.pid!);
  const workers = await Promise.all(shards.map(() => startWorker()));
  try {
    // Established: connected, first poll answered, second poll sent (held).
    const rss0 = pids.reduce((a, p) => a + rssMb(p), 0);
    const started = performance.now();
    const connected = await Promise.all(workers.map((w, k) => w.request({ cmd: 'connect', port: shards[k]!.port, from: shards[k]!.from, count: shards[k]!.count, first: 'poll' }, 'connected')));
    const holding = await Promise.all(workers.map((w) => w.request({ cmd: 'hold', waitMs: 30_000 }, 'holding')));
    const establishS = (performance.now() - started) / 1000;
    void connected;
    await new Promise((r) => setTimeout(r, 500));
    const cpu0 = pids.reduce((a, p) => a + cpuMs(p), 0);
    await new Promise((r) => setTimeout(r, HOLD_MS));
    const cpu1 = pids.reduce((a, p) => a + cpuMs(p), 0);
    const rss1 = pids.reduce((a, p) => a + rssMb(p), 0);
    // Steady holding: wait until no server process is still working off the establishment.
    const heldAt = started + establishS * 1000; // the last poll sent; held ones end 30 s after
    let settled = false;
    let last = pids.map((p) => cpuMs(p));
    while (performance.now() - heldAt < SETTLE_MAX_MS) {
      await new Promise((r) => setTimeout(r, 1000));
      const nowCpu = pids.map((p) => cpuMs(p));
      const busiest = Math.max(...nowCpu.map((c, i) => c - last[i]!));
      last = nowCpu;
      if (busiest < SETTLE_PCT * 10) {
        settled = true;
        break;
      }
    }
    await new Promise((r) => setTimeout(r, SETTLE_QUIET_MS));
    const settleS = ((performance.now() - heldAt) / 1000) * (settled ? 1 : -1);
    const steady0 = pids.reduce((a, p) => a + cpuMs(p), 0);
    await new Promise((r) => setTimeout(r, HOLD_MS));
    const steady1 = pids.reduce((a, p) => a + cpuMs(p), 0);
    const stillHeld = (await Promise.all(workers.map((w) => w.request({ cmd: 'stillHeld' }, 'stillHeld')))).reduce((a, r) => a + r.busy, 0);
    const held = holding.reduce((a, r) => a + r.held, 0);
    const errors = holding.reduce((a, r) => a + r.errors, 0) + (held - stillHeld);
    if (held - stillHeld > 0) {
      // Polls answered before their wait ended: say what the servers said meanwhile (a lost
      // leader lease or LISTEN connection wakes every poll, which then re-reads its assignments).
      const said = shards.flatMap((s) => s.output().split('\n').filter((l) => l.trim() !== '').slice(-8).map((l) => `  ${s.port}: ${l.slice(0, 300)}`));
      console.log(`# ${held - stillHeld} held polls were answered early; the servers' last log lines:\n${said.join('\n')}`);
    }
    if (process.env.SLUICE_BENCH_DEBUG) console.log('hold statuses', JSON.stringify(holding.map((r) => r.statuses)));
    return {
      establishS,
      held: stillHeld,
      errors,
      kbPerPoll: stillHeld > 0 ? ((rss1 - rss0) * 1024) / stillHeld : NaN,
      // % of one core spent holding, per 1,000 held polls
      cpuPctPerThousand: stillHeld > 0 ? ((cpu1 - cpu0) / HOLD_MS) * 100 * (1000 / stillHeld) : NaN,
      steadyPctPerThousand: stillHeld > 0 ? ((steady1 - steady0) / HOLD_MS) * 100 * (1000 / stillHeld) : NaN,
      settleS,
      rssMb: rss1,
    };
  } finally {
    await Promise.all(workers.map((w) => w.close()));
  }
}

interface Row {
  target: Target;
  size: number;
  shards: number;
  max: LoadResult;
  paced: LoadResult;
  hold: HoldResult;
  sustain: LoadResult[];
}

async function measure(target: Target, size: number): Promise<Row> {
  const shardsWanted = Math.ceil(size / PER_PROCESS);
  const per = Math.ceil(size / shardsWanted);
  const shards: Shard[] = [];
  try {
    for (let k = 0; k < shardsWanted; k++) shards.push(await startShard(target, k * per, Math.min(per, size - k * per)));
    const hold = await holdPhase(shards);
    const workers = await Promise.all(shards.map(() => startWorker()));
    try {
      await Promise.all(workers.map((w, k) => w.request({ cmd: 'connect', port: shards[k]!.port, from: shards[k]!.from, count: shards[k]!.count }, 'connected')));
      const max = await loadPhase(shards, workers, 0, MAX_MS, 1000);
      const paced = await loadPhase(shards, workers, 5000, PACED_MS, 5000);
      const sustain: LoadResult[] = [];
      for (let at = 0; at < SUSTAIN_MS; at += SUSTAIN_WINDOW_MS) {
        const w = await loadPhase(shards, workers, 5000, SUSTAIN_WINDOW_MS, at === 0 ? 5000 : 0);
        sustain.push(w);
        console.log(`  sustain ${target} ${size} minute ${sustain.length}: ${fmt(w.rate)}/s p50 ${fmt(w.p50, 1)} p99 ${fmt(w.p99, 1)} ms err ${w.errors} rss ${fmt(w.rssMb)} MB cpu ${fmt(w.cpuPerReqMs, 3)} ms/req`);
      }
      return { target, size, shards: shards.length, max, paced, hold, sustain };
    } finally {
      await Promise.all(workers.map((w) => w.close()));
    }
  } finally {
    await Promise.all(shards.map((s) => s.cleanup()));
  }
}

// ---- report ----

const fmt = (n: number, d = 0) => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }) : '-');
function mmm(values: number[], d = 0): string {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return '-';
  if (v.length === 1) return fmt(v[0]!, d);
  return `${fmt(v[0]!, d)} / ${fmt(v[Math.floor(v.length / 2)]!, d)} / ${fmt(v[v.length - 1]!, d)}`;
}

async function main(): Promise<void> {
  console.log(`# bench/ingest: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${Math.round(totalmem() / 2 ** 30)} GB, node ${process.version}`);
  console.log(`# sizes ${SIZES.join(', ')}; runs ${RUNS}; max ${MAX_MS} ms, paced ${PACED_MS} ms at 5 s, hold ${HOLD_MS} ms`);
  const rows: Row[] = [];
  for (let run = 1; run <= RUNS; run++) {
    for (const size of SIZES) {
      for (const target of TARGETS) {
        if (target === 'pglite' && size > PER_PROCESS) {
          continue; // PGlite is embedded in one process: one process's connections at most
        }
        const t0 = performance.now();
        try {
          const row = await measure(target, size);
          rows.push(row);
          console.log(
            `run ${run} ${target.padEnd(8)} ${String(size).padStart(6)} hosts (${row.shards} proc): ` +
              `max ${fmt(row.max.rate)}/s p50 ${fmt(row.max.p50, 1)} p99 ${fmt(row.max.p99, 1)} ms err ${row.max.errors} cpu ${fmt(row.max.cpuPerReqMs, 3)} ms/req` +
              (target.startsWith('postgres') ? ` (+pg ${fmt(row.max.pgCpuPerReqMs, 3)})` : '') +
              ` rss ${fmt(row.max.rssMb)} MB | paced ${fmt(row.paced.rate)}/s p50 ${fmt(row.paced.p50, 1)} p99 ${fmt(row.paced.p99, 1)} ms err ${row.paced.errors}` +
              ` | hold ${row.hold.held} in ${fmt(row.hold.establishS, 1)} s, ${fmt(row.hold.kbPerPoll, 1)} kB/poll, ${fmt(row.hold.cpuPctPerThousand, 2)} %core/1k (steady ${fmt(row.hold.steadyPctPerThousand, 2)} after ${fmt(row.hold.settleS, 1)} s), err ${row.hold.errors}` +
              ` (${fmt((performance.now() - t0) / 1000)} s)`,
          );
        } catch (err) {
          console.log(`run ${run} ${target} ${size}: failed: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
    }
  }
  const sel = (t: Target, n: number) => rows.filter((r) => r.target === t && r.size === n);
  console.log('\n## Heartbeats, closed loop (min / median / max over runs)\n');
  console.log('| store | hosts | procs | heartbeats/s | ratio to bare | p50 ms | p99 ms | errors | server CPU ms/heartbeat | RSS MB |');
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const size of SIZES) {
    for (const t of TARGETS) {
      const rs = sel(t, size);
      if (rs.length === 0) continue;
      const bare = sel('bare', size);
      const ratios = rs.map((r, i) => (bare[i] ? r.max.rate / bare[i]!.max.rate : NaN));
      const cpu = mmm(rs.map((r) => r.max.cpuPerReqMs), 3) + (t.startsWith('postgres') ? ` (+PG ${mmm(rs.map((r) => r.max.pgCpuPerReqMs), 3)})` : '');
      console.log(`| ${t} | ${fmt(size)} | ${rs[0]!.shards} | ${mmm(rs.map((r) => r.max.rate))} | ${t === 'bare' ? '1' : mmm(ratios, 2)} | ${mmm(rs.map((r) => r.max.p50), 1)} | ${mmm(rs.map((r) => r.max.p99), 1)} | ${mmm(rs.map((r) => r.max.errors))} | ${cpu} | ${mmm(rs.map((r) => r.max.rssMb))} |`);
    }
  }
  console.log('\n## Heartbeats at the default cadence (every agent every 5 s)\n');
  console.log('| store | hosts | offered/s | achieved/s | p50 ms | p99 ms | errors |');
  console.log('|---|---|---|---|---|---|---|');
  for (const size of SIZES) {
    for (const t of TARGETS) {
      const rs = sel(t, size);
      if (rs.length === 0) continue;
      console.log(`| ${t} | ${fmt(size)} | ${fmt(size / 5)} | ${mmm(rs.map((r) => r.paced.rate))} | ${mmm(rs.map((r) => r.paced.p50), 1)} | ${mmm(rs.map((r) => r.paced.p99), 1)} | ${mmm(rs.map((r) => r.paced.errors))} |`);
    }
  }
  if (SUSTAIN_MS > 0) {
    console.log(`\n## Sustained at the default cadence (${fmt(SUSTAIN_MS / 60_000)} minutes, one-minute windows; RSS summed over server processes)\n`);
    console.log('| store | hosts | run | achieved/s (min / median / max of minutes) | p99 ms (min / median / max) | worst p99 ms | errors | RSS MB first minute | RSS MB last minute | RSS MB max |');
    console.log('|---|---|---|---|---|---|---|---|---|---|');
    for (const size of SIZES) {
      for (const t of TARGETS) {
        sel(t, size).forEach((r, i) => {
          const w = r.sustain;
          if (w.length === 0) return;
          console.log(
            `| ${t} | ${fmt(size)} | ${i + 1} | ${mmm(w.map((x) => x.rate))} | ${mmm(w.map((x) => x.p99), 1)} | ${fmt(Math.max(...w.map((x) => x.p99)), 1)} | ${w.reduce((a, x) => a + x.errors, 0)} | ` +
              `${fmt(w[0]!.rssMb)} | ${fmt(w[w.length - 1]!.rssMb)} | ${fmt(Math.max(...w.map((x) => x.rssMb)))} |`,
          );
        });
      }
    }
  }
  console.log('\n## Held long-polls (one per agent)\n');
  console.log('| store | hosts | held | established in s | kB per held poll | ratio to bare | % of a core per 1,000 held, right after | ratio to bare | steady (idle first) | ratio to bare | settled after s | errors |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const size of SIZES) {
    for (const t of TARGETS) {
      const rs = sel(t, size);
      if (rs.length === 0) continue;
      const bare = sel('bare', size);
      const mem = rs.map((r, i) => (bare[i] ? r.hold.kbPerPoll / bare[i]!.hold.kbPerPoll : NaN));
      const cpu = rs.map((r, i) => (bare[i] ? r.hold.cpuPctPerThousand / bare[i]!.hold.cpuPctPerThousand : NaN));
      const steady = rs.map((r, i) => (bare[i] ? r.hold.steadyPctPerThousand / bare[i]!.hold.steadyPctPerThousand : NaN));
      console.log(
        `| ${t} | ${fmt(size)} | ${mmm(rs.map((r) => r.hold.held))} | ${mmm(rs.map((r) => r.hold.establishS), 1)} | ${mmm(rs.map((r) => r.hold.kbPerPoll), 1)} | ${t === 'bare' ? '1' : mmm(mem, 2)} | ` +
          `${mmm(rs.map((r) => r.hold.cpuPctPerThousand), 2)} | ${t === 'bare' ? '1' : mmm(cpu, 2)} | ${mmm(rs.map((r) => r.hold.steadyPctPerThousand), 2)} | ${t === 'bare' ? '1' : mmm(steady, 2)} | ` +
          `${mmm(rs.map((r) => r.hold.settleS), 1)} | ${mmm(rs.map((r) => r.hold.errors))} |`,
      );
    }
  }
}

await main();

// Footprint of what ships, in one run on this machine: start-up time of `sluice --help` and
// `sluice plan check` next to `node -e 0` (min/median/max of RUNS runs each), the idle agent's RSS
// and CPU over a window (default 120 s), and the idle server's RSS on PGlite and on PostgreSQL.
//
// Run: npm run bench:footprint            (builds dist/ first; the figures are for dist/)
// Environment:
//   SLUICE_BIN=/path/to/bin/sluice   measure another checkout's launcher (e.g. a tsx one, "before")
//   SLUICE_AGENT=cli|bundle          the agent as `sluice agent` (cli) or dist/agent/sluice-agent.js
//                                    run by node (bundle, what the .deb ships; the default when
//                                    SLUICE_BIN is not set)
//   FOOTPRINT_RUNS=5 FOOTPRINT_IDLE_S=120 (0: start-up only) FOOTPRINT_POSTGRES=0 (no PostgreSQL server)
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { postgresTestDatabase } from '../test/helpers/postgres.ts';

const REPO = resolve(import.meta.dirname, '..');
const OWN_BIN = join(REPO, 'bin', 'sluice');
const SLUICE = process.env.SLUICE_BIN ? resolve(process.env.SLUICE_BIN) : OWN_BIN;
const AGENT_MODE = process.env.SLUICE_AGENT ?? (process.env.SLUICE_BIN ? 'cli' : 'bundle');
const RUNS = Number(process.env.FOOTPRINT_RUNS ?? 5);
const IDLE_S = Number(process.env.FOOTPRINT_IDLE_S ?? 120);
const WITH_POSTGRES = process.env.FOOTPRINT_POSTGRES !== '0';
const PLAN = join(REPO, 'examples', 'flag-on.yaml');
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

// The V8 flags the .deb's launcher runs the agent with: what is measured is what ships.
const LAUNCHER = readFileSync(join(REPO, 'packaging', 'deb', 'sluice-agent'), 'utf8');
const AGENT_NODE_FLAGS = /exec "\$lib\/node" (.*?) ?"\$lib\/sluice-agent\.js"/.exec(LAUNCHER)?.[1]?.split(/\s+/).filter(Boolean) ?? [];

if (SLUICE === OWN_BIN) execFileSync(process.execPath, [join(REPO, 'scripts', 'build.mjs')], { stdio: 'inherit' });

const fmt = (xs: number[], unit: string, digits = 0) => {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return `min ${s[0]!.toFixed(digits)} / median ${at(0.5).toFixed(digits)} / max ${s[s.length - 1]!.toFixed(digits)} ${unit}`;
};

function timeRuns(cmd: string, args: string[], n: number): number[] {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(cmd, args, { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'] });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr.toString()}`);
    times.push(ms);
  }
  return times;
}

/** RSS (kB) and CPU ticks (user+system) of a process, from /proc. */
function sample(pid: number): { rssKb: number; ticks: number; threads: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  const threads = Number(/Threads:\s+(\d+)/.exec(status)?.[1] ?? 0);
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { rssKb, ticks: Number(fields[11]) + Number(fields[12]), threads };
}

function start(cmd: string, args: string[], env: Record<string, string>): { child: ChildProcess; out: () => string } {
  const child = spawn(cmd, args, { cwd: REPO, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out = (out + c.toString()).slice(-200_000)));
  child.stderr!.on('data', (c: Buffer) => (out = (out + c.toString()).slice(-200_000)));
  return { child, out: () => out };
}

async function until(what: string, fn: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const done = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await done;
  clearTimeout(t);
}

const ADMIN = 'sla_footprint_admin_token_0123456789';
const ENROLL = 'sle_footprint_enroll_token_0123456789';

async function startServer(dir: string, extra: string[] = []) {
  const s = start(SLUICE, ['server', '--listen', '127.0.0.1:0', '--data-dir', join(dir, 'data'), ...extra], {
    SLUICE_ADMIN_TOKEN: ADMIN,
    SLUICE_ENROLL_TOKEN: ENROLL,
    SLUICE_LOG_LEVEL: 'warn',
  });
  let url = '';
  await until('the server to listen', () => {
    const m = /listening on (http:\/\/[\d.:]+)/.exec(s.out());
    if (m) url = m[1]!;
    return url !== '' || s.child.exitCode !== null;
  }, 120_000);
  if (url === '') throw new Error(`server exited: ${s.out()}`);
  return { ...s, url };
}

const machine = `${cpus().length} x ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}, load ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`;
console.log(`footprint of ${SLUICE} on ${machine}`);
console.log(`start-up (${RUNS} runs each, wall clock):`);
const nodeTimes: number[] = [];
const helpTimes: number[] = [];
const checkTimes: number[] = [];
// Interleaved, so load on the machine falls on all three alike.
for (let i = 0; i < RUNS; i++) {
  nodeTimes.push(...timeRuns(process.execPath, ['-e', '0'], 1));
  helpTimes.push(...timeRuns(SLUICE, ['--help'], 1));
  checkTimes.push(...timeRuns(SLUICE, ['plan', 'check', PLAN], 1));
}
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`  node -e 0                 ${fmt(nodeTimes, 'ms')}`);
console.log(`  sluice --help             ${fmt(helpTimes, 'ms')}  (median ${(med(helpTimes) / med(nodeTimes)).toFixed(2)}x node -e 0)`);
console.log(`  sluice plan check FILE    ${fmt(checkTimes, 'ms')}  (median ${(med(checkTimes) / med(nodeTimes)).toFixed(2)}x node -e 0)`);

if (IDLE_S === 0) process.exit(0); // FOOTPRINT_IDLE_S=0: start-up figures only

const dir = mkdtempSync(join(tmpdir(), 'sluice-footprint-'));
const children: ChildProcess[] = [];
let pgCleanup: (() => Promise<void>) | null = null;
try {
  const server = await startServer(dir);
  children.push(server.child);
  let pgServer: Awaited<ReturnType<typeof startServer>> | null = null;
  if (WITH_POSTGRES) {
    const db = await postgresTestDatabase();
    if (db) {
      pgCleanup = db.cleanup;
      pgServer = await startServer(join(dir, 'pg'), ['--database-url', db.url]);
      children.push(pgServer.child);
    } else console.log('  (PostgreSQL not reachable: no PostgreSQL figure)');
  }
  const stateDir = join(dir, 'agent');
  const agentArgs = ['--server', server.url, '--name', 'footprint-1', '--labels', 'env=bench', '--state-dir', stateDir];
  const agent =
    AGENT_MODE === 'bundle'
      ? start(process.execPath, [...AGENT_NODE_FLAGS, join(REPO, 'dist', 'agent', 'sluice-agent.js'), ...agentArgs], { SLUICE_ENROLL_TOKEN: ENROLL, SLUICE_LOG_LEVEL: 'warn' })
      : start(SLUICE, ['agent', ...agentArgs], { SLUICE_ENROLL_TOKEN: ENROLL, SLUICE_LOG_LEVEL: 'warn' });
  children.push(agent.child);
  await until('the agent to enroll', () => existsSync(join(stateDir, 'credential.json')) || agent.child.exitCode !== null, 60_000);
  if (agent.child.exitCode !== null) throw new Error(`agent exited: ${agent.out()}`);
  // Let start-up garbage settle, then watch an agent with nothing to do.
  await new Promise((r) => setTimeout(r, 5000));
  const pids = { agent: agent.child.pid!, server: server.child.pid!, ...(pgServer ? { pg: pgServer.child.pid! } : {}) };
  const first = { agent: sample(pids.agent), server: sample(pids.server) };
  const rss: Record<string, number[]> = { agent: [], server: [], pg: [] };
  let threads = 0;
  const t0 = Date.now();
  while (Date.now() - t0 < IDLE_S * 1000) {
    await new Promise((r) => setTimeout(r, 1000));
    const a = sample(pids.agent);
    rss.agent!.push(a.rssKb / 1024);
    threads = a.threads;
    rss.server!.push(sample(pids.server).rssKb / 1024);
    if (pids.pg) rss.pg!.push(sample(pids.pg).rssKb / 1024);
  }
  const wallS = (Date.now() - t0) / 1000;
  const last = { agent: sample(pids.agent), server: sample(pids.server) };
  const cpu = (k: 'agent' | 'server') => (((last[k].ticks - first[k].ticks) / CLK_TCK / wallS) * 100).toFixed(2);
  console.log(`idle over ${wallS.toFixed(0)} s (agent: ${AGENT_MODE === 'bundle' ? `node ${AGENT_NODE_FLAGS.join(' ')} dist/agent/sluice-agent.js` : 'sluice agent'}, heartbeat 5s, drift report; sampled every second):`);
  console.log(`  agent RSS                 ${fmt(rss.agent!, 'MB', 1)}; CPU ${cpu('agent')}% of one core; ${threads} threads`);
  console.log(`  server RSS, PGlite        ${fmt(rss.server!, 'MB', 1)}; CPU ${cpu('server')}% (fresh data dir, one agent)`);
  if (pids.pg) console.log(`  server RSS, PostgreSQL    ${fmt(rss.pg!, 'MB', 1)} (no agent)`);
} finally {
  for (const c of children.reverse()) await stop(c);
  if (pgCleanup) await pgCleanup();
  rmSync(dir, { recursive: true, force: true });
}

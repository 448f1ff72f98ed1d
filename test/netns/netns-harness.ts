// Test fleet in network namespaces: a hub namespace with a bridge and N host namespaces joined to it
// by veth pairs (10.231.0.0/24, only inside the namespaces). Names carry a per-run prefix so
// parallel runs never collide; every namespace is deleted in teardown and again at process exit.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { runArgv } from '../../src/agent/exec.ts';
import { netnsRunner } from '../../src/agent/facts/argv-runner.ts';
import type { ArgvRunner } from '../../src/agent/facts/argv-runner.ts';

export const HUB_ADDR = '10.231.0.1';

export interface NetnsHost {
  readonly name: string;
  readonly ns: string;
  readonly addr: string;
  /** Runs argv inside this host's namespace. */
  readonly run: ArgvRunner;
}

export interface NetnsFleet {
  readonly prefix: string;
  readonly hub: string;
  readonly hosts: readonly NetnsHost[];
  readonly teardown: () => Promise<void>;
}

const live = new Set<string>();
const children = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  const cleanup = () => {
    for (const c of children) if (c.pid !== undefined) try { process.kill(c.pid, 'SIGKILL'); } catch { /* gone */ }
    children.clear();
    for (const ns of live) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore', timeout: 5000 });
    live.clear();
  };
  process.on('exit', cleanup);
  // An interrupted run must not leave namespaces behind either.
  for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    process.once(sig, () => {
      cleanup();
      process.exit(code);
    });
  }
}

/** Why namespace tests cannot run here, or null when they can. */
export async function netnsUnavailableReason(): Promise<string | null> {
  if (process.getuid?.() !== 0) return 'not root';
  const probe = `slprobe${randomBytes(3).toString('hex')}`;
  const add = await runArgv(['ip', 'netns', 'add', probe], { timeoutMs: 5000 });
  if (add.exitCode !== 0) return `ip netns unavailable: ${add.error ?? add.stderr.trim()}`;
  await runArgv(['ip', 'netns', 'del', probe], { timeoutMs: 5000 });
  return null;
}

/**
 * `describe` or `describe.skip` for namespace suites: skips with a visible message when not root or
 * without `ip netns`, except with CI=true, where the suite must run (and fails instead).
 */
export async function netnsSuiteMode(suite: string): Promise<'run' | 'skip'> {
  const reason = await netnsUnavailableReason();
  if (reason === null) return 'run';
  if (process.env['CI'] === 'true') return 'run'; // let it fail loudly in CI
  console.warn(`[${suite}] SKIPPED: network namespace tests need root and ip netns (${reason})`);
  return 'skip';
}

async function ip(args: string[]): Promise<void> {
  const res = await runArgv(['ip', ...args], { timeoutMs: 10_000 });
  if (res.exitCode !== 0) throw new Error(`ip ${args.join(' ')}: ${res.error ?? res.stderr.trim()}`);
}

export function uniquePrefix(tag: string): string {
  return `sl${tag}${process.pid.toString(36)}${randomBytes(2).toString('hex')}`;
}

export async function createNetnsFleet(count: number, tag = 't'): Promise<NetnsFleet> {
  if (count < 1 || count > 50) throw new Error('1..50 hosts');
  installExitHook();
  const prefix = uniquePrefix(tag);
  const hub = `${prefix}-hub`;
  const hosts: NetnsHost[] = [];
  const teardown = async () => {
    for (const ns of [...hosts.map((h) => h.ns), hub]) {
      if (!live.has(ns)) continue;
      await runArgv(['ip', 'netns', 'del', ns], { timeoutMs: 10_000 });
      live.delete(ns);
    }
  };
  try {
    await ip(['netns', 'add', hub]);
    live.add(hub);
    await ip(['-n', hub, 'link', 'set', 'lo', 'up']);
    await ip(['-n', hub, 'link', 'add', 'br0', 'type', 'bridge']);
    await ip(['-n', hub, 'addr', 'add', `${HUB_ADDR}/24`, 'dev', 'br0']);
    await ip(['-n', hub, 'link', 'set', 'br0', 'up']);
    for (let i = 0; i < count; i++) {
      const ns = `${prefix}-h${i}`;
      const addr = `10.231.0.${10 + i}`;
      await ip(['netns', 'add', ns]);
      live.add(ns);
      await ip(['-n', ns, 'link', 'set', 'lo', 'up']);
      // Created inside the hub, so interface names only need to be unique there.
      await ip(['-n', hub, 'link', 'add', `vh${i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      await ip(['-n', hub, 'link', 'set', `vh${i}`, 'master', 'br0']);
      await ip(['-n', hub, 'link', 'set', `vh${i}`, 'up']);
      await ip(['-n', ns, 'addr', 'add', `${addr}/24`, 'dev', 'eth0']);
      await ip(['-n', ns, 'link', 'set', 'eth0', 'up']);
      hosts.push({ name: `host-${i}`, ns, addr, run: netnsRunner(ns) });
    }
  } catch (err) {
    await teardown();
    throw err;
  }
  return { prefix, hub, hosts, teardown };
}

/**
 * Cilium's rules on a node: `lookup local` moved from priority 0 to 100, a source rule at 111 to
 * table 11 (with its routes), a fwmark rule at 9 to table 2004.
 */
export async function addCiliumRules(host: NetnsHost): Promise<void> {
  const n = host.ns;
  await ip(['-n', n, 'rule', 'add', 'priority', '100', 'lookup', 'local']);
  await ip(['-n', n, 'rule', 'del', 'priority', '0', 'lookup', 'local']);
  await ip(['-n', n, 'route', 'add', '10.231.0.0/24', 'dev', 'eth0', 'table', '11']);
  await ip(['-n', n, 'route', 'add', 'default', 'via', HUB_ADDR, 'dev', 'eth0', 'table', '11']);
  await ip(['-n', n, 'rule', 'add', 'priority', '111', 'from', host.addr, 'lookup', '11']);
  await ip(['-n', n, 'route', 'add', 'local', 'default', 'dev', 'lo', 'table', '2004']);
  await ip(['-n', n, 'rule', 'add', 'priority', '9', 'fwmark', '0x200/0xf00', 'lookup', '2004']);
}

/** A TCP listener in the hub namespace (a child process we started; stopped with `stop`). */
export async function startHubListener(fleet: NetnsFleet, port: number): Promise<{ stop: () => void }> {
  installExitHook();
  const script = `require('node:net').createServer((s) => s.end('ok\\n')).listen(${port}, '${HUB_ADDR}', () => console.log('listening'))`;
  const child = spawn('ip', ['netns', 'exec', fleet.hub, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(child);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('hub listener did not start within 10 s')), 10_000);
    child.stdout?.on('data', (d: Buffer) => {
      if (d.toString().includes('listening')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`hub listener exited with ${code}`));
    });
  });
  return {
    stop: () => {
      if (child.pid !== undefined && child.exitCode === null) child.kill('SIGKILL');
      children.delete(child);
    },
  };
}

/** Whether `host` can open a TCP connection to the hub listener (2 s connect timeout). */
export async function canReachHub(host: NetnsHost, port: number): Promise<boolean> {
  const script =
    `const s = require('node:net').connect({ host: '${HUB_ADDR}', port: ${port}, timeout: 2000 });` +
    `s.on('data', () => process.exit(0)); s.on('timeout', () => process.exit(2)); s.on('error', () => process.exit(3));`;
  const res = await host.run([process.execPath, '-e', script], { timeoutMs: 8000 });
  return res.exitCode === 0;
}

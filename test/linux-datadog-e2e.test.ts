// The Datadog morning, end to end, as root: a real `sluice server` in a hub network namespace and
// real `sluice agent` processes in host namespaces (joined to the hub by veth pairs), each with
// Cilium-style rules and its own dpkg root. The patch is a real .deb whose postinst deletes foreign
// routing-policy rules, as the systemd-networkd restart did. The test process reaches the server's
// API through a unix socket bridged into the hub: the hosts reach it only through their veth.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAptRunner } from '../src/agent/changes/apt.ts';
import { describeRule, takeInvariantSnapshot } from '../src/agent/checks/invariants.ts';
import { readPackageInventory } from '../src/agent/facts/dpkg-packages.ts';
import { ADMIN_TOKEN, ENROLL_TOKEN, SLUICE, api, waitFor } from './helpers/processes.ts';
import { KOPS_PACKAGE, TEST_PACKAGE, buildTestRepo, createHostRoot } from './helpers/test-debs.ts';
import { HUB_ADDR, addCiliumRules, canReachHub, createNetnsFleet, netnsSuiteMode, startHubListener } from './netns/netns-harness.ts';
import type { NetnsFleet, NetnsHost } from './netns/netns-harness.ts';

const mode = await netnsSuiteMode('linux-datadog-e2e');
const log = { info() {}, warn() {}, error() {} };
/** The server's port inside the hub namespace (nothing else listens there). */
const PORT = 7400;
/** A plain TCP listener in the hub for canReachHub. */
const PROBE_PORT = 7411;
const SERVER = `http://${HUB_ADDR}:${PORT}`;

interface NsProc {
  readonly child: ChildProcess;
  output(): string;
  kill(): Promise<void>;
}

const procs: NsProc[] = [];

/** Runs argv inside namespace `ns` (a child we started; killed by pid in teardown). */
function startInNs(ns: string, argv: readonly string[], env: Record<string, string> = {}): NsProc {
  const child = spawn('ip', ['netns', 'exec', ns, ...argv], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (c: Buffer) => {
    out += c.toString();
    if (out.length > 2_000_000) out = out.slice(-1_000_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const proc: NsProc = {
    child,
    output: () => out,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
  procs.push(proc);
  return proc;
}

let dir = '';
let fleet: NetnsFleet | null = null;
let probe: { stop: () => void } | null = null;
let bridge: Server | null = null;
let apiUrl = '';
const roots = new Map<string, string>();
const LABELS: Record<string, string>[] = [
  { provider: 'aws', region: 'r1', zone: 'r1-a', slot: 's0' },
  { provider: 'gcp', region: 'r1', zone: 'r1-b', slot: 's1' },
  { provider: 'aws', region: 'r2', zone: 'r2-a', slot: 's2' },
  { provider: 'gcp', region: 'r2', zone: 'r2-b', slot: 's3' },
  // No zone: never in a rollout here. Its agent runs the drift guard in enforce mode.
  { slot: 's4' },
];
const DRIFT_HOST = 4;

function host(i: number): NetnsHost {
  return fleet!.hosts[i]!;
}

async function installed(h: NetnsHost): Promise<Record<string, string>> {
  return { ...(await readPackageInventory(roots.get(h.ns)!, h.run)).packages };
}

async function rules(h: NetnsHost): Promise<string[]> {
  return (await takeInvariantSnapshot({ run: h.run })).rules.map(describeRule);
}

async function dpkgLog(h: NetnsHost): Promise<string[]> {
  const text = await readFile(join(roots.get(h.ns)!, 'var/log/dpkg.log'), 'utf8').catch(() => '');
  return text.split('\n').filter((l) => / (install|upgrade|remove|purge) /.test(l));
}

const cilium = (h: NetnsHost) => ['9: from all fwmark 0x200/0xf00 lookup 2004', '100: from all lookup local', `111: from ${h.addr} lookup 11`];

async function startRollout(yaml: string): Promise<string> {
  return (await api(apiUrl, 'POST', '/v1/rollouts', { plan: yaml, file: 'plan.yaml' })).id as string;
}

async function waitFinal(id: string, timeoutMs = 90_000): Promise<any> {
  return waitFor(
    `rollout ${id} to finish`,
    async () => {
      const view = await api(apiUrl, 'GET', `/v1/rollouts/${id}`);
      return ['completed', 'halted', 'rolled_back', 'aborted'].includes(view.state) ? view : null;
    },
    timeoutMs,
    250,
  );
}

async function events(id: string): Promise<{ kind: string; message: string; host: string | null }[]> {
  return (await api(apiUrl, 'GET', `/v1/rollouts/${id}/events`)).events;
}

function stepOf(view: any, name: string): any {
  for (const w of view.waves) for (const h of w.hosts) if (h.name === name) return h;
  return undefined;
}

function plan(o: { name: string; slot?: string; install: string; checks: string; confirmWindow: string; preflight: 'block' | 'warn'; onFailure: 'rollback' | 'halt'; waves?: string }): string {
  return `
name: ${o.name}
change:
  apt:
    install: { ${o.install} }
    timeout: 2m
${o.slot ? `hosts: { match: { slot: ${o.slot} } }` : ''}
waves:
${o.waves ?? '  - { name: all, bake: 2s }'}
checks:
${o.checks}
checkInterval: 1s
preflight: ${o.preflight}
confirmWindow: ${o.confirmWindow}
budget: { failedPerWave: 0, failedTotal: 0, silentAfter: 60s }
onFailure: ${o.onFailure}
`;
}

/** The API through a unix socket: a forwarder in the hub namespace, and a local TCP end for fetch. */
async function bridgeApi(sock: string): Promise<string> {
  const script =
    `const net = require('node:net');` +
    `net.createServer((c) => { const s = net.connect(${PORT}, '${HUB_ADDR}'); c.pipe(s).pipe(c);` +
    ` c.on('error', () => s.destroy()); s.on('error', () => c.destroy()); }).listen(${JSON.stringify(sock)}, () => console.log('bridging'));`;
  const fwd = startInNs(fleet!.hub, [process.execPath, '-e', script]);
  await waitFor('the hub bridge', () => fwd.output().includes('bridging'), 10_000, 50);
  bridge = createServer((c: Socket) => {
    const s = createConnection(sock);
    c.pipe(s).pipe(c);
    c.on('error', () => s.destroy());
    s.on('error', () => c.destroy());
  });
  await new Promise<void>((r) => bridge!.listen(0, '127.0.0.1', () => r()));
  const addr = bridge.address();
  if (addr === null || typeof addr === 'string') throw new Error('bridge has no port');
  return `http://127.0.0.1:${addr.port}`;
}

describe.skipIf(mode === 'skip')('the Datadog morning with real server and agents in network namespaces', () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-datadog-e2e-'));
    const repo = await buildTestRepo(dir);
    fleet = await createNetnsFleet(LABELS.length, 'd');
    probe = await startHubListener(fleet, PROBE_PORT);
    await Promise.all(
      fleet.hosts.map(async (h) => {
        await addCiliumRules(h);
        const root = await createHostRoot(join(dir, h.ns, 'root'), repo, h.run);
        // Ubuntu 22.04: systemd-networkd starts at boot (what makes the preflight condition real).
        await mkdir(join(root, 'etc/systemd/system/multi-user.target.wants'), { recursive: true });
        await symlink('/lib/systemd/system/systemd-networkd.service', join(root, 'etc/systemd/system/multi-user.target.wants/systemd-networkd.service'));
        roots.set(h.ns, root);
        const v1 = { kind: 'apt' as const, install: { [TEST_PACKAGE]: '1' }, remove: [], timeout: 120_000 };
        const res = await createAptRunner(h.run).apply(v1, { stateDir: join(dir, h.ns, 'setup'), stepKey: 'setup', timeout: 120_000, fileDirs: [], root, log });
        if (!res.ok) throw new Error(res.message);
      }),
    );
    const server = startInNs(fleet.hub, [SLUICE, 'server', '--listen', `${HUB_ADDR}:${PORT}`, '--data-dir', join(dir, 'server')], {
      SLUICE_ADMIN_TOKEN: ADMIN_TOKEN,
      SLUICE_ENROLL_TOKEN: ENROLL_TOKEN,
    });
    await waitFor('the server to listen in the hub', () => {
      if (server.child.exitCode !== null) throw new Error(`server exited: ${server.output()}`);
      return server.output().includes(`listening on ${SERVER}`);
    }, 120_000, 100); // a loaded machine (the suite shares 2 cores) can take a minute to start PGlite
    apiUrl = await bridgeApi(join(dir, 'api.sock'));
    fleet.hosts.forEach((h, i) => {
      const labels = Object.entries(LABELS[i]!).map(([k, v]) => `${k}=${v}`).join(',');
      startInNs(h.ns, [
        SLUICE, 'agent', '--server', SERVER, '--name', h.name, '--labels', labels, '--allow', 'apt,command-check',
        '--root', roots.get(h.ns)!, '--state-dir', join(dir, h.ns, 'agent'), '--heartbeat', '1s',
        ...(i === DRIFT_HOST ? ['--drift', 'enforce', '--drift-interval', '1s', '--drift-routing', 'on'] : []),
      ], { SLUICE_TOKEN: ENROLL_TOKEN });
    });
    await waitFor(`${LABELS.length} agents online`, async () => {
      const { hosts } = await api(apiUrl, 'GET', '/v1/hosts');
      return hosts.filter((x: any) => x.status === 'online').length === LABELS.length;
    }, 60_000, 250);
  }, 240_000);

  afterAll(async () => {
    // Agents first, then the server and the bridge (each a child we started).
    for (const p of procs.slice().reverse()) await p.kill();
    bridge?.close();
    probe?.stop();
    await fleet?.teardown();
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('canary first with ipRulesPreserved: the canary fails, is restored and reachable, no other host ever installs v2', async () => {
    const id = await startRollout(plan({
      name: 'datadog-morning',
      install: `${TEST_PACKAGE}: "2"`,
      waves: '  - { name: canary, match: { slot: s0 }, size: 1, bake: 5s }\n  - { name: zones, each: zone, bake: 1s }',
      checks: '  - ipRulesPreserved: {}',
      confirmWindow: '30s',
      preflight: 'warn',
      onFailure: 'rollback',
    }));
    const view = await waitFinal(id);
    expect(view.state).toBe('rolled_back');
    const canary = host(0);
    expect(stepOf(view, canary.name)?.state).toBe('rolled_back');
    const failed = (await events(id)).find((e) => e.kind === 'host.failed' && e.host === canary.name);
    // The canary was cut off by the change: its agent put the rules back by itself and then said why.
    expect(failed?.message).toContain('ipRulesPreserved');
    expect(failed?.message).toContain('100: from all lookup local');

    expect(await installed(canary)).toEqual({ [TEST_PACKAGE]: '1' });
    expect(await rules(canary)).toEqual(expect.arrayContaining(cilium(canary)));
    expect(await canReachHub(canary, PROBE_PORT)).toBe(true);
    const canaryLog = await dpkgLog(canary);
    expect(canaryLog.filter((l) => l.endsWith(`upgrade ${TEST_PACKAGE}:all 1 2`))).toHaveLength(1);
    expect(canaryLog.filter((l) => l.endsWith(`upgrade ${TEST_PACKAGE}:all 2 1`))).toHaveLength(1);
    for (const h of fleet!.hosts.slice(1)) {
      expect((await dpkgLog(h)).filter((l) => / 2$/.test(l)), h.name).toEqual([]);
      expect(await installed(h)).toEqual({ [TEST_PACKAGE]: '1' });
      expect(stepOf(view, h.name)?.state ?? 'pending').toBe('pending');
    }
  }, 120_000);

  it('commit-confirmed: a host cut off from the server rolls back and restores its rules by itself, and reports once reconnected', async () => {
    const h = host(1);
    const id = await startRollout(plan({
      name: 'cut-off',
      slot: 's1',
      install: `${TEST_PACKAGE}: "2"`,
      // A check that passes on the host itself: only reachability can catch this change.
      checks: '  - name: alive\n    command: ["true"]',
      confirmWindow: '6s',
      preflight: 'warn',
      onFailure: 'rollback',
    }));
    const view = await waitFinal(id);
    expect(view.state).toBe('rolled_back');
    const failed = (await events(id)).find((e) => e.kind === 'host.failed' && e.host === h.name);
    expect(failed?.message).toMatch(/rolled back locally \(commit-confirmed\): could not reach the server/);
    expect(stepOf(view, h.name)?.state).toBe('rolled_back');
    expect(await installed(h)).toEqual({ [TEST_PACKAGE]: '1' });
    expect(await rules(h)).toEqual(expect.arrayContaining(cilium(h)));
    expect(await canReachHub(h, PROBE_PORT)).toBe(true);
    // The server's later rollback order got the stored outcome: the downgrade ran once.
    expect((await dpkgLog(h)).filter((l) => l.endsWith(`upgrade ${TEST_PACKAGE}:all 2 1`))).toHaveLength(1);
  }, 120_000);

  it('kops 2025: only per-pod rules vanish; a tcp check alone lets it through, ipRulesPreserved halts it', async () => {
    const tcp = `  - tcp: { host: ${HUB_ADDR}, port: ${PORT}, timeout: 2s }`;
    const blind = host(2);
    const blindId = await startRollout(plan({
      name: 'kops-tcp-only', slot: 's2', install: `${KOPS_PACKAGE}: "1"`, checks: tcp, confirmWindow: '5s', preflight: 'warn', onFailure: 'rollback',
    }));
    expect((await waitFinal(blindId)).state).toBe('completed');
    expect((await installed(blind))[KOPS_PACKAGE]).toBe('1');
    const left = await rules(blind);
    expect(left).toContain('100: from all lookup local');
    expect(left).not.toContain(`111: from ${blind.addr} lookup 11`);
    expect(await canReachHub(blind, PROBE_PORT)).toBe(true); // why the reachability check saw nothing

    const guarded = host(3);
    const guardedId = await startRollout(plan({
      name: 'kops-guarded', slot: 's3', install: `${KOPS_PACKAGE}: "1"`, checks: `${tcp}\n  - ipRulesPreserved: {}`, confirmWindow: '5s', preflight: 'warn', onFailure: 'rollback',
    }));
    const view = await waitFinal(guardedId);
    expect(view.state).toBe('rolled_back');
    const failed = (await events(guardedId)).find((e) => e.kind === 'host.failed' && e.host === guarded.name);
    expect(failed?.message).toContain(`111: from ${guarded.addr} lookup 11`);
    expect((await installed(guarded))[KOPS_PACKAGE]).toBeUndefined();
    expect(await rules(guarded)).toEqual(expect.arrayContaining(cilium(guarded)));
  }, 120_000);

  it('a rollback the server orders after an invariant check failed also restores the rules (commit-confirmed off)', async () => {
    const h = host(3);
    const id = await startRollout(plan({
      name: 'server-ordered', slot: 's3', install: `${KOPS_PACKAGE}: "1"`, checks: '  - ipRulesPreserved: {}', confirmWindow: '0s', preflight: 'warn', onFailure: 'rollback',
    }));
    const view = await waitFinal(id);
    expect(view.state).toBe('rolled_back');
    const log = await events(id);
    const failed = log.find((e) => e.kind === 'host.failed' && e.host === h.name);
    // Found by the check the server collected, not by the agent on its own.
    expect(failed?.message).toContain(`111: from ${h.addr} lookup 11`);
    expect(failed?.message).not.toContain('commit-confirmed');
    expect(log.some((e) => e.kind === 'report.rollback' && e.host === h.name && e.message.includes('succeeded'))).toBe(true);
    // Purging the package does not bring rules back: the agent's restore from its snapshot does.
    expect((await installed(h))[KOPS_PACKAGE]).toBeUndefined();
    expect(await rules(h)).toEqual(expect.arrayContaining(cilium(h)));
  }, 120_000);

  it('preflight block: a host whose networkd would drop its foreign rules fails before anything is applied', async () => {
    const h = host(0);
    const before = await dpkgLog(h);
    const id = await startRollout(plan({
      name: 'preflight-block', slot: 's0', install: `${TEST_PACKAGE}: "2"`, checks: '  - ipRulesPreserved: {}', confirmWindow: '30s', preflight: 'block', onFailure: 'halt',
    }));
    const view = await waitFinal(id);
    expect(view.state).toBe('halted');
    const step = stepOf(view, h.name);
    expect(step?.state).toBe('failed');
    expect(step?.message).toContain('apply failed: preflight: would lose 3 routing-policy rules if systemd-networkd restarts');
    expect(await installed(h)).toEqual({ [TEST_PACKAGE]: '1' });
    expect(await dpkgLog(h)).toEqual(before);
    expect(await rules(h)).toEqual(expect.arrayContaining(cilium(h)));
  }, 60_000);
  it('drift enforce: rules that vanish while no change runs are put back from the last good snapshot, and reported', async () => {
    const h = host(DRIFT_HOST);
    expect(await rules(h)).toEqual(expect.arrayContaining(cilium(h)));
    // What a networkd restart did to the Datadog hosts, with no rollout anywhere near this host.
    for (const pref of ['9', '100', '111']) {
      const res = await h.run(['ip', 'rule', 'del', 'pref', pref], { timeoutMs: 5000 });
      expect(res.exitCode, `ip rule del pref ${pref}`).toBe(0);
    }
    expect(await rules(h)).not.toContain('100: from all lookup local');
    await waitFor('the drift guard to restore the rules', async () => {
      const now = await rules(h);
      return cilium(h).every((r) => now.includes(r));
    }, 30_000, 250);
    expect(await canReachHub(h, PROBE_PORT)).toBe(true);
    const kinds = await waitFor('the drift report to reach the server', async () => {
      const view = await api(apiUrl, 'GET', `/v1/drift?host=${h.name}`);
      const k = new Set<string>(view.events.filter((e: any) => e.host === h.name).map((e: any) => e.kind));
      return k.has('rules-vanished') && k.has('restored') ? k : null;
    }, 30_000, 250);
    expect(kinds.has('enforced')).toBe(true);
  }, 120_000);
});

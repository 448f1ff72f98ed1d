// The drift guard end to end on a test host root: a real in-process server, a real agent
// (startAgent with --drift report|enforce), and the CLI in-process. No network namespace needed:
// the root is a directory with apt.conf.d, systemd unit links, a dpkg database and dpkg.log.
import { appendFile, lstat, mkdir, mkdtemp, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type AgentHandle } from '../src/agent/agent.ts';
import type { DriftPolicy } from '../src/agent/drift-guard.ts';
import { APT_DROPIN, TIMER_MASK } from '../src/agent/drift/enforce.ts';
import { createMemoryLog } from '../src/agent/log.ts';
import { checkPlan } from '../src/core/plan/parse-plan.ts';
import { registerDriftCommand } from '../src/cli/drift-command.ts';
import { registerPlanCommands, runPlanCheck } from '../src/cli/plan-command.ts';
import { runCli } from '../src/cli/run-cli.ts';
import { createTestIo } from '../src/cli/test-io.ts';
import { registerUpdatesCommand } from '../src/cli/updates-command.ts';
import { silentLogger } from '../src/server/logger.ts';
import { startServer, type RunningServer } from '../src/server/start-server.ts';
import { waitFor } from './agent-fake-peer.ts';

let server: RunningServer;
let dir: string;
let root: string;
let agent: AgentHandle | null = null;

function status(version: string): string {
  return `Package: sluice-testpkg\nStatus: install ok installed\nVersion: ${version}\nArchitecture: all\nMaintainer: Sluice <sluice@example.invalid>\nDescription: test\n\n` +
    `Package: systemd\nStatus: install ok installed\nVersion: 249.11-0ubuntu3.6\nArchitecture: amd64\nMaintainer: Ubuntu <u@example.invalid>\nDescription: system and service manager\n\n`;
}

async function call(method: string, path: string, token: string | null, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(server.url + path, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, json: await res.json().catch(() => null) };
}

async function drift(): Promise<any> {
  const { status: code, json } = await call('GET', '/v1/drift?host=web-1', server.adminToken);
  if (code === 404) return { hosts: [], events: [], summary: {} }; // not enrolled yet
  expect(code).toBe(200);
  return json;
}

const openKinds = async () => ((await drift()).hosts[0]?.open ?? []).map((e: any) => e.kind).sort() as string[];

async function startGuarded(policy: DriftPolicy): Promise<void> {
  await stopAgent();
  agent = await startAgent({
    server: server.url,
    token: server.enrollToken,
    name: 'web-1',
    labels: { env: 'prod', provider: 'aws', region: 'eu-west-1', zone: 'eu-west-1a', os: 'ubuntu-22.04' },
    allow: [],
    stateDir: join(dir, 'state'),
    root,
    heartbeatMs: 100,
    pollWaitMs: 1000,
    backoff: { initialMs: 20, maxMs: 200 },
    log: createMemoryLog(),
    drift: {
      policy,
      intervalMs: 100,
      routing: false,
      updatesDelayMs: 0,
      pendingUpdates: async () => ({
        checkedAt: Date.now(),
        updates: [
          { package: 'systemd', installed: '249.11-0ubuntu3.6', candidate: '249.11-0ubuntu3.7', security: true, origins: ['Ubuntu:22.04/jammy-security'] },
          { package: 'tzdata', installed: '2022g', candidate: '2023c', security: false, origins: ['Ubuntu:22.04/jammy-updates'] },
        ],
      }),
    },
  });
}

async function stopAgent(): Promise<void> {
  await agent?.stop();
  agent = null;
}

async function exists(path: string): Promise<boolean> {
  return (await lstat(path).catch(() => null)) !== null;
}

beforeAll(async () => {
  server = await startServer({ listen: '127.0.0.1:0', memory: true, log: silentLogger(), tickMs: 50, heartbeatMs: 100 });
  dir = await mkdtemp(join(tmpdir(), 'sluice-agent-drift-'));
  root = join(dir, 'root');
  // What Ubuntu's unattended-upgrades package leaves behind: 20auto-upgrades and an enabled timer.
  await mkdir(join(root, 'etc/apt/apt.conf.d'), { recursive: true });
  await writeFile(join(root, 'etc/apt/apt.conf.d/20auto-upgrades'), 'APT::Periodic::Update-Package-Lists "1";\nAPT::Periodic::Unattended-Upgrade "1";\n');
  await mkdir(join(root, 'etc/systemd/system/timers.target.wants'), { recursive: true });
  await symlink('/lib/systemd/system/apt-daily-upgrade.timer', join(root, 'etc/systemd/system/timers.target.wants/apt-daily-upgrade.timer'));
  await mkdir(join(root, 'var/lib/dpkg'), { recursive: true });
  await writeFile(join(root, 'var/lib/dpkg/status'), status('1'));
  await mkdir(join(root, 'var/log'), { recursive: true });
  await writeFile(join(root, 'var/log/dpkg.log'), '2026-01-01 05:00:00 install sluice-testpkg:all <none> 1\n');
});

afterAll(async () => {
  await stopAgent();
  await server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('drift guard: agent, server and CLI', () => {
  it('reports unattended-upgrades able to run as open drift (report)', async () => {
    await startGuarded('report');
    await waitFor('unattended-upgrades drift', async () => (await openKinds()).includes('unattended-upgrades-enabled'));
    const view = await drift();
    expect(view.hosts[0]).toMatchObject({ name: 'web-1', policy: 'report' });
    expect(view.summary).toMatchObject({ hosts: 1, hostsWithDrift: 1, hostsByKind: { 'unattended-upgrades-enabled': 1 } });
    expect(view.hosts[0].open[0].message).toContain('/etc/apt/apt.conf.d/20auto-upgrades');
    // the dpkg.log history from before the agent started is not drift
    expect(view.events.filter((e: any) => e.kind === 'package-changed')).toEqual([]);
  });

  it('reports a package version changed with no Sluice step (dpkg status and dpkg.log)', async () => {
    // as dpkg does it: the log line first, then the database
    await appendFile(join(root, 'var/log/dpkg.log'), '2026-01-02 06:12:00 upgrade sluice-testpkg:all 1 2\n');
    await writeFile(join(root, 'var/lib/dpkg/status'), status('2'));
    await waitFor('package drift', async () => (await openKinds()).includes('package-changed'));
    const event = (await drift()).events.find((e: any) => e.kind === 'package-changed');
    expect(event).toMatchObject({ host: 'web-1', subject: 'sluice-testpkg', resolvedAt: null });
    // seen in dpkg.log and in the database, in one round or two: one event either way
    expect(event.message).toMatch(/^sluice-testpkg changed with no Sluice step: .*1 -> 2.*2026-01-02 06:12:00/);
    // reported once, not on every round
    await new Promise((r) => setTimeout(r, 400));
    expect((await drift()).events.filter((e: any) => e.kind === 'package-changed')).toHaveLength(1);
    await stopAgent();
  });

  it('enforce switches unattended-upgrades off (apt.conf.d drop-in, masked timer) and closes the drift', async () => {
    await startGuarded('enforce');
    await waitFor('unattended drift resolved', async () => !(await openKinds()).includes('unattended-upgrades-enabled'));
    expect(await readFile(join(root, APT_DROPIN), 'utf8')).toContain('APT::Periodic::Unattended-Upgrade "0";');
    expect(await readlink(join(root, TIMER_MASK))).toBe('/dev/null');
    const view = await drift();
    expect(view.hosts[0].policy).toBe('enforce');
    const enforced = view.events.find((e: any) => e.kind === 'enforced');
    expect(enforced.message).toContain('masked apt-daily-upgrade.timer');
    expect(view.events.find((e: any) => e.kind === 'unattended-upgrades-enabled').resolvedAt).not.toBeNull();
    // the package drift is still open: nobody managed that package since
    expect(await openKinds()).toEqual(['package-changed']);
    await stopAgent();
  });

  it('going back to report undoes enforce exactly and the drift is open again', async () => {
    await startGuarded('report');
    await waitFor('relaxed and reported again', async () => (await openKinds()).includes('unattended-upgrades-enabled'));
    expect(await exists(join(root, APT_DROPIN))).toBe(false);
    expect(await exists(join(root, TIMER_MASK))).toBe(false);
    expect(await exists(join(root, 'var/lib/sluice-agent'))).toBe(false);
    const view = await drift();
    expect(view.events.find((e: any) => e.kind === 'relaxed').message).toContain('unmasked apt-daily-upgrade.timer');
    expect(view.hosts[0].policy).toBe('report');
  });

  it('sluice drift and sluice updates show it; updates plan writes a staged plan that passes plan check', async () => {
    await waitFor('pending updates in facts', async () => {
      const { json } = await call('GET', '/v1/updates', server.adminToken);
      return json.updates.length > 0;
    });
    const env = { SLUICE_SERVER: server.url, SLUICE_TOKEN: server.adminToken };
    const run = async (argv: string[]) => {
      const io = createTestIo({ env, cwd: dir, now: Date.now() });
      const code = await runCli(argv, io, (p) => {
        registerDriftCommand(p, io);
        registerUpdatesCommand(p, io);
        registerPlanCommands(p, io);
      });
      return { code, out: io.stdout.text, err: io.stderr.text };
    };

    const d = await run(['drift', '--json']);
    expect(d.code).toBe(0);
    const dj = JSON.parse(d.out);
    expect(dj.hosts[0]).toMatchObject({ name: 'web-1', policy: 'report' });
    expect(dj.hosts[0].open.map((e: any) => e.kind).sort()).toEqual(['package-changed', 'unattended-upgrades-enabled']);
    const table = await run(['drift']);
    expect(table.out).toContain('Fleet: 1 host, 1 with open drift');
    expect(table.out).toMatch(/web-1\s+report\s+2\s+/);

    const u = await run(['updates', '--json']);
    expect(u.code).toBe(0);
    // security only by default: tzdata (jammy-updates) is left out
    expect(JSON.parse(u.out)).toEqual([
      { package: 'systemd', candidate: '249.11-0ubuntu3.7', security: true, hosts: [{ name: 'web-1', installed: '249.11-0ubuntu3.6' }] },
    ]);
    expect((await run(['updates', '--all', '--json'])).out).toContain('tzdata');

    const p = await run(['updates', 'plan', '--output', 'security.yaml', '--name', 'jammy-security', '--match', 'os=ubuntu-22.04']);
    expect(p.err).toContain('wrote security.yaml');
    expect(p.code).toBe(0);
    const yaml = await readFile(join(dir, 'security.yaml'), 'utf8');
    const { plan, problems } = checkPlan(yaml, 'security.yaml');
    expect(problems).toEqual([]);
    expect(plan).toMatchObject({
      name: 'jammy-security',
      change: { kind: 'apt', install: { systemd: '249.11-0ubuntu3.7' }, remove: [] },
      hosts: { match: { os: 'ubuntu-22.04' } },
      preflight: 'block',
      onFailure: 'rollback',
    });
    expect(plan?.waves.map((w) => [w.name, w.spread ?? w.each ?? null])).toEqual([
      ['canary', ['provider']],
      ['first-zone', 'zone'],
      ['regions', 'region'],
      ['rest', null],
    ]);
    expect(plan?.checks.map((c) => c.kind)).toEqual(['ipRulesPreserved', 'routesPreserved']);
    const checkIo = { ...createTestIo(), readFile: (path: string) => readFile(path, 'utf8') };
    expect(await runPlanCheck(join(dir, 'security.yaml'), { json: false }, checkIo)).toBe(0);

    // a selector that matches no host with updates: nothing to plan (exit 1)
    const none = await run(['updates', 'plan', '--match', 'os=debian-12']);
    expect(none.code).toBe(1);
    expect(none.err).toContain('nothing to plan');
  });
});

describe('drift routes: authentication and validation', () => {
  let credential = '';
  beforeAll(async () => {
    const { json } = await call('POST', '/v1/agent/enroll', server.enrollToken, { name: 'route-host', labels: {} });
    credential = json.credential;
  });

  const event = { id: 'evt-00000001', kind: 'package-changed', subject: 'curl', message: 'curl changed', at: 1, open: true };

  it('POST /v1/agent/drift needs a host credential', async () => {
    expect((await call('POST', '/v1/agent/drift', null, { events: [event] })).status).toBe(401);
    expect((await call('POST', '/v1/agent/drift', 'nope', { events: [event] })).status).toBe(401);
    expect((await call('POST', '/v1/agent/drift', server.adminToken, { events: [event] })).status).toBe(403);
    const ok = await call('POST', '/v1/agent/drift', credential, { events: [event] });
    expect(ok).toEqual({ status: 200, json: { recorded: 1 } });
    // a re-send is acknowledged and records nothing
    expect((await call('POST', '/v1/agent/drift', credential, { events: [event] })).json).toEqual({ recorded: 0 });
  });

  it('records the event for the credential\'s own host, whatever the body says', async () => {
    const res = await call('POST', '/v1/agent/drift', credential, { events: [{ ...event, id: 'evt-00000002', host: 'web-1' }] });
    expect(res.status).toBe(400);
    const view = (await call('GET', '/v1/drift?host=route-host', server.adminToken)).json;
    expect(view.events.map((e: any) => e.host)).toEqual(['route-host']);
  });

  it.each([
    ['an unknown kind', { events: [{ ...event, kind: 'reboot' }] }],
    ['a bad id', { events: [{ ...event, id: '../x' }] }],
    ['a missing field', { events: [{ ...event, message: undefined }] }],
    ['an unknown top-level field', { events: [], extra: 1 }],
    ['too many events', { events: Array.from({ length: 501 }, (_, i) => ({ ...event, id: `evt-${String(i).padStart(8, '0')}` })) }],
  ])('refuses %s with 400', async (_what, body) => {
    const res = await call('POST', '/v1/agent/drift', credential, body);
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('invalid');
  });

  it('GET /v1/drift and /v1/updates are admin-only', async () => {
    for (const path of ['/v1/drift', '/v1/updates']) {
      expect((await call('GET', path, null)).status).toBe(401);
      expect((await call('GET', path, credential)).status).toBe(403);
      expect((await call('GET', path, server.enrollToken)).status).toBe(403);
      expect((await call('GET', path, server.adminToken)).status).toBe(200);
    }
    expect((await call('GET', '/v1/drift?host=nobody', server.adminToken)).status).toBe(404);
    expect((await call('GET', '/v1/drift?host=../x', server.adminToken)).status).toBe(400);
    expect((await call('GET', '/v1/drift?limit=0', server.adminToken)).status).toBe(400);
  });
});

// apt as it really is, on a per-host dpkg root with a local repository whose Release file makes it a
// security source: a Multi-Arch: same package (dpkg-query says `sluice-malib:amd64`, apt says
// `sluice-malib`) has one name in facts, pending updates and plans, so `sluice updates plan` plans
// it instead of saying it "would install sluice-malib where it is not installed". Needs root.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type AgentHandle } from '../src/agent/agent.ts';
import { createAptRunner } from '../src/agent/changes/apt.ts';
import type { ChangeContext } from '../src/agent/changes/change-runner.ts';
import { defaultRunner } from '../src/agent/facts/argv-runner.ts';
import { readPackageInventory } from '../src/agent/facts/dpkg-packages.ts';
import { readPendingUpdates } from '../src/agent/facts/pending-updates.ts';
import { createHostHooks } from '../src/agent/host-hooks.ts';
import { createMemoryLog } from '../src/agent/log.ts';
import { runArgv } from '../src/agent/exec.ts';
import { checkPlan } from '../src/core/plan/parse-plan.ts';
import type { AptChange } from '../src/core/types.ts';
import { runCli } from '../src/cli/run-cli.ts';
import { createTestIo } from '../src/cli/test-io.ts';
import { registerUpdatesCommand } from '../src/cli/updates-command.ts';
import { silentLogger } from '../src/server/logger.ts';
import { startServer, type RunningServer } from '../src/server/start-server.ts';
import { waitFor } from './agent-fake-peer.ts';
import { MULTIARCH_PACKAGE, TEST_PACKAGE, buildTestRepo, createHostRoot } from './helpers/test-debs.ts';

const canRun = process.getuid?.() === 0 || process.env['CI'] === 'true';
if (!canRun) console.warn('[linux-updates] SKIPPED: dpkg and apt on a test root need root');

const log = { info() {}, warn() {}, error() {} };
const apt = createAptRunner();
let dir = '';
let repo = '';
let native = '';
let server: RunningServer | undefined;
let agent: AgentHandle | undefined;

function change(install: Record<string, string>, remove: string[] = []): AptChange {
  return { kind: 'apt', install, remove, timeout: 120_000 };
}

async function host(name: string): Promise<ChangeContext> {
  const root = await createHostRoot(join(dir, name, 'root'), repo);
  return { stateDir: join(dir, name, 'state'), stepKey: 'r_1', timeout: 120_000, fileDirs: [], root, log };
}

describe.skipIf(!canRun)('Multi-Arch package names in facts, updates and plans', () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-linux-updates-'));
    repo = await buildTestRepo(dir, { suite: 'sluice-security' });
    native = (await runArgv(['dpkg', '--print-architecture'], { timeoutMs: 10_000 })).stdout.trim();
  });
  afterAll(async () => {
    await agent?.stop();
    await server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('one name per package: plans may say name or name:arch; inventory and pending updates say name', async () => {
    const ctx = await host('a');
    // The plan names the native package with its architecture: the same package.
    const first = await apt.apply(change({ [`${MULTIARCH_PACKAGE}:${native}`]: '1', [TEST_PACKAGE]: '1' }), { ...ctx, stepKey: 'setup' });
    expect(first.ok, first.message).toBe(true);
    // dpkg itself qualifies it (this is the Multi-Arch: same case)...
    const raw = await runArgv(['dpkg-query', `--admindir=${join(ctx.root, 'var/lib/dpkg')}`, '-W', '-f=${binary:Package}\\n'], { timeoutMs: 10_000 });
    expect(raw.stdout.split('\n')).toContain(`${MULTIARCH_PACKAGE}:${native}`);
    // ...facts do not.
    expect((await readPackageInventory(ctx.root, defaultRunner)).packages).toEqual({ [MULTIARCH_PACKAGE]: '1', [TEST_PACKAGE]: '1' });
    const again = await apt.apply(change({ [MULTIARCH_PACKAGE]: '1' }), { ...ctx, stepKey: 'setup-2' });
    expect(again.message).toMatch(/^already applied/);
    const twice = await apt.apply(change({ [MULTIARCH_PACKAGE]: '1', [`${MULTIARCH_PACKAGE}:${native}`]: '2' }), { ...ctx, stepKey: 'twice' });
    expect(twice).toMatchObject({ ok: false, message: expect.stringMatching(/^apt change refused: sluice-malib:\w+ is named twice \(as sluice-malib too\)/) });

    const pending = await readPendingUpdates(ctx.root);
    expect(pending.error).toBeUndefined();
    expect(pending.updates.map((u) => [u.package, u.installed, u.candidate, u.security])).toEqual([
      [MULTIARCH_PACKAGE, '1', '2', true],
      [TEST_PACKAGE, '1', '2', true],
    ]);
    expect(pending.updates[0]?.origins).toEqual([expect.stringContaining('sluice-security')]);

    // Upgrade named with the architecture, roll back: the record and the inventory agree.
    const up = await apt.apply(change({ [`${MULTIARCH_PACKAGE}:${native}`]: '2' }), ctx);
    expect(up.ok, up.message).toBe(true);
    expect(up.record).toEqual({ kind: 'apt', before: { [MULTIARCH_PACKAGE]: '1' }, pulledIn: {} });
    const back = await apt.rollback(change({ [`${MULTIARCH_PACKAGE}:${native}`]: '2' }), ctx, up.record ?? null);
    expect(back.ok, back.message).toBe(true);
    expect((await readPackageInventory(ctx.root, defaultRunner)).packages[MULTIARCH_PACKAGE]).toBe('1');
  });

  it('sluice updates plan plans the Multi-Arch package (no "would install ... where it is not installed")', async () => {
    const ctx = await host('b');
    const setup = await apt.apply(change({ [MULTIARCH_PACKAGE]: '1', [TEST_PACKAGE]: '1' }), { ...ctx, stepKey: 'setup' });
    expect(setup.ok, setup.message).toBe(true);
    server = await startServer({ listen: '127.0.0.1:0', memory: true, log: silentLogger(), tickMs: 50, heartbeatMs: 100 });
    const hooks = createHostHooks({ root: ctx.root });
    agent = await startAgent({
      server: server.url,
      token: server.enrollToken,
      name: 'web-1',
      labels: { env: 'prod', os: 'sluicetest-1' },
      allow: ['apt'],
      stateDir: join(dir, 'b', 'agent'),
      root: ctx.root,
      heartbeatMs: 100,
      pollWaitMs: 1000,
      backoff: { initialMs: 20, maxMs: 200 },
      log: createMemoryLog(),
      collectFacts: hooks.collectFacts,
      drift: { policy: 'report', intervalMs: 200, routing: false, updatesDelayMs: 0, collectFacts: hooks.freshFacts },
    });
    const srv = server;
    await waitFor('pending updates on the server', async () => {
      const res = await fetch(`${srv.url}/v1/updates`, { headers: { authorization: `Bearer ${srv.adminToken}` } });
      const body = (await res.json()) as { updates: { package: string }[] };
      return body.updates.some((u) => u.package === MULTIARCH_PACKAGE);
    }, 60_000);

    const io = createTestIo({ env: { SLUICE_SERVER: srv.url, SLUICE_TOKEN: srv.adminToken }, cwd: dir, now: Date.now() });
    const code = await runCli(['updates', 'plan', '--output', 'security.yaml', '--name', 'security'], io, (p) => registerUpdatesCommand(p, io));
    expect(io.stderr.text).not.toMatch(/would install/);
    expect(code, io.stderr.text).toBe(0);
    const yaml = await readFile(join(dir, 'security.yaml'), 'utf8');
    const { plan, problems } = checkPlan(yaml, 'security.yaml');
    expect(problems).toEqual([]);
    expect(plan?.change).toMatchObject({ kind: 'apt', install: { [MULTIARCH_PACKAGE]: '2', [TEST_PACKAGE]: '2' }, remove: [] });

    // The plan's change does what it says on the host.
    const applied = await apt.apply(plan!.change as AptChange, ctx);
    expect(applied.ok, applied.message).toBe(true);
    expect((await readPackageInventory(ctx.root, defaultRunner)).packages).toEqual({ [MULTIARCH_PACKAGE]: '2', [TEST_PACKAGE]: '2' });
    expect((await readPendingUpdates(ctx.root)).updates).toEqual([]);
  }, 120_000);
});

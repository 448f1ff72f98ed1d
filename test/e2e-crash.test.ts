// Crash safety with real processes: SIGKILL the server during an apply, during a bake and during
// a rollback; on restart the rollout goes on from where it was (no host applied twice, no wave
// skipped, bake timers from their recorded start, no report lost). Also: an agent killed right
// after applying makes its host silent, and its wave fails after `silentAfter`.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { api, startAgentProc, startServerProc, tempDir, waitFor, type Proc, type ServerProc } from './helpers/processes.ts';

const FINAL = ['completed', 'halted', 'rolled_back', 'aborted'];

interface Rig {
  dir: ReturnType<typeof tempDir>;
  marks: string;
  server: ServerProc;
  agents: Map<string, Proc>;
}

const rigs: Rig[] = [];

const HOSTS = [
  { name: 'h1', labels: { zone: 'a' } },
  { name: 'h2', labels: { zone: 'a' } },
  { name: 'h3', labels: { zone: 'b' } },
  { name: 'h4', labels: { zone: 'b' } },
];

async function rig(hosts = HOSTS): Promise<Rig> {
  const dir = tempDir('e2e-crash');
  const marks = join(dir.path, 'marks');
  mkdirSync(marks, { recursive: true });
  const server = await startServerProc(join(dir.path, 'server'));
  const agents = new Map<string, Proc>();
  const r: Rig = { dir, marks, server, agents };
  rigs.push(r);
  for (const h of hosts) startAgent(r, h.name, h.labels);
  await waitFor(
    'agents online',
    async () => (await api(server.url, 'GET', '/v1/hosts')).hosts.filter((h: any) => h.status === 'online').length === hosts.length,
    60_000,
    200,
  );
  return r;
}

function startAgent(r: Rig, name: string, labels: Record<string, string>): void {
  r.agents.set(name, startAgentProc(r.server.url, { name, labels, stateDir: join(r.dir.path, 'agents', name) }));
}

async function restartServer(r: Rig, pauseMs = 500): Promise<void> {
  await r.server.kill('SIGKILL');
  await new Promise((res) => setTimeout(res, pauseMs));
  r.server = await startServerProc(join(r.dir.path, 'server'), r.server.port);
}

function lines(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
}

async function view(r: Rig, id: string): Promise<any> {
  return api(r.server.url, 'GET', `/v1/rollouts/${id}`);
}

async function waitFinal(r: Rig, id: string, timeoutMs = 90_000): Promise<any> {
  return waitFor(`rollout ${id} to finish`, async () => {
    const v = await view(r, id);
    return FINAL.includes(v.state) ? v : null;
  }, timeoutMs, 250);
}

function commandPlan(r: Rig, opts: { applySleep?: number; rollbackSleep?: number; bake?: string; check?: string; onFailure?: string; silentAfter?: string; checkSleep?: number }): string {
  const apply = `echo started >> ${r.marks}/$SLUICE_HOST.apply-started; sleep ${opts.applySleep ?? 0}; echo "$SLUICE_ROLLOUT_ID" >> ${r.marks}/$SLUICE_HOST.apply`;
  const rollback = `sleep ${opts.rollbackSleep ?? 0}; echo "$SLUICE_ROLLOUT_ID" >> ${r.marks}/$SLUICE_HOST.rollback`;
  const check = `sleep ${opts.checkSleep ?? 0}; ${opts.check ?? 'true'}`;
  return `
name: crash-test
change:
  command:
    apply: ["sh", "-c", ${JSON.stringify(apply)}]
    rollback: ["sh", "-c", ${JSON.stringify(rollback)}]
    timeout: 30s
waves:
  - { name: canary, size: 1, bake: ${opts.bake ?? '0s'} }
  - { name: zones, each: zone, bake: ${opts.bake ?? '0s'} }
checks:
  - name: probe
    command: ["sh", "-c", ${JSON.stringify(check)}]
checkInterval: 1s
budget: { failedPerWave: 0, failedTotal: 0, silentAfter: ${opts.silentAfter ?? '30s'} }
onFailure: ${opts.onFailure ?? 'rollback'}
confirmWindow: 0s
`;
}

afterEach(async () => {
  for (const r of rigs.splice(0)) {
    await Promise.all([...r.agents.values()].map((a) => a.kill()));
    await r.server.kill();
    r.dir.remove();
  }
});

describe('server killed with SIGKILL', () => {
  it('during an apply: the rollout completes after restart, no host applied twice, no report lost', async () => {
    const r = await rig();
    const { id } = await api(r.server.url, 'POST', '/v1/rollouts', { plan: commandPlan(r, { applySleep: 2 }), file: 'apply.yaml' });
    // Kill while the canary's apply command is running: its result is finished while the server is down.
    await waitFor('the canary apply to start', () => lines(join(r.marks, 'h1.apply-started')).length > 0, 30_000, 50);
    await restartServer(r, 2500);
    const v = await waitFinal(r, id);
    expect(v.state).toBe('completed');
    expect(v.waves.map((w: any) => w.name)).toEqual(['canary', 'zones/a', 'zones/b']);
    for (const h of HOSTS) {
      expect(lines(join(r.marks, `${h.name}.apply-started`)), h.name).toEqual(['started']);
      expect(lines(join(r.marks, `${h.name}.apply`)), h.name).toEqual([id]);
    }
    const { events } = await api(r.server.url, 'GET', `/v1/rollouts/${id}/events?limit=5000`);
    const applied = events.filter((e: any) => e.kind === 'report.apply').map((e: any) => e.host).sort();
    expect(applied).toEqual(['h1', 'h2', 'h3', 'h4']);
  }, 150_000);

  it('during a bake: the bake ends at its recorded start plus the bake time, not restarted', async () => {
    const r = await rig();
    const { id } = await api(r.server.url, 'POST', '/v1/rollouts', { plan: commandPlan(r, { bake: '6s' }), file: 'bake.yaml' });
    const baking = await waitFor('the canary to bake', async () => {
      const v = await view(r, id);
      return v.waves[0]?.state === 'baking' ? v.waves[0] : null;
    }, 30_000, 100);
    await new Promise((res) => setTimeout(res, 1500));
    await restartServer(r, 1000);
    const restartedAt = Date.now();
    const v = await waitFinal(r, id);
    expect(v.state).toBe('completed');
    const canary = v.waves[0];
    expect(canary.bakeStartedAt).toBe(baking.bakeStartedAt);
    // The next wave started once the recorded bake was over: not before, and well before a bake
    // restarted from the restart would have ended.
    const next = v.waves[1];
    expect(next.startedAt).toBeGreaterThanOrEqual(baking.bakeStartedAt + 6000);
    expect(next.startedAt).toBeLessThan(restartedAt + 6000);
    for (const h of HOSTS) expect(lines(join(r.marks, `${h.name}.apply`))).toEqual([id]);
  }, 150_000);

  it('during a rollback: it finishes rolling back after restart, each host rolled back once', async () => {
    const r = await rig();
    // The check passes on h1 (the canary) and fails on h2 (zones/a, the smallest zone left), so
    // zones/a and then the canary roll back; zone b is never touched.
    const plan = commandPlan(r, { rollbackSleep: 2, check: 'test "$SLUICE_HOST" = h1' });
    const { id } = await api(r.server.url, 'POST', '/v1/rollouts', { plan, file: 'rollback.yaml' });
    await waitFor('the rollback to start', async () => (await view(r, id)).state === 'rolling_back', 60_000, 50);
    await restartServer(r, 2500);
    const v = await waitFinal(r, id);
    expect(v.state).toBe('rolled_back');
    // Sub-waves are created together; zone b's hosts were never assigned (still pending, wave skipped).
    const hosts = v.waves.flatMap((w: any) => w.hosts);
    const assigned = hosts.filter((h: any) => h.state !== 'pending').map((h: any) => h.name).sort();
    expect(assigned).toEqual(['h1', 'h2']);
    for (const name of assigned) {
      expect(lines(join(r.marks, `${name}.rollback`)), name).toEqual([id]);
      expect(hosts.find((h: any) => h.name === name).state).toBe('rolled_back');
    }
    expect(v.waves.map((w: any) => [w.name, w.state])).toEqual([['canary', 'rolled_back'], ['zones/a', 'rolled_back'], ['zones/b', 'skipped']]);
    expect(lines(join(r.marks, 'h3.apply-started'))).toEqual([]);
    expect(lines(join(r.marks, 'h4.apply-started'))).toEqual([]);
  }, 150_000);
});

describe('an agent killed right after applying', () => {
  it('makes its host silent and fails the wave after silentAfter', async () => {
    const r = await rig(HOSTS.slice(0, 2));
    const plan = commandPlan(r, { checkSleep: 30, silentAfter: '4s', onFailure: 'halt' });
    const { id } = await api(r.server.url, 'POST', '/v1/rollouts', { plan, file: 'silent.yaml' });
    await waitFor('the canary to apply', () => lines(join(r.marks, 'h1.apply')).length > 0, 30_000, 50);
    await r.agents.get('h1')!.kill('SIGKILL');
    const v = await waitFinal(r, id, 60_000);
    expect(v.state).toBe('halted');
    expect(v.waves[0]).toMatchObject({ name: 'canary', state: 'failed', hosts: [expect.objectContaining({ name: 'h1', state: 'silent' })] });
    // Nobody else was assigned after the failure.
    expect(lines(join(r.marks, 'h2.apply-started'))).toEqual([]);
  }, 120_000);
});

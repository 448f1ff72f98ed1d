// Confirmation is part of the engine (issue 7, case 1), with a real server and a real agent: a
// step is healthy, and its wave's bake can end, only once the agent reports the change confirmed.
// The server stopped past the confirm window mid-bake: the agent reverts by itself and the server,
// once back, records it (host rolled_back with the agent's reason, the rollout not completed). The
// server stopped past the window after completion: nothing reverts, the rollout stays completed.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { api, runCli, waitFor, ADMIN_TOKEN } from './helpers/processes.ts';
import { Rig } from './helpers/engine-rig.ts';

const rigs: Rig[] = [];
afterEach(async () => {
  for (const r of rigs.splice(0)) await r.cleanup();
});

describe('commit-confirmed is part of the engine', () => {
  it('server stopped past the confirm window mid-bake: the agent reverts, the server records it, no success claimed', async () => {
    const r = await Rig.start([{ name: 'c1' }]);
    rigs.push(r);
    const plan = r.plan({
      waves: '  - { name: all, bake: 20s }',
      extra: 'budget: { failedPerWave: 0, failedTotal: 0, silentAfter: 60s }\nonFailure: halt\nconfirmWindow: 8s',
    });
    const { id } = await api(r.server.url, 'POST', '/v1/rollouts', { plan, file: 'confirm.yaml' });
    await r.waitView('the wave to bake', id, (v) => v.waves[0]?.state === 'baking');
    await r.stopServer();
    const agent = r.agents.get('c1')!;
    // No contact through the end of the window: the agent rolls its change back by itself.
    await waitFor('the agent to roll back locally', () => /rolled back locally/.test(agent.output()), 40_000, 200);
    await r.startServer();
    const v = await r.waitView('the revert to be recorded', id, (x) => x.waves[0]?.hosts[0]?.state === 'rolled_back', 40_000);
    expect(v.state).not.toBe('completed');
    expect(v.revertedHosts).toBe(1);
    expect(v.waves[0].hosts[0].message).toMatch(/commit-confirmed/);
    expect(r.lines('c1.rollback')).toEqual([id]);
    const kinds = (await r.events(id)).map((e) => e.kind);
    expect(kinds).toContain('host.reverted');
    expect(kinds).not.toContain('rollout.completed');
    const status = await runCli(['rollout', 'status', id, '--json', '--server', r.server.url, '--token', ADMIN_TOKEN]);
    expect(JSON.parse(status.stdout)).toMatchObject({ revertedHosts: 1 });
    const metrics = await (await fetch(`${r.server.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).text();
    expect(metrics).toMatch(/^sluice_reverted_hosts 1$/m);
  }, 150_000);

  it('completion waits for the confirm; a server stopped past the window afterwards changes nothing', async () => {
    const r = await Rig.start([{ name: 'c2' }]);
    rigs.push(r);
    const plan = r.plan({
      waves: '  - { name: all, bake: 1s }',
      extra: 'budget: { failedPerWave: 0, failedTotal: 0, silentAfter: 60s }\nonFailure: rollback\nconfirmWindow: 4s',
    });
    const file = join(r.dir.path, 'plan.yaml');
    writeFileSync(file, plan);
    const started = await runCli(['rollout', 'start', file, '--wait', '--server', r.server.url, '--token', ADMIN_TOKEN], {}, 60_000);
    expect(started.code).toBe(0);
    const id = started.stdout.trim().split('\n')[0]!;
    const events = await r.events(id);
    const kinds = events.map((e) => e.kind);
    // Healthy only after the agent's confirm, although the bake (1 s) ended long before the window (4 s).
    expect(kinds.indexOf('host.confirmed')).toBeGreaterThan(-1);
    expect(kinds.indexOf('host.confirmed')).toBeLessThan(kinds.indexOf('rollout.completed'));
    const baking = events.find((e) => e.kind === 'wave.baking')!;
    const completed = events.find((e) => e.kind === 'rollout.completed')!;
    expect(completed.at - baking.at).toBeGreaterThanOrEqual(3000);

    await r.stopServer();
    await new Promise((res) => setTimeout(res, 8000)); // well past the window and the agent's staleness
    await r.startServer();
    await r.waitOnline(['c2']);
    const v = await r.view(id);
    expect(v.state).toBe('completed');
    expect(v.revertedHosts).toBe(0);
    expect(v.waves[0].hosts[0].state).toBe('healthy');
    expect(r.lines('c2.rollback')).toEqual([]);
    expect(r.agents.get('c2')!.output()).not.toMatch(/rolled back locally/);
  }, 150_000);
});

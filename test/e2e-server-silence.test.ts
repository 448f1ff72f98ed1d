// Silence means the host, not the server (issue 7, case 10), with real processes. The server down
// 25 s with silentAfter 15 s: after its restart hosts get a fresh silentAfter, nothing is rolled
// back. Every agent cut off at once (SIGSTOP, hosts outside the rollout too): the server suspects
// itself and holds the rollout (visible, with the reason) instead of failing it, and lets it go on
// once hosts are heard again.
import { afterEach, describe, expect, it } from 'vitest';
import { api, waitFor } from './helpers/processes.ts';
import { Rig } from './helpers/engine-rig.ts';

const rigs: Rig[] = [];
afterEach(async () => {
  for (const r of rigs.splice(0)) await r.cleanup();
});

const FLEET = [
  { name: 'w1', labels: { role: 'web' } },
  { name: 'w2', labels: { role: 'web' } },
  { name: 'd1', labels: { role: 'db' } },
];

function plan(r: Rig, bake: string): string {
  return r.plan({
    hosts: 'hosts: { match: { role: web } }',
    waves: `  - { name: all, bake: ${bake} }`,
    extra: 'budget: { failedPerWave: 0, failedTotal: 0, silentAfter: 15s }\nonFailure: rollback\nconfirmWindow: 0s',
  });
}

describe('silence means the host, not the server', () => {
  it('server down 25 s with silentAfter 15 s: no host counted silent, no rollback', async () => {
    const r = await Rig.start(FLEET);
    rigs.push(r);
    const { id } = await api(r.server.url, 'POST', '/v1/rollouts', { plan: plan(r, '45s'), file: 'silence.yaml' });
    await r.waitView('the wave to bake', id, (v) => v.waves[0]?.state === 'baking');
    await r.stopServer();
    await new Promise((res) => setTimeout(res, 25_000));
    await r.startServer();
    const v = await r.waitFinal(id, 90_000);
    expect(v.state).toBe('completed');
    const kinds = (await r.events(id)).map((e) => e.kind);
    expect(kinds).not.toContain('host.silent');
    expect(r.lines('w1.rollback')).toEqual([]);
    expect(r.lines('w2.rollback')).toEqual([]);
  }, 180_000);

  it('every agent cut off at once (also outside the rollout): the rollout is held, not failed, and goes on after', async () => {
    const r = await Rig.start(FLEET);
    rigs.push(r);
    const { id } = await api(r.server.url, 'POST', '/v1/rollouts', { plan: plan(r, '40s'), file: 'cutoff.yaml' });
    await r.waitView('the wave to bake', id, (v) => v.waves[0]?.state === 'baking');
    for (const a of r.agents.values()) a.child.kill('SIGSTOP');
    const held = await r.waitView('the rollout to be held', id, (v) => v.heldReason !== null && v.heldReason !== undefined, 40_000);
    expect(held.state).toBe('paused');
    expect(held.heldReason).toMatch(/suspects its own connectivity/);
    expect(held.waves[0].hosts.map((h: any) => h.state)).toEqual(['verifying', 'verifying']);
    // Held through what would have been a silence.
    await new Promise((res) => setTimeout(res, 8_000));
    expect((await r.view(id)).waves[0].hosts.map((h: any) => h.state)).toEqual(['verifying', 'verifying']);
    for (const a of r.agents.values()) a.child.kill('SIGCONT');
    await r.waitView('the rollout to be released', id, (v) => !v.heldReason && v.state === 'running', 40_000);
    const v = await r.waitFinal(id, 90_000);
    expect(v.state).toBe('completed');
    const kinds = (await r.events(id)).map((e) => e.kind);
    expect(kinds).toEqual(expect.arrayContaining(['rollout.held', 'rollout.released']));
    expect(kinds).not.toContain('host.silent');
    void waitFor;
  }, 180_000);
});

// Eligibility before assignment and one rollout per host (issue 7, cases 3 and 4), with real
// processes. A fleet with one offline host and one whose agent does not allow the change: under
// `ineligible: skip` both are left out (skipped, with the reason, counted) and the rest completes;
// under `fail` they count as failed. Both are said before anything runs (preview, start response).
import { afterEach, describe, expect, it } from 'vitest';
import { api, waitFor } from './helpers/processes.ts';
import { Rig } from './helpers/engine-rig.ts';

const rigs: Rig[] = [];
afterEach(async () => {
  for (const r of rigs.splice(0)) await r.cleanup();
});

const budget = 'budget: { failedPerWave: 0, failedTotal: 0, silentAfter: 5s }\nonFailure: halt\nconfirmWindow: 0s';

describe('eligibility before assignment', () => {
  it('one offline and one incapable host: skipped under skip, failed under fail, said before anything runs', async () => {
    const r = await Rig.start([
      { name: 'e1' },
      { name: 'e2' },
      { name: 'off', labels: {} },
      { name: 'nocmd', allow: 'file' },
    ]);
    rigs.push(r);
    await r.agents.get('off')!.kill();
    // Offline: not heard from for silentAfter (5 s).
    await waitFor('off to be quiet for silentAfter', async () => {
      const h = (await api(r.server.url, 'GET', '/v1/hosts')).hosts.find((x: any) => x.name === 'off');
      return Date.now() - h.lastSeen > 6000;
    }, 30_000, 500);

    const skipPlan = r.plan({ name: 'skip-plan', waves: '  - { name: all, bake: 1s }', extra: budget });
    const preview = await api(r.server.url, 'POST', '/v1/rollouts/preview', { plan: skipPlan });
    expect(preview.targeted).toBe(4);
    expect(preview.ineligible.count).toBe(2);
    expect(preview.ineligible.hosts.map((h: any) => h.name)).toEqual(['nocmd', 'off']);
    expect(preview.ineligible.hosts[0].reason).toMatch(/does not allow command/);
    expect(preview.ineligible.hosts[1].reason).toMatch(/^offline: not heard from/);

    const started = await api(r.server.url, 'POST', '/v1/rollouts', { plan: skipPlan, file: 'skip.yaml' });
    expect(started.ineligible.count).toBe(2);
    const v = await r.waitFinal(started.id);
    expect(v.state).toBe('completed');
    expect(v.skippedHosts).toBe(2);
    const states = Object.fromEntries(v.waves[0].hosts.map((h: any) => [h.name, h.state]));
    expect(states).toEqual({ e1: 'healthy', e2: 'healthy', nocmd: 'skipped', off: 'skipped' });
    expect(v.waves[0].hosts.find((h: any) => h.name === 'off').message).toMatch(/offline/);
    expect(r.lines('nocmd.apply')).toEqual([]);

    const failPlan = r.plan({ name: 'fail-plan', waves: '  - { name: all, bake: 1s }', extra: `${budget}\nineligible: fail` });
    const failed = await api(r.server.url, 'POST', '/v1/rollouts', { plan: failPlan, file: 'fail.yaml' });
    expect(failed.ineligible).toMatchObject({ count: 2, mode: 'fail' });
    const f = await r.waitFinal(failed.id);
    expect(f.state).toBe('halted');
    expect(f.reason).toMatch(/failure budget exceeded/);
    const fStates = Object.fromEntries(f.waves[0].hosts.map((h: any) => [h.name, h.state]));
    expect(fStates['nocmd']).toBe('failed');
  }, 150_000);
});

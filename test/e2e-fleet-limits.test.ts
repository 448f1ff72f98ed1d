// Fleet-wide limits with a real server and real agents: --max-running-rollouts holds a second
// rollout before its first wave until the first ends, visibly; --max-changing-hosts keeps the
// hosts changing at once across rollouts at the cap, and everything still completes.
import { afterAll, describe, expect, it } from 'vitest';
import { Rig } from './helpers/engine-rig.ts';
import { ADMIN_TOKEN, api, runCli } from './helpers/processes.ts';

let rig: Rig | undefined;
afterAll(async () => {
  await rig?.cleanup();
});

describe('fleet-wide limits end to end', () => {
  it('a rollout over --max-running-rollouts waits and starts when room frees up; --max-changing-hosts caps assignments', async () => {
    const r = (rig = await Rig.start(
      [
        { name: 'm0', labels: { team: 'a' } },
        { name: 'm1', labels: { team: 'a' } },
        { name: 'n0', labels: { team: 'b' } },
        { name: 'n1', labels: { team: 'b' } },
      ],
      { SLUICE_MAX_RUNNING_ROLLOUTS: '1', SLUICE_MAX_CHANGING_HOSTS: '1' },
    ));
    const plan = (name: string, team: string) =>
      r.plan({ name, hosts: `hosts: { match: { team: ${team} } }`, waves: '  - { name: all, bake: 2s }', extra: 'confirmWindow: 0s' });
    const first = await api(r.server.url, 'POST', '/v1/rollouts', { plan: plan('first', 'a') });
    await r.waitView('first applying', first.id, (v) => v.waves[0]?.state === 'applying' || v.waves[0]?.state === 'baking');
    const second = await api(r.server.url, 'POST', '/v1/rollouts', { plan: plan('second', 'b') });
    const held = await r.waitView('second waiting', second.id, (v) => typeof v.waiting === 'string');
    expect(held.state).toBe('running');
    expect(held.waiting).toBe('waiting: 1 rollout running, at most 1 (--max-running-rollouts)');
    expect(held.waves.map((w: any) => w.state)).toEqual(['pending']);
    const status = await runCli(['rollout', 'status', second.id], { SLUICE_SERVER: r.server.url, SLUICE_TOKEN: ADMIN_TOKEN, NO_COLOR: '1' });
    expect(status.stdout).toContain('waiting: 1 rollout running, at most 1 (--max-running-rollouts)');

    expect((await r.waitFinal(first.id, 40_000)).state).toBe('completed');
    expect((await r.waitFinal(second.id, 40_000)).state).toBe('completed');
    for (const h of ['m0', 'm1']) expect(r.lines(`${h}.apply`)).toEqual([first.id]);
    for (const h of ['n0', 'n1']) expect(r.lines(`${h}.apply`)).toEqual([second.id]);

    // The first rollout's wave would have changed both hosts at once: the cap made it one by one.
    const firstLog = (await r.events(first.id)).filter((e) => e.kind === 'rollout.waiting').map((e) => e.message);
    expect(firstLog).toEqual(['waiting: 1 host changing, at most 1 (--max-changing-hosts)']);
    const secondLog = (await r.events(second.id)).filter((e) => e.kind === 'rollout.waiting').map((e) => e.message);
    expect(secondLog).toEqual(['waiting: 1 rollout running, at most 1 (--max-running-rollouts)', 'waiting: 1 host changing, at most 1 (--max-changing-hosts)']);
  }, 90_000);
});

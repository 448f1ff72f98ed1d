// Nested topology waves with a real server and real agents: region by region (smallest first),
// inside each one zone, then (after an approval) a second zone, then the rest. The waves run in
// that order, the approval gate of a nested step holds across a server restart (its step is
// restored from the stored leaf), and every host is changed exactly once.
import { afterEach, describe, expect, it } from 'vitest';
import { api } from './helpers/processes.ts';
import { Rig } from './helpers/engine-rig.ts';

const rigs: Rig[] = [];
afterEach(async () => {
  for (const r of rigs.splice(0)) await r.cleanup();
});

describe('nested topology waves', () => {
  it('runs region by region, zone by zone then the rest, with a nested approval that survives a restart', async () => {
    // r1: zone a (1 host), zone b (1), zone c (1) -> first-zone a, second-zone b, rest c
    // r2: zone d (1), zone e (2)                  -> first-zone d, second-zone e, no rest
    const hosts = [
      { name: 'n1', labels: { region: 'r1', zone: 'a' } },
      { name: 'n2', labels: { region: 'r1', zone: 'b' } },
      { name: 'n3', labels: { region: 'r1', zone: 'c' } },
      { name: 'n4', labels: { region: 'r2', zone: 'd' } },
      { name: 'n5', labels: { region: 'r2', zone: 'e' } },
      { name: 'n6', labels: { region: 'r2', zone: 'e' } },
    ];
    const r = await Rig.start(hosts);
    rigs.push(r);
    const plan = r.plan({
      waves: `  - name: prod
    each: region
    steps:
      - { name: first-zone, each: zone, limit: 1, bake: 1s }
      - { name: second-zone, each: zone, limit: 1, approve: true, bake: 1s }
      - { name: rest, bake: 1s }`,
      extra: 'budget: { failedPerWave: 0, failedTotal: 0, silentAfter: 60s }\nconfirmWindow: 0s',
    });
    const { id } = await api(r.server.url, 'POST', '/v1/rollouts', { plan, file: 'nested.yaml' });
    // r1 and r2 have 3 hosts each: ties go by name, r1 first. Its second zone waits for approval.
    let v = await r.waitView('r1/second-zone to wait for approval', id, (x) => x.waves.some((w: any) => w.name === 'prod/r1/second-zone/b' && w.state === 'awaiting_approval'));
    expect(v.waves.map((w: any) => w.name)).toEqual([
      'prod/r1/first-zone/a',
      'prod/r1/second-zone/b',
      'prod/r1/rest',
      'prod/r2/first-zone/d',
      'prod/r2/second-zone/e',
    ]);
    expect(r.lines('n1.apply')).toEqual([id]);
    expect(r.lines('n2.apply')).toEqual([]);

    // The gate is a nested step's: after a restart it must still be one.
    await r.stopServer('SIGTERM');
    await r.startServer();
    await r.waitOnline(hosts.map((h) => h.name));
    v = await r.view(id);
    expect(v.waves[1]).toMatchObject({ name: 'prod/r1/second-zone/b', state: 'awaiting_approval' });

    await api(r.server.url, 'POST', `/v1/rollouts/${id}/approve`);
    await r.waitView('r2/second-zone to wait for approval', id, (x) => x.waves[4]?.state === 'awaiting_approval', 60_000).catch(async (err) => {
      const dump = await r.view(id);
      const ev = await r.events(id);
      throw new Error(`${err.message}\n${JSON.stringify(dump.waves.map((w: any) => [w.name, w.state, w.hosts.map((h: any) => [h.name, h.state, h.message])]))}\n${ev.map((e) => `${e.kind} ${e.message}`).join('\n')}`);
    });
    expect(r.lines('n3.apply')).toEqual([id]); // r1's rest ran without approval
    await api(r.server.url, 'POST', `/v1/rollouts/${id}/approve`);
    v = await r.waitFinal(id, 60_000);
    expect(v.state).toBe('completed');
    for (const h of hosts) expect(r.lines(`${h.name}.apply`)).toEqual([id]);
    // Completed in order: each wave started after the one before it completed.
    const events = await r.events(id);
    const completedOrder = events.filter((e) => e.kind === 'wave.completed').map((e) => e.wave);
    expect(completedOrder).toEqual(v.waves.map((w: any) => w.name));
    expect(v.waves[4].hosts.map((h: any) => h.name)).toEqual(['n5', 'n6']);
  }, 150_000);
});

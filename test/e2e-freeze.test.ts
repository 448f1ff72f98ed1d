// A fleet freeze with a real server and real agents: started during a rollout, it stops the rollout
// at the next wave boundary (the wave in flight finishes and bakes, the next waits, visibly); a new
// start is refused with 409 while an emergency plan runs through it; `freeze end` lets the rollout
// go on. Start and end are in the audit log; the CLI drives it.
import { afterAll, describe, expect, it } from 'vitest';
import { Rig } from './helpers/engine-rig.ts';
import { ADMIN_TOKEN, api, runCli, waitFor } from './helpers/processes.ts';

let rig: Rig | undefined;
afterAll(async () => {
  await rig?.cleanup();
});

describe('fleet freeze end to end', () => {
  it('stops a rollout at the next wave boundary, refuses new starts, lets an emergency through, and goes on after freeze end', async () => {
    const r = (rig = await Rig.start([
      { name: 'f0', labels: { tier: 'canary' } },
      { name: 'f1', labels: { tier: 'rest' } },
      { name: 'f2', labels: { tier: 'rest' } },
      { name: 'x0', labels: { tier: 'other' } },
    ]));
    const env = { SLUICE_SERVER: r.server.url, SLUICE_TOKEN: ADMIN_TOKEN, NO_COLOR: '1' };
    const plan = r.plan({
      name: 'frozen-e2e',
      hosts: 'hosts: { match: { tier: [canary, rest] } }',
      waves: '  - { name: canary, match: { tier: canary }, bake: 3s }\n  - { name: rest, match: { tier: rest } }',
      extra: 'confirmWindow: 0s',
    });
    const { id } = await api(r.server.url, 'POST', '/v1/rollouts', { plan });
    await r.waitView('canary applying or baking', id, (v) => ['applying', 'baking'].includes(v.waves[0]?.state));

    const started = await runCli(['freeze', 'start', '--reason', 'sales weekend', '--for', '2h'], env);
    expect(started.code, started.stderr).toBe(0);
    expect(started.stdout).toMatch(/The fleet is frozen \(sales weekend\) by admin since .*, until 20\d\d-/);

    // The canary finishes its host and its bake; rest waits, saying why.
    const waiting = await r.waitView('rest waiting for the freeze', id, (v) => v.waves[0]?.state === 'completed' && typeof v.waiting === 'string', 30_000);
    expect(waiting.state).toBe('running');
    expect(waiting.waiting).toMatch(/^waiting: fleet frozen \(sales weekend\) by admin until 20\d\d-\d\d-\d\dT/);
    expect(waiting.waves.map((w: any) => w.state)).toEqual(['completed', 'pending']);
    expect(r.lines('f0.apply')).toEqual([id]);

    const status = await runCli(['rollout', 'status', id], env);
    expect(status.stdout).toContain('waiting: fleet frozen (sales weekend) by admin');

    // A new start is refused with 409 and says why.
    const other = r.plan({ name: 'refused', hosts: 'hosts: { match: { tier: other } }', waves: '  - { name: all }', extra: 'confirmWindow: 0s' });
    const refused = await fetch(`${r.server.url}/v1/rollouts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ plan: other }),
    });
    expect(refused.status).toBe(409);
    expect(await refused.text()).toContain('cannot start: the fleet is frozen (sales weekend) by admin');

    // An emergency change starts and runs through the freeze; its log says so.
    const emergency = await api(r.server.url, 'POST', '/v1/rollouts', { plan: `${other.replace('name: refused', 'name: hotfix')}\nemergency: { reason: "CVE-2026-0001 actively exploited" }\n` });
    const done = await r.waitFinal(emergency.id, 30_000);
    expect(done.state).toBe('completed');
    const emergencyLog = (await r.events(emergency.id)).map((e) => `${e.kind}: ${e.message}`);
    expect(emergencyLog).toContain('rollout.emergency: emergency change started during a fleet freeze (sales weekend, by admin): CVE-2026-0001 actively exploited');
    expect(emergencyLog.some((l) => l.startsWith('freeze.bypassed: wave all starts during a fleet freeze'))).toBe(true);

    // Still frozen: the first rollout has not touched f1 or f2.
    expect((await r.view(id)).waves.map((w: any) => w.state)).toEqual(['completed', 'pending']);
    expect([...r.lines('f1.apply'), ...r.lines('f2.apply')]).toEqual([]);
    const frozen = await runCli(['freeze', 'status', '--json'], env);
    expect(JSON.parse(frozen.stdout)).toMatchObject({ frozen: true, freeze: { reason: 'sales weekend', by: 'admin' } });

    const ended = await runCli(['freeze', 'end'], env);
    expect(ended.code, ended.stderr).toBe(0);
    expect(ended.stdout).toContain('ended by admin');
    const final = await r.waitFinal(id, 30_000);
    expect(final.state).toBe('completed');
    expect(final.waiting).toBeNull();
    expect(r.lines('f1.apply')).toEqual([id]);
    expect(r.lines('f2.apply')).toEqual([id]);
    const events = (await r.events(id)).map((e) => e.kind);
    expect(events.filter((k) => k === 'rollout.waiting')).toHaveLength(1);

    // Ending again: exit 1 (nothing to end). Both changes are audited.
    expect((await runCli(['freeze', 'end'], env)).code).toBe(1);
    const audit = await waitFor('freeze audit entries', async () => {
      const a = (await api(r.server.url, 'GET', '/v1/audit?action=freeze.*')).entries as any[];
      return a.filter((e) => e.result === 'ok').length >= 2 ? a : null;
    });
    expect(audit.filter((e) => e.result === 'ok').map((e) => e.action)).toEqual(['freeze.start', 'freeze.end']);
    expect(audit[0].detail).toMatchObject({ reason: 'sales weekend' });
  }, 90_000);
});

// One rollout per host, rollback as a rollout in reverse, retry and rollbacks never abandoned
// (issue 7, cases 4, 5, 6 and 8), with a real server and real agents. The plan's commands leave
// marks (with times) per host; "blocked-*" files in the marks dir make an apply or a rollback fail
// until the test removes them, as an operator fixing the cause would.
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, api, waitFor } from './helpers/processes.ts';
import { Rig } from './helpers/engine-rig.ts';

const rigs: Rig[] = [];
afterEach(async () => {
  for (const r of rigs.splice(0)) await r.cleanup();
});

function plan(r: Rig, o: { name: string; waves: string; extra?: string; rollbackSleep?: number }): string {
  const m = r.marks;
  const apply = `if [ -e ${m}/blocked-apply-$SLUICE_HOST ]; then echo blocked >&2; exit 3; fi; echo "$(date +%s%3N) $SLUICE_ROLLOUT_ID" >> ${m}/$SLUICE_HOST.apply`;
  const rollback =
    `if [ -e ${m}/blocked-rollback-$SLUICE_HOST ]; then echo nope >&2; exit 4; fi; ` +
    `echo "start $(date +%s%3N)" >> ${m}/$SLUICE_HOST.rollback; sleep ${o.rollbackSleep ?? 0}; echo "end $(date +%s%3N)" >> ${m}/$SLUICE_HOST.rollback`;
  return `
name: ${o.name}
change:
  command:
    apply: ["sh", "-c", ${JSON.stringify(apply)}]
    rollback: ["sh", "-c", ${JSON.stringify(rollback)}]
    timeout: 20s
waves:
${o.waves}
checks:
  - name: probe
    command: ["sh", "-c", "true"]
checkInterval: 1s
confirmWindow: 0s
${o.extra ?? 'budget: { failedPerWave: 0, failedTotal: 0, silentAfter: 10s }\nonFailure: halt'}
`;
}

/** [start, end] of every rollback the host ran, from its marks. */
function rollbackSpans(r: Rig, host: string): Array<[number, number]> {
  const lines = r.lines(`${host}.rollback`);
  const out: Array<[number, number]> = [];
  for (let i = 0; i + 1 < lines.length; i += 2) out.push([Number(lines[i]!.split(' ')[1]), Number(lines[i + 1]!.split(' ')[1])]);
  return out;
}

async function post(r: Rig, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(r.server.url + path, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body ?? {}),
  });
  return { status: res.status, body: await res.json() };
}

describe('one rollout per host', () => {
  it('an overlapping start is refused with the rollout and the shared count; `queue: true` waits and starts when it ends', async () => {
    const r = await Rig.start([{ name: 'l1' }, { name: 'l2' }, { name: 'l3', labels: { role: 'other' } }]);
    rigs.push(r);
    const long = plan(r, { name: 'long', waves: '  - { name: all, bake: 10m }' });
    const first = await api(r.server.url, 'POST', '/v1/rollouts', { plan: long });
    await r.waitView('the first rollout to bake', first.id, (v) => v.waves[0]?.state === 'baking');

    const again = await post(r, '/v1/rollouts', { plan: long });
    expect(again.status).toBe(409);
    expect(again.body.error.message).toMatch(new RegExp(`3 of 3 targeted hosts are in rollout ${first.id} \\(long, running\\)`));
    expect(again.body.error.message).toMatch(/queue: true/);

    // A plan over just one of its hosts is refused too.
    const other = plan(r, { name: 'other', waves: '  - { name: all, bake: 1s }', extra: 'hosts: { match: { role: other } }\nbudget: { failedPerWave: 0, failedTotal: 0, silentAfter: 10s }' });
    const overlapping = await post(r, '/v1/rollouts', { plan: other });
    expect(overlapping.status).toBe(409);
    expect(overlapping.body.error.message).toMatch(/1 of 1 targeted host is in rollout/);

    const queued = await api(r.server.url, 'POST', '/v1/rollouts', { plan: long.replace('name: long', 'name: queued') + 'queue: true\n' });
    expect(queued.state).toBe('queued');
    expect(queued.queuedBehind).toEqual([first.id]);
    const q = await r.view(queued.id);
    expect(q.state).toBe('queued');
    expect(q.reason).toMatch(new RegExp(`^queued: 3 of 3 targeted hosts are in rollout ${first.id}`));
    expect(r.lines('l1.apply')).toHaveLength(1);

    await api(r.server.url, 'POST', `/v1/rollouts/${first.id}/abort`);
    const started = await r.waitView('the queued rollout to start', queued.id, (v) => v.state === 'running' && v.waves[0]?.state === 'baking');
    expect(started.reason).toBeNull();
    expect(r.lines('l1.apply').map((l) => l.split(' ')[1])).toEqual([first.id, queued.id]);
    expect((await r.events(queued.id)).map((e) => e.kind)).toContain('rollout.dequeued');
    await api(r.server.url, 'POST', `/v1/rollouts/${queued.id}/abort`);
  }, 120_000);
});

describe('rollback is a rollout in reverse', () => {
  it('honours parallel wave by wave, most recent first; a failing rollback halts it; rollback again goes on', async () => {
    const hosts = ['p0', 'p1', 'p2', 'p3'];
    const r = await Rig.start(hosts.map((name) => ({ name, labels: { tier: name === 'p0' ? 'canary' : 'rest' } })));
    rigs.push(r);
    const p = plan(r, {
      name: 'paced',
      rollbackSleep: 1,
      waves: '  - { name: canary, match: { tier: canary }, bake: 1s }\n  - { name: rest, match: { tier: rest }, parallel: 1, bake: 1s }',
    });
    const { id } = await api(r.server.url, 'POST', '/v1/rollouts', { plan: p });
    expect((await r.waitFinal(id)).state).toBe('completed');

    writeFileSync(join(r.marks, 'blocked-rollback-p2'), '');
    await api(r.server.url, 'POST', `/v1/rollouts/${id}/rollback`);
    const halted = await r.waitFinal(id);
    expect(halted.state).toBe('halted');
    expect(halted.reason).toMatch(new RegExp(`^rollback halted: rollback failed on p2: .*nope.*; 3 hosts not rolled back yet \\(fix the cause, then run \`sluice rollout rollback ${id}\` again\\)$`));
    expect(rollbackSpans(r, 'p1')).toHaveLength(1);
    expect(rollbackSpans(r, 'p3')).toHaveLength(0); // after the failing host: not handed out
    expect(rollbackSpans(r, 'p0')).toHaveLength(0); // the earlier wave waits for this one
    const states = (v: any) => Object.fromEntries(v.waves.flatMap((w: any) => w.hosts.map((h: any) => [h.name, h.state])));
    expect(states(halted)).toEqual({ p0: 'healthy', p1: 'rolled_back', p2: 'failed', p3: 'healthy' });

    rmSync(join(r.marks, 'blocked-rollback-p2'));
    await api(r.server.url, 'POST', `/v1/rollouts/${id}/rollback`);
    const done = await r.waitFinal(id);
    expect(done.state).toBe('rolled_back');
    expect(states(done)).toEqual({ p0: 'rolled_back', p1: 'rolled_back', p2: 'rolled_back', p3: 'rolled_back' });
    // parallel 1: no two rollbacks of the rest wave overlap, and they go in name order; the canary after them all.
    const spans = ['p1', 'p2', 'p3'].map((h) => rollbackSpans(r, h).at(-1)!);
    for (let i = 1; i < spans.length; i++) expect(spans[i]![0]).toBeGreaterThanOrEqual(spans[i - 1]![1]);
    expect(rollbackSpans(r, 'p0')[0]![0]).toBeGreaterThanOrEqual(spans[2]![1]);
    expect(rollbackSpans(r, 'p1')).toHaveLength(1); // rolled back once, not again
  }, 150_000);

  it('a rollback nobody confirmed is handed out again: to an agent that comes back, and on `rollback` again', async () => {
    const r = await Rig.start([{ name: 's1' }, { name: 's2' }]);
    rigs.push(r);
    const p = plan(r, { name: 'silent', rollbackSleep: 3, waves: '  - { name: all, bake: 1s }', extra: 'budget: { failedPerWave: 0, failedTotal: 0, silentAfter: 6s }' });
    const { id } = await api(r.server.url, 'POST', '/v1/rollouts', { plan: p });
    expect((await r.waitFinal(id)).state).toBe('completed');

    // s2's agent dies in the middle of its rollback and does not come back in time.
    await api(r.server.url, 'POST', `/v1/rollouts/${id}/rollback`);
    await waitFor('s2 to start rolling back', async () => r.lines('s2.rollback').length > 0, 30_000, 100);
    await r.agents.get('s2')!.kill('SIGKILL');
    const ended = await r.waitFinal(id, 60_000);
    expect(ended.state).toBe('rolled_back');
    expect(ended.reason).toMatch(/rollback not confirmed \(silent\) on s2$/);
    expect(ended.unconfirmedRollbacks).toBe(1);

    // Asked again while the host is still away: its rollback is assigned again and waits for it.
    await api(r.server.url, 'POST', `/v1/rollouts/${id}/rollback`);
    expect((await r.view(id)).state).toBe('rolling_back');
    const back = await r.waitFinal(id, 60_000);
    expect(back.reason).toMatch(/silent\) on s2$/);

    // The agent comes back: heard from, it gets the rollback again and finishes it.
    r.startAgent({ name: 's2' });
    const clean = await r.waitView('s2 to be rolled back', id, (v) => v.waves[0].hosts.find((h: any) => h.name === 's2')?.state === 'rolled_back', 60_000);
    expect(clean.state).toBe('rolled_back');
    expect(clean.reason).not.toMatch(/not confirmed/);
    expect(clean.unconfirmedRollbacks).toBe(0);
    expect(existsSync(join(r.marks, 's2.rollback'))).toBe(true);
    expect((await r.events(id)).some((e) => e.kind === 'host.rollback_reassigned')).toBe(true);
    const refused = await post(r, `/v1/rollouts/${id}/rollback`);
    expect(refused.status).toBe(409);
    expect(refused.body.error.message).toMatch(/every changed host confirmed its rollback/);
  }, 180_000);
});

describe('retry', () => {
  it('resumes a halted rollout from its failed wave: failed hosts get a new attempt, healthy waves are kept', async () => {
    const r = await Rig.start([{ name: 't0', labels: { tier: 'canary' } }, { name: 't1', labels: { tier: 'rest' } }, { name: 't2', labels: { tier: 'rest' } }]);
    rigs.push(r);
    writeFileSync(join(r.marks, 'blocked-apply-t2'), '');
    const p = plan(r, { name: 'retry', waves: '  - { name: canary, match: { tier: canary }, bake: 1s }\n  - { name: rest, match: { tier: rest }, bake: 1s }' });
    const { id } = await api(r.server.url, 'POST', '/v1/rollouts', { plan: p });
    const halted = await r.waitFinal(id);
    expect(halted.state).toBe('halted');
    expect(halted.reason).toMatch(/failure budget exceeded: .*t2: apply failed/);
    const notYet = await post(r, `/v1/rollouts/${id}/resume`);
    expect(notYet.status).toBe(409);

    rmSync(join(r.marks, 'blocked-apply-t2'));
    const retried = await api(r.server.url, 'POST', `/v1/rollouts/${id}/retry`);
    expect(retried.state).toBe('running');
    const done = await r.waitFinal(id, 120_000);
    expect(done.state).toBe('completed');
    expect(done.waves.map((w: any) => w.state)).toEqual(['completed', 'completed']);
    expect(r.lines('t0.apply')).toHaveLength(1); // the healthy canary was not done again
    expect(r.lines('t1.apply')).toHaveLength(1);
    expect(r.lines('t2.apply')).toHaveLength(1); // the first attempt failed before its mark
    expect((await r.events(id)).some((e) => e.kind === 'rollout.running' && /retried by .*1 host of wave rest/.test(e.message))).toBe(true);
    const again = await post(r, `/v1/rollouts/${id}/retry`);
    expect(again.status).toBe(409);
    expect(again.body.error.message).toMatch(/only a halted rollout can be retried \(it is completed\)/);
  }, 150_000);
});

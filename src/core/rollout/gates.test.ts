// Windows, freezes and fleet-wide limits in the rollout engine, over a virtual clock: a wave waits
// at its boundary (visibly, one log line per kind of wait), hosts are assigned only while the
// window is open and under the fleet's cap, bakes run through, and the wait ends by a deadline.
import { describe, expect, it } from 'vitest';
import { ConflictError } from '../errors.ts';
import { parseHours, type TimeWindow } from '../plan/window.ts';
import type { RolloutEffect } from './types.ts';
import { nextDeadline, restoreRolloutState, rolloutRecord } from './transition.ts';
import { Harness, assigns, host, logKinds, makePlan, wave } from './test-fixtures.ts';

const at = (iso: string) => Date.parse(iso);
const HOSTS = [host('a'), host('b'), host('c'), host('d')];
/** Mon-Thu 09:00-17:00 Paris. */
const office: TimeWindow = { days: ['mon', 'tue', 'wed', 'thu'], ...parseHours('09:00-17:00')!, timeZone: 'Europe/Paris', blackout: [] };
const freeze = { reason: 'sales weekend', by: 'alice', until: at('2026-12-07T00:00:00Z') };

function logs(effects: readonly RolloutEffect[], kind: string): string[] {
  return effects.flatMap((e) => (e.type === 'log' && e.kind === kind ? [e.message] : []));
}

function harness(plan = makePlan(), now = at('2026-12-01T10:00:00Z')): Harness {
  const h = new Harness(plan, HOSTS);
  h.now = now;
  return h;
}

describe('windows', () => {
  it('a rollout started outside its window waits, visibly, logs once, and starts when it opens (the deadline)', () => {
    const plan = makePlan({ waves: [wave('canary', { size: { count: 1 }, window: office }), wave('rest', { window: office })] });
    const h = harness(plan, at('2026-12-03T17:30:00Z')); // Thu 18:30 Paris
    const started = h.start();
    expect(assigns(started)).toEqual([]);
    expect(h.state.status).toBe('running');
    expect(h.state.waiting).toBe('waiting for window: opens Mon 09:00 Europe/Paris');
    expect(rolloutRecord(h.state).waiting).toBe('waiting for window: opens Mon 09:00 Europe/Paris');
    expect(logs(started, 'rollout.waiting')).toEqual(['waiting for window: opens Mon 09:00 Europe/Paris']);
    expect(nextDeadline(h.state)).toBe(at('2026-12-07T08:00:00Z'));
    // Ticks before the opening change nothing and log nothing more.
    expect(h.tick(3600_000)).toEqual([]);
    h.now = at('2026-12-07T08:00:00Z');
    const opened = h.tick(0);
    expect(assigns(opened)).toEqual(['apply a#1']);
    expect(h.state.waiting).toBeNull();
    expect(rolloutRecord(h.state).waiting).toBeUndefined();
  });

  it('a bake runs through the window closing; the next wave waits for the next opening', () => {
    const plan = makePlan({ waves: [wave('canary', { size: { count: 1 }, window: office, bake: 3600_000 }), wave('rest', { window: office })] });
    const h = harness(plan, at('2026-12-03T15:30:00Z')); // Thu 16:30 Paris
    expect(assigns(h.start())).toEqual(['apply a#1']);
    h.pass('a');
    expect(h.waveStates()['canary']).toBe('baking');
    // The bake ends at 17:30 Paris, after the window closed: canary completes, rest waits.
    h.send({ type: 'heartbeat', host: 'a' }, 3599_000);
    const e = h.tick(1000);
    expect(h.waveStates()).toEqual({ canary: 'completed', rest: 'pending' });
    expect(assigns(e)).toEqual([]);
    expect(logKinds(e)).toContain('wave.completed');
    expect(h.state.waiting).toBe('waiting for window: opens Mon 09:00 Europe/Paris');
  });

  it('a wave that is applying stops assigning when its window closes; hosts in flight finish', () => {
    const plan = makePlan({ waves: [wave('all', { parallel: { count: 1 }, window: office })] });
    const h = harness(plan, at('2026-12-03T15:50:00Z')); // Thu 16:50 Paris
    expect(assigns(h.start())).toEqual(['apply a#1']);
    h.now = at('2026-12-03T16:05:00Z'); // 17:05: closed
    const e = h.pass('a');
    expect(assigns(e)).toEqual([]);
    expect(h.state.waiting).toMatch(/^waiting for window: opens Mon 09:00/);
    expect(h.stepState('a')).toBe('verifying');
    h.now = at('2026-12-07T08:00:00Z');
    // Any event at or after the opening goes on (here a's heartbeat, else the deadline's tick).
    expect(assigns([...h.send({ type: 'heartbeat', host: 'a' }), ...h.tick(0)])).toEqual(['apply b#1']);
  });

  it('a blackout date holds the wave to the next open day; a window across DST gives the right instant', () => {
    const w: TimeWindow = { ...office, blackout: [{ from: '2026-03-30', to: '2026-03-30' }] };
    const plan = makePlan({ waves: [wave('all', { window: w })] });
    const h = harness(plan, at('2026-03-27T17:00:00Z')); // Fri 18:00 CET; Paris springs forward Sunday
    h.start();
    expect(h.state.waiting).toBe('waiting for window: opens Tue 09:00 Europe/Paris');
    expect(nextDeadline(h.state)).toBe(at('2026-03-31T07:00:00Z')); // 09:00 CEST
  });

  it('a window spanning midnight: the wave starts at 22:00 New York and assigns through the night', () => {
    const night: TimeWindow = { days: ['mon', 'tue', 'wed', 'thu', 'fri'], ...parseHours('22:00-04:00')!, timeZone: 'America/New_York', blackout: [] };
    const plan = makePlan({ waves: [wave('all', { parallel: { count: 1 }, window: night })] });
    const h = harness(plan, at('2026-12-01T20:00:00Z')); // Tue 15:00 NY
    h.start();
    expect(nextDeadline(h.state)).toBe(at('2026-12-02T03:00:00Z'));
    h.now = at('2026-12-02T03:00:00Z');
    expect(assigns(h.tick(0))).toEqual(['apply a#1']);
    h.now = at('2026-12-02T08:30:00Z'); // Wed 03:30 NY: still open (Tuesday's window)
    expect(assigns(h.pass('a'))).toEqual(['apply b#1']);
  });

  it('state survives a restart: waiting is in the rollout row', () => {
    const plan = makePlan({ waves: [wave('all', { window: office })] });
    const h = harness(plan, at('2026-12-05T10:00:00Z')); // Saturday
    h.start();
    const restored = restoreRolloutState(plan, h.snapshot());
    expect(restored.waiting).toBe(h.state.waiting);
  });
});

describe('freezes', () => {
  it('a freeze stops the rollout at the next wave boundary: the wave in flight finishes and bakes, the next waits', () => {
    const h = harness();
    expect(assigns(h.start())).toEqual(['apply a#1']);
    h.gates = { freeze };
    h.pass('a');
    expect(h.waveStates()['canary']).toBe('baking');
    const e = h.tick(60_000);
    expect(h.waveStates()).toEqual({ canary: 'completed', rest: 'pending' });
    expect(assigns(e)).toEqual([]);
    expect(h.state.waiting).toBe('waiting: fleet frozen (sales weekend) by alice until 2026-12-07T00:00Z');
    expect(logs(e, 'rollout.waiting')).toEqual(['waiting: fleet frozen (sales weekend) by alice until 2026-12-07T00:00Z']);
    expect(nextDeadline(h.state)).toBe(freeze.until);
    expect(h.tick(1000)).toEqual([]);
    // The freeze ends: the next tick goes on.
    h.gates = {};
    expect(assigns(h.tick(1000))).toEqual(['apply b#1', 'apply c#1']);
    expect(h.state.waiting).toBeNull();
  });

  it('a freeze without an end says so', () => {
    const h = harness();
    h.gates = { freeze: { ...freeze, until: null } };
    h.start();
    expect(h.state.waiting).toBe('waiting: fleet frozen (sales weekend) by alice until `sluice freeze end`');
    expect(nextDeadline(h.state)).toBeNull();
  });

  it('an emergency plan starts and runs through a freeze; the log records the reason and the freeze', () => {
    const h = harness(makePlan({ emergency: { reason: 'CVE-2026-0001 actively exploited' } }));
    h.gates = { freeze };
    const e = h.start();
    expect(assigns(e)).toEqual(['apply a#1']);
    expect(logs(e, 'rollout.emergency')).toEqual(['emergency change started during a fleet freeze (sales weekend, by alice): CVE-2026-0001 actively exploited']);
    expect(logs(e, 'freeze.bypassed')).toEqual(['wave canary starts during a fleet freeze (sales weekend, by alice): emergency change: CVE-2026-0001 actively exploited']);
    h.pass('a');
    expect(assigns(h.tick(60_000))).toEqual(['apply b#1', 'apply c#1']);
    expect(h.state.waiting).toBeNull();
  });

  it('an emergency plan still keeps its window', () => {
    const plan = makePlan({ emergency: { reason: 'hotfix' }, waves: [wave('all', { window: office })] });
    const h = harness(plan, at('2026-12-05T10:00:00Z'));
    h.gates = { freeze };
    h.start();
    expect(h.state.waiting).toMatch(/^waiting for window/);
  });

  it('a wave awaiting approval when the freeze comes: visible, and approve is refused until it ends', () => {
    const h = harness(makePlan({ waves: [wave('canary', { size: { count: 1 }, approve: true })] }));
    h.start();
    expect(h.waveStates()['canary']).toBe('awaiting_approval');
    h.gates = { freeze };
    h.tick(1000);
    expect(h.state.waiting).toMatch(/^waiting: fleet frozen/);
    expect(() => h.send({ type: 'approve', actor: 'bob' })).toThrow(ConflictError);
    expect(() => h.send({ type: 'approve', actor: 'bob' })).toThrow(/the fleet is frozen \(sales weekend\) by alice/);
    h.gates = {};
    expect(assigns(h.send({ type: 'approve', actor: 'bob' }))).toEqual(['apply a#1']);
  });

  it('a paused rollout is not waiting; a finished one neither', () => {
    const h = harness();
    h.gates = { freeze };
    h.start();
    expect(h.state.waiting).not.toBeNull();
    h.send({ type: 'abort', actor: 'x' });
    expect(h.state.waiting).toBeNull();
  });
});

describe('fleet-wide limits', () => {
  it('--max-running-rollouts: a rollout over the cap waits before its first wave and proceeds when room frees up', () => {
    const h = harness();
    h.gates = { runningElsewhere: 3, maxRunningRollouts: 3 };
    const e = h.start();
    expect(assigns(e)).toEqual([]);
    expect(h.state.waiting).toBe('waiting: 3 rollouts running, at most 3 (--max-running-rollouts)');
    expect(logs(e, 'rollout.waiting')).toHaveLength(1);
    h.gates = { runningElsewhere: 2, maxRunningRollouts: 3 };
    expect(assigns(h.tick(1000))).toEqual(['apply a#1']);
    // Admitted: a later wave does not wait for the cap again.
    h.gates = { runningElsewhere: 3, maxRunningRollouts: 3 };
    h.pass('a');
    expect(assigns(h.tick(60_000))).toEqual(['apply b#1', 'apply c#1']);
  });

  it('--max-changing-hosts: assignments stop at the cap across rollouts and resume as hosts finish', () => {
    const plan = makePlan({ waves: [wave('all', { parallel: { count: 4 } })] });
    const h = harness(plan);
    h.gates = { changingElsewhere: 1, maxChangingHosts: 3 };
    expect(assigns(h.start())).toEqual(['apply a#1', 'apply b#1']);
    expect(h.state.waiting).toBe('waiting: 3 hosts changing, at most 3 (--max-changing-hosts)');
    // a finishes (its first check passed): one slot.
    expect(assigns(h.pass('a'))).toEqual(['apply c#1']);
    // Another rollout's host finished: the next tick takes the slot.
    h.gates = { changingElsewhere: 0, maxChangingHosts: 3 };
    const e = h.tick(1000);
    expect(assigns(e)).toEqual(['apply d#1']);
    expect(h.state.waiting).toBeNull();
    expect(logs(e, 'rollout.waiting')).toEqual([]);
  });

  it('no cap, no freeze: the same effects as before', () => {
    const a = harness();
    const b = harness();
    b.gates = { freeze: null, maxChangingHosts: null, maxRunningRollouts: null, changingElsewhere: 50, runningElsewhere: 50 };
    expect(b.start()).toEqual(a.start());
  });
});

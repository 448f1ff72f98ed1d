// Silence means the host, not the server: a held rollout counts no silence and resumes with a fresh
// silentAfter for every in-flight host; `grace` gives the same fresh start without a hold.
import { describe, expect, it } from 'vitest';
import { nextDeadline, rolloutRecord } from './transition.ts';
import { Harness, T0, host, logKinds, makePlan, wave } from './test-fixtures.ts';

const plan = makePlan({
  waves: [wave('all', { bake: 60_000 })],
  budget: { failedPerWave: { count: 0 }, failedTotal: { count: 0 }, silentAfter: 15_000 },
});

describe('server silence', () => {
  it('hold: paused with the reason, no silence while held; release: running, fresh silentAfter', () => {
    const h = new Harness(plan, [host('a'), host('b')]);
    h.start();
    h.applyOk('a');
    const held = h.send({ type: 'hold', reason: 'most hosts went quiet at once' }, 10_000);
    expect(logKinds(held)).toEqual(['rollout.held']);
    expect(rolloutRecord(h.state)).toMatchObject({ state: 'paused', heldReason: 'most hosts went quiet at once' });
    expect(nextDeadline(h.state)).toBeNull();
    h.tick(60_000);
    expect(h.stepState('a')).toBe('verifying');
    expect(h.stepState('b')).toBe('applying');
    const released = h.send({ type: 'release' }, 1_000);
    expect(logKinds(released)).toEqual(['rollout.released']);
    expect(rolloutRecord(h.state)).toMatchObject({ state: 'running', heldReason: null });
    expect(nextDeadline(h.state)).toBe(T0 + 71_000 + 15_000);
    h.tick(14_000);
    expect(h.stepState('b')).toBe('applying');
    expect(logKinds(h.tick(1_000))).toContain('host.silent');
  });

  it('a second hold changes nothing; release without a hold changes nothing; resume by an operator clears the hold', () => {
    const h = new Harness(plan, [host('a')]);
    h.start();
    h.send({ type: 'hold', reason: 'x' });
    expect(h.send({ type: 'hold', reason: 'y' })).toEqual([]);
    h.send({ type: 'resume', actor: 'op' });
    expect(rolloutRecord(h.state)).toMatchObject({ state: 'running', heldReason: null });
    expect(h.send({ type: 'release' })).toEqual([]);
  });

  it('grace: every in-flight host gets a fresh silentAfter, no effects', () => {
    const h = new Harness(plan, [host('a'), host('b')]);
    h.start();
    expect(h.send({ type: 'grace' }, 14_000)).toEqual([]);
    h.tick(14_000);
    expect(h.stepState('a')).toBe('applying');
    expect(logKinds(h.tick(1_000))).toContain('host.silent');
  });
});

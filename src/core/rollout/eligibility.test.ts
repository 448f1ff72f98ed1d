// Eligibility before assignment: a targeted host offline or unable to run the plan when its wave
// starts is left out (`skipped`, with the reason, counted) or, under `ineligible: fail`, fails.
import { describe, expect, it } from 'vitest';
import { rolloutRecord } from './transition.ts';
import { Harness, T0, assigns, host, logKinds, makePlan, wave } from './test-fixtures.ts';

const fleet = () => [
  host('a'),
  host('b', {}, { allow: ['file'] }),
  host('c', {}, { lastSeen: T0 - 300_000 }),
  host('d', {}, { allow: undefined }),
];
const waves = [wave('all', { bake: 1_000 })];

describe('eligibility', () => {
  it('skip (default): offline and incapable hosts are skipped with the reason and counted; the others go on', () => {
    const h = new Harness(makePlan({ waves }), fleet());
    const effects = h.start();
    expect(assigns(effects)).toEqual(['apply a#1']);
    expect([h.stepState('b'), h.stepState('c'), h.stepState('d')]).toEqual(['skipped', 'skipped', 'skipped']);
    expect(h.state.steps.get('b')?.message).toMatch(/does not allow command/);
    expect(h.state.steps.get('c')?.message).toMatch(/^ineligible: offline: not heard from for 5m/);
    expect(h.state.steps.get('d')?.message).toMatch(/does not report what it allows/);
    expect(rolloutRecord(h.state).skippedHosts).toBe(3);
    expect(logKinds(effects).filter((k) => k === 'host.skipped')).toHaveLength(3);
    h.pass('a');
    h.tick(1_000);
    expect(rolloutRecord(h.state).state).toBe('completed');
  });

  it('fail: each ineligible host counts as failed, so a strict budget stops the rollout, and nothing is rolled back on them', () => {
    const h = new Harness(makePlan({ waves, ineligible: 'fail' }), fleet());
    const effects = h.start();
    expect(h.stepState('b')).toBe('failed');
    expect(rolloutRecord(h.state).state).toBe('rolled_back');
    expect(assigns(effects)).toEqual([]);
  });

  it('a host heard from again (heartbeat) before its wave starts is eligible', () => {
    const h = new Harness(makePlan({ waves: [wave('canary', { size: { count: 1 } }), wave('rest')] }), [host('a'), host('z', {}, { lastSeen: T0 - 300_000 })]);
    h.start();
    h.send({ type: 'heartbeat', host: 'z' }, 1_000);
    h.pass('a');
    const effects = h.tick(60_000);
    expect(assigns(effects)).toEqual(['apply z#1']);
  });
});

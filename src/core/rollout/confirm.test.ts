// Confirmation is part of the engine: with a confirm window, a step is healthy (and its wave's bake
// can end) only once the agent reports the change confirmed; a rollback the agent did by itself is
// recorded at any time, even after the rollout ended, and the rollout no longer claims success.
import { describe, expect, it } from 'vitest';
import { nextDeadline, rolloutRecord } from './transition.ts';
import { Harness, T0, assigns, host, logKinds, makePlan, wave } from './test-fixtures.ts';

const plan = makePlan({
  confirmWindow: 30_000,
  waves: [wave('canary', { size: { count: 1 }, bake: 10_000 }), wave('rest', { bake: 10_000 })],
});

describe('confirmation', () => {
  it('a bake shorter than the confirm window waits for the confirm report', () => {
    const h = new Harness(plan, [host('a'), host('b')]);
    h.start();
    h.pass('a');
    expect(h.waveStates()).toEqual({ canary: 'baking' });
    // The bake is over, the host has not confirmed: still baking, and no tick is due for it.
    h.tick(20_000);
    expect(h.waveStates()).toEqual({ canary: 'baking' });
    expect(h.stepState('a')).toBe('verifying');
    expect(nextDeadline(h.state)).toBe(T0 + 20_000 + 120_000 - 20_000); // only silence is due
    const effects = h.confirm('a', 1, 10_000);
    expect(logKinds(effects)).toEqual(expect.arrayContaining(['host.confirmed', 'wave.completed']));
    expect(h.stepState('a')).toBe('healthy');
    expect(assigns(effects)).toEqual(['apply b#1']);
    expect(h.state.steps.get('a')?.confirmedAt).toBe(T0 + 30_000);
  });

  it('a confirm before the bake ends lets the bake end on time', () => {
    const h = new Harness(plan, [host('a'), host('b')]);
    h.start();
    h.pass('a');
    h.confirm('a', 1, 5_000);
    expect(h.waveStates()).toEqual({ canary: 'baking' });
    h.tick(5_000);
    expect(h.waveStates()).toEqual({ canary: 'completed', rest: 'applying' });
  });

  it('a confirm for another attempt, or a repeated one, changes nothing', () => {
    const h = new Harness(plan, [host('a'), host('b')]);
    h.start();
    h.pass('a');
    h.confirm('a', 2);
    expect(h.state.steps.get('a')?.confirmedAt).toBeNull();
    h.confirm('a');
    expect(h.confirm('a', 1, 1)).toEqual([]);
  });

  it('restores the confirmations from the rows', async () => {
    const { restoreRolloutState } = await import('./transition.ts');
    const h = new Harness(plan, [host('a'), host('b')]);
    h.start();
    h.pass('a');
    const restored = restoreRolloutState(plan, h.snapshot());
    expect(restored.waves[0]?.unconfirmed).toBe(1);
    h.confirm('a');
    expect(restoreRolloutState(plan, h.snapshot()).waves[0]?.unconfirmed).toBe(0);
  });
});

describe('a rollback the agent did by itself', () => {
  it('mid-bake: the failed check counts, the host shows rolled_back with the agent reason', () => {
    const h = new Harness({ ...plan, budget: { ...plan.budget, failedPerWave: { count: 1 }, failedTotal: { count: 1 } } }, [host('a'), host('b')]);
    h.start();
    h.pass('a');
    h.send({ type: 'checkResult', host: 'a', attempt: 1, ok: false, message: 'rolled back locally (commit-confirmed): could not reach the server' }, 40_000);
    expect(h.stepState('a')).toBe('failed');
    const effects = h.rollbackResult('a', 1, true, 'rolled back locally (commit-confirmed): could not reach the server. change: ok');
    expect(logKinds(effects)).toContain('host.reverted');
    expect(h.stepState('a')).toBe('rolled_back');
    expect(h.state.steps.get('a')?.message).toMatch(/commit-confirmed/);
    expect(rolloutRecord(h.state).revertedHosts).toBe(1);
  });

  it('without the check report first: the revert counts as a failure (budget) before it is recorded', () => {
    const h = new Harness(plan, [host('a'), host('b')]);
    h.start();
    h.pass('a');
    h.rollbackResult('a', 1, true, 'rolled back locally (commit-confirmed): invariant checks failed');
    // The budget rolled the rollout back; the only changed host had already reverted itself.
    expect(rolloutRecord(h.state).state).toBe('rolled_back');
    expect(h.state.failedTotal).toBe(1);
    expect(h.stepState('a')).toBe('rolled_back');
  });

  it('after the rollout completed: recorded, and the rollout says how many hosts reverted themselves', () => {
    const h = new Harness(makePlan({ waves: [wave('all', { bake: 1_000 })] }), [host('a'), host('b')]);
    h.start();
    h.pass('a');
    h.pass('b');
    h.tick(1_000);
    expect(rolloutRecord(h.state).state).toBe('completed');
    const effects = h.rollbackResult('b', 1, true, 'rolled back locally (commit-confirmed): could not reach the server', 60_000);
    expect(logKinds(effects)).toEqual(['host.reverted']);
    const r = rolloutRecord(h.state);
    expect(r.state).toBe('completed');
    expect(r.revertedHosts).toBe(1);
    expect(r.reason).toBe('completed, 1 host reverted themselves');
    expect(h.stepState('b')).toBe('rolled_back');
    // Sent again (same attempt): nothing more.
    expect(h.rollbackResult('b', 1, true, 'again')).toEqual([
      expect.objectContaining({ type: 'log', kind: 'report.ignored' }),
    ]);
  });
});

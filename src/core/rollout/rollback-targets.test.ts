// The count `rollout rollback` shows before it asks: hosts that may carry the change, and hosts
// whose rollback failed or went silent; never hosts not reached, skipped, or already rolled back.
import { describe, expect, it } from 'vitest';
import type { StepStatus } from '../types.ts';
import { countRollbackHosts, isRollbackTarget, type RollbackTargetStep } from './rollback-targets.ts';

const step = (state: StepStatus, attempt: number, rollbackAttempt: number | null = null): RollbackTargetStep => ({ state, attempt, rollbackAttempt });

describe('rollback targets', () => {
  it.each([
    ['pending, never assigned', step('pending', 0), false],
    ['skipped as ineligible', step('skipped', 0), false],
    ['applying', step('applying', 1), true],
    ['verifying', step('verifying', 1), true],
    ['healthy', step('healthy', 1), true],
    ['apply failed', step('failed', 1), true],
    ['silent while applying', step('silent', 1), true],
    ['a retry applying again (attempt 3 after a rollback at 2)', step('applying', 3, 2), true],
    ['rolling back now', step('rolling_back', 2, 2), false],
    ['rolled back', step('rolled_back', 2, 2), false],
    ['rolled back by itself (commit-confirmed, same attempt)', step('rolled_back', 1), false],
    ['rollback failed', step('failed', 2, 2), true],
    ['silent while rolling back', step('silent', 2, 2), true],
    ['missing rollbackAttempt counts as never rolled back', { state: 'failed', attempt: 2 } as RollbackTargetStep, true],
  ] as const)('%s -> %s', (_what, s, expected) => {
    expect(isRollbackTarget(s)).toBe(expected);
  });

  it('counts the hosts of a whole rollout', () => {
    const steps = [step('healthy', 1), step('healthy', 1), step('failed', 1), step('pending', 0), step('rolled_back', 2, 2), step('silent', 2, 2), step('skipped', 0)];
    expect(countRollbackHosts(steps)).toBe(4);
    expect(countRollbackHosts([])).toBe(0);
  });
});

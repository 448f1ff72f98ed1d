// How many hosts `rollout rollback` would touch now, from the rollout's step records: the CLI says
// it (and asks) before anything is posted. Pure: the server computes it for the rollout view.
import type { StepRecord } from '../types.ts';

export type RollbackTargetStep = Pick<StepRecord, 'state' | 'attempt' | 'rollbackAttempt'>;

/** States of an apply attempt in which the host may carry the change. */
const CHANGED_STATES: ReadonlySet<string> = new Set(['applying', 'verifying', 'healthy', 'failed', 'silent']);

/** The step's current attempt is a rollback (missing rollbackAttempt: never rolled back); apply attempts may repeat (retry). */
export function isRollbackAttempt(step: Pick<RollbackTargetStep, 'attempt' | 'rollbackAttempt'>): boolean {
  return step.rollbackAttempt !== null && step.rollbackAttempt !== undefined && step.attempt === step.rollbackAttempt;
}

/**
 * A rollback not confirmed yet: it failed or went silent, or it was handed out again after the
 * rollout ended (`rolloutFinal`) and has not reported.
 */
export function isUnconfirmedRollback(step: RollbackTargetStep, rolloutFinal: boolean): boolean {
  if (!isRollbackAttempt(step)) return false;
  return step.state === 'failed' || step.state === 'silent' || (step.state === 'rolling_back' && rolloutFinal);
}

/**
 * Whether a rollback asked now would touch this host: it was assigned its change (attempt > 0) and
 * may carry it (applying, verifying, healthy, failed, silent), or its rollback failed or went
 * silent (a rollback asked again tries those again). Pending, skipped, rolled back and hosts
 * rolling back now are not touched.
 */
export function isRollbackTarget(step: RollbackTargetStep): boolean {
  if (step.attempt <= 0) return false;
  if (isRollbackAttempt(step)) return step.state === 'failed' || step.state === 'silent';
  return CHANGED_STATES.has(step.state);
}

/** How many hosts a rollback asked now would touch. */
export function countRollbackHosts(steps: readonly RollbackTargetStep[]): number {
  let n = 0;
  for (const s of steps) if (isRollbackTarget(s)) n += 1;
  return n;
}

// What ipRulesPreserved and routesPreserved share: a baseline is required, and the current
// routing state is read within the check's own timeout.
import type { CheckContext, CheckOutcome, InvariantSnapshot } from './check-runner.ts';
import { takeInvariantSnapshot } from './invariants.ts';
import type { ArgvRunner } from '../facts/argv-runner.ts';

/** Caps each `ip` call at the check's own timeout. */
export function withTimeout(run: ArgvRunner, timeoutMs: number): ArgvRunner {
  return (argv, opts) => run(argv, { ...opts, timeoutMs: Math.min(opts.timeoutMs, timeoutMs) });
}

/**
 * The baseline and the current snapshot to compare, or the failed outcome when either is missing.
 * `what` names the state for the message ("routing-policy rules", "routes").
 */
export async function snapshotsToCompare(
  run: ArgvRunner,
  timeoutMs: number,
  ctx: CheckContext,
  what: string,
): Promise<{ baseline: InvariantSnapshot; current: InvariantSnapshot } | { outcome: CheckOutcome }> {
  if (ctx.baseline === null) {
    return { outcome: { ok: false, message: 'no routing snapshot was taken before the change, so nothing to compare with' } };
  }
  try {
    const current = await takeInvariantSnapshot({ run: withTimeout(run, timeoutMs), ...(ctx.signal ? { signal: ctx.signal } : {}) });
    return { baseline: ctx.baseline, current };
  } catch (err) {
    return { outcome: { ok: false, message: `could not read the ${what}: ${(err as Error).message}` } };
  }
}

// ipRulesPreserved: every routing-policy rule of the snapshot taken before the change is still there.
import type { CheckContext, CheckOutcome, CheckRunner } from './check-runner.ts';
import { describeRule, takeInvariantSnapshot, vanishedRules } from './invariants.ts';
import { defaultRunner } from '../facts/argv-runner.ts';
import type { ArgvRunner } from '../facts/argv-runner.ts';

export function createIpRulesPreservedCheck(run: ArgvRunner = defaultRunner): CheckRunner<'ipRulesPreserved'> {
  return {
    kind: 'ipRulesPreserved',
    async run(spec, ctx: CheckContext): Promise<CheckOutcome> {
      if (ctx.baseline === null) {
        return { ok: false, message: 'no routing snapshot was taken before the change, so nothing to compare with' };
      }
      let current;
      try {
        current = await takeInvariantSnapshot({ run: withTimeout(run, spec.timeout), ...(ctx.signal ? { signal: ctx.signal } : {}) });
      } catch (err) {
        return { ok: false, message: `could not read the routing-policy rules: ${(err as Error).message}` };
      }
      const gone = vanishedRules(ctx.baseline.rules, current.rules);
      if (gone.length === 0) {
        return { ok: true, message: `all ${ctx.baseline.rules.length} routing-policy rules present` };
      }
      return {
        ok: false,
        message:
          `expected the ${ctx.baseline.rules.length} routing-policy rules present before the change; ` +
          `${gone.length} vanished: ${gone.map(describeRule).join('; ')}`,
      };
    },
  };
}

/** Caps each `ip` call at the check's own timeout. */
export function withTimeout(run: ArgvRunner, timeoutMs: number): ArgvRunner {
  return (argv, opts) => run(argv, { ...opts, timeoutMs: Math.min(opts.timeoutMs, timeoutMs) });
}

export const ipRulesPreserved = createIpRulesPreservedCheck();

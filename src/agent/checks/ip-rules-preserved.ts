// ipRulesPreserved: every routing-policy rule of the snapshot taken before the change is still there.
import type { CheckContext, CheckOutcome, CheckRunner } from './check-runner.ts';
import { describeRule, vanishedRules } from './invariants.ts';
import { snapshotsToCompare } from './invariant-check.ts';
import { defaultRunner } from '../facts/argv-runner.ts';
import type { ArgvRunner } from '../facts/argv-runner.ts';

export function createIpRulesPreservedCheck(run: ArgvRunner = defaultRunner): CheckRunner<'ipRulesPreserved'> {
  return {
    kind: 'ipRulesPreserved',
    async run(spec, ctx: CheckContext): Promise<CheckOutcome> {
      const read = await snapshotsToCompare(run, spec.timeout, ctx, 'routing-policy rules');
      if ('outcome' in read) return read.outcome;
      const { baseline, current } = read;
      const gone = vanishedRules(baseline.rules, current.rules);
      if (gone.length === 0) {
        return { ok: true, message: `all ${baseline.rules.length} routing-policy rules present` };
      }
      return {
        ok: false,
        message:
          `expected the ${baseline.rules.length} routing-policy rules present before the change; ` +
          `${gone.length} vanished: ${gone.map(describeRule).join('; ')}`,
      };
    },
  };
}

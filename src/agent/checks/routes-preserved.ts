// routesPreserved: every route of the snapshot taken before the change is still there, per table.
import type { CheckContext, CheckOutcome, CheckRunner } from './check-runner.ts';
import { describeRoute, vanishedRoutes } from './invariants.ts';
import { snapshotsToCompare } from './invariant-check.ts';
import { defaultRunner } from '../facts/argv-runner.ts';
import type { ArgvRunner } from '../facts/argv-runner.ts';

export function createRoutesPreservedCheck(run: ArgvRunner = defaultRunner): CheckRunner<'routesPreserved'> {
  return {
    kind: 'routesPreserved',
    async run(spec, ctx: CheckContext): Promise<CheckOutcome> {
      const read = await snapshotsToCompare(run, spec.timeout, ctx, 'routes');
      if ('outcome' in read) return read.outcome;
      const { baseline, current } = read;
      const gone = vanishedRoutes(baseline.routes, current.routes);
      if (gone.length === 0) return { ok: true, message: `all ${baseline.routes.length} routes present` };
      const byTable = new Map<string, number>();
      for (const r of gone) {
        const t = typeof r['table'] === 'string' || typeof r['table'] === 'number' ? String(r['table']) : 'main';
        byTable.set(t, (byTable.get(t) ?? 0) + 1);
      }
      const tables = [...byTable].map(([t, n]) => `${n} in table ${t}`).join(', ');
      return {
        ok: false,
        message:
          `expected the ${baseline.routes.length} routes present before the change; ${gone.length} vanished (${tables}): ` +
          gone.map(describeRoute).join('; '),
      };
    },
  };
}

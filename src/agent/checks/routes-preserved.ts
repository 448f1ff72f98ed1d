// routesPreserved: every route of the snapshot taken before the change is still there, per table.
import type { CheckContext, CheckOutcome, CheckRunner } from './check-runner.ts';
import { describeRoute, takeInvariantSnapshot, vanishedRoutes } from './invariants.ts';
import { withTimeout } from './ip-rules-preserved.ts';
import { defaultRunner } from '../facts/argv-runner.ts';
import type { ArgvRunner } from '../facts/argv-runner.ts';

export function createRoutesPreservedCheck(run: ArgvRunner = defaultRunner): CheckRunner<'routesPreserved'> {
  return {
    kind: 'routesPreserved',
    async run(spec, ctx: CheckContext): Promise<CheckOutcome> {
      if (ctx.baseline === null) {
        return { ok: false, message: 'no routing snapshot was taken before the change, so nothing to compare with' };
      }
      let current;
      try {
        current = await takeInvariantSnapshot({ run: withTimeout(run, spec.timeout), ...(ctx.signal ? { signal: ctx.signal } : {}) });
      } catch (err) {
        return { ok: false, message: `could not read the routes: ${(err as Error).message}` };
      }
      const gone = vanishedRoutes(ctx.baseline.routes, current.routes);
      if (gone.length === 0) return { ok: true, message: `all ${ctx.baseline.routes.length} routes present` };
      const byTable = new Map<string, number>();
      for (const r of gone) {
        const t = typeof r['table'] === 'string' || typeof r['table'] === 'number' ? String(r['table']) : 'main';
        byTable.set(t, (byTable.get(t) ?? 0) + 1);
      }
      const tables = [...byTable].map(([t, n]) => `${n} in table ${t}`).join(', ');
      return {
        ok: false,
        message:
          `expected the ${ctx.baseline.routes.length} routes present before the change; ${gone.length} vanished (${tables}): ` +
          gone.map(describeRoute).join('; '),
      };
    },
  };
}

export const routesPreserved = createRoutesPreservedCheck();

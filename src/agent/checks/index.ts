// Check runners by kind, and runChecks: the agent runs a step's checks through this after apply
// and through the bake. A kind with no runner fails (never passes silently).
import type { CheckKind, CheckSpec } from '../../core/types.ts';
import type { CheckContext, CheckRunner } from './check-runner.ts';
import { defaultRunner } from '../facts/argv-runner.ts';
import type { ArgvRunner } from '../facts/argv-runner.ts';
import { commandCheck } from './command.ts';
import { httpCheck } from './http.ts';
import { createIpRulesPreservedCheck } from './ip-rules-preserved.ts';
import { createRoutesPreservedCheck } from './routes-preserved.ts';
import { createSystemdUnitActiveCheck } from './systemd-unit-active.ts';
import { tcpCheck } from './tcp.ts';

export type CheckRunners = ReadonlyMap<string, CheckRunner>;

export interface CheckResult {
  readonly name: string;
  readonly ok: boolean;
  readonly message: string;
}

export interface ChecksOutcome {
  readonly ok: boolean;
  readonly message: string;
  readonly results: readonly CheckResult[];
}

/** The failure of a `command` check on an agent whose --allow lets no plan code run as a check. */
export const COMMAND_CHECK_REFUSED = 'not run: this agent does not allow command checks (--allow lacks command-check)';

/** Checks about host invariants: a failure makes a rollback restore rules and routes. */
export const INVARIANT_CHECK_KINDS: readonly CheckKind[] = ['ipRulesPreserved', 'routesPreserved'];

/** Every check kind this agent knows. `run` runs `ip` and `systemctl` (tests inject one). */
export function createCheckRunners(run: ArgvRunner = defaultRunner): Map<CheckKind, CheckRunner> {
  return new Map<CheckKind, CheckRunner>([
    ['command', commandCheck as CheckRunner],
    ['tcp', tcpCheck as CheckRunner],
    ['http', httpCheck as CheckRunner],
    ['ipRulesPreserved', createIpRulesPreservedCheck(run) as CheckRunner],
    ['routesPreserved', createRoutesPreservedCheck(run) as CheckRunner],
    ['systemdUnitActive', createSystemdUnitActiveCheck(run) as CheckRunner],
  ]);
}

const defaultRunners = createCheckRunners();

/** Runs every check (in parallel); ok only if all pass. Never throws. `command` checks run only with ctx.allowCommandChecks. */
export async function runChecks(
  specs: readonly CheckSpec[],
  ctx: CheckContext,
  runners: CheckRunners = defaultRunners,
): Promise<ChecksOutcome> {
  const results = await Promise.all(
    specs.map(async (spec): Promise<CheckResult> => {
      const name = spec.name || spec.kind;
      const runner = runners.get(spec.kind);
      if (!runner) return { name, ok: false, message: `check kind ${spec.kind} is not supported by this agent` };
      // A command check runs the plan's argv as root: only where the host's owner allowed it.
      if (spec.kind === 'command' && ctx.allowCommandChecks !== true) return { name, ok: false, message: COMMAND_CHECK_REFUSED };
      try {
        const outcome = await runner.run(spec as never, ctx);
        return { name, ok: outcome.ok, message: outcome.message };
      } catch (err) {
        return { name, ok: false, message: `check crashed: ${err instanceof Error ? err.message : String(err)}` };
      }
    }),
  );
  const failed = results.filter((r) => !r.ok);
  const message =
    specs.length === 0
      ? 'no checks'
      : failed.length === 0
        ? `${results.length} check(s) passed`
        : failed.map((r) => `${r.name}: ${r.message}`).join('; ');
  return { ok: failed.length === 0, message, results };
}

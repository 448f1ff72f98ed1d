// How the agent runs one check kind after a change and through the bake.
import type { CheckSpec } from '../../core/types.ts';
import type { AgentLog } from '../changes/change-runner.ts';

export interface CheckContext {
  readonly root: string;
  /** The host's name and the rollout being checked: `command` checks get them as SLUICE_HOST / SLUICE_ROLLOUT_ID. */
  readonly host?: string;
  readonly rolloutId?: string;
  readonly log: AgentLog;
  /**
   * Invariant snapshot taken just before the change was applied (`ip -j rule`, `ip -j route show
   * table all`), for ipRulesPreserved / routesPreserved. Null when none was taken.
   */
  readonly baseline: InvariantSnapshot | null;
  readonly signal?: AbortSignal;
  /**
   * Whether this agent's --allow lets a plan's `command` checks run (`command-check` or `command`).
   * Anything but true: a command check is not run and fails with the reason. Built-in checks
   * (tcp, http, systemdUnitActive, ipRulesPreserved, routesPreserved) always run.
   */
  readonly allowCommandChecks?: boolean;
}

export interface InvariantSnapshot {
  readonly takenAt: number;
  /** Parsed `ip -j rule` output. */
  readonly rules: readonly Record<string, unknown>[];
  /** Parsed `ip -j route show table all` output. */
  readonly routes: readonly Record<string, unknown>[];
}

export interface CheckOutcome {
  readonly ok: boolean;
  /** On failure: what was expected and what was seen. */
  readonly message: string;
}

export interface CheckRunner<K extends CheckSpec['kind'] = CheckSpec['kind']> {
  readonly kind: K;
  run(spec: Extract<CheckSpec, { kind: K }>, ctx: CheckContext): Promise<CheckOutcome>;
}

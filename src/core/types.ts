import type { TimeWindow } from './plan/window.ts';
// Core domain types shared by the plan parser, the rollout engine, the server, the agent and the
// simulator. Pure data: nothing here does I/O.
//
// Glossary (the same word means the same thing everywhere; see ../shared/DESIGN.md):
//   host      a machine running the agent, identified by its unique name, with labels
//   stratum   hosts sharing the values of some labels (os x provider, ...)
//   change    what to do to a host (`command`, `apt`, `file`), each with a way back
//   plan      a validated YAML file: a change, targeted hosts, waves, checks, budget, onFailure
//   rollout   one execution of a plan: persisted, resumable, observable
//   wave      a set of hosts changed together, then baked; a wave spec with `each` expands into
//             one wave per label value (named `<spec>/<value>`)
//   step      one host in one rollout
//   check     a host-level test the agent runs after the change and through the bake
//   bake      how long a wave must stay healthy before the next one starts
//   budget    how many hosts may fail (per wave, across the rollout) before the rollout halts
//   silence   a changed host that stops reporting counts as failed after `silentAfter`

/** Milliseconds. Every duration in the core is a number of milliseconds. */
export type Millis = number;
/** Milliseconds since the Unix epoch. The core never reads a clock: `now` is always passed in. */
export type Instant = number;

export type Labels = Readonly<Record<string, string>>;

/** Label selector: every key must match; a list means "any of these values". */
export type Selector = Readonly<Record<string, string | readonly string[]>>;

/** A count of hosts, or a percentage of some pool (rounded up, at least 1 when the pool is not empty). */
export type Quantity = { readonly count: number } | { readonly percent: number };

export type ChangeKind = 'command' | 'apt' | 'file';
export const CHANGE_KINDS: readonly ChangeKind[] = ['command', 'apt', 'file'];

export interface CommandChange {
  readonly kind: 'command';
  readonly apply: readonly string[];
  /** Missing means the change cannot be rolled back on a host (rollback then only restores invariants). */
  readonly rollback?: readonly string[];
  readonly timeout: Millis;
}

export interface AptChange {
  readonly kind: 'apt';
  /** package name -> exact version */
  readonly install: Readonly<Record<string, string>>;
  readonly remove: readonly string[];
  readonly timeout: Millis;
  /**
   * How old the host's apt package lists may be when the step starts: older (or missing) lists are
   * refreshed (`apt-get update`) before preflight and apply. 0: always refresh. Default 6h.
   */
  readonly maxListAge?: Millis;
}

/** change.apt.maxListAge when the plan does not say. */
export const DEFAULT_APT_MAX_LIST_AGE = 6 * 3600_000;

export interface FileChange {
  readonly kind: 'file';
  readonly path: string;
  readonly content: string;
  /** e.g. 0o644 */
  readonly mode: number;
  readonly owner?: string;
  readonly group?: string;
  readonly reload?: readonly string[];
  readonly timeout: Millis;
}

export type Change = CommandChange | AptChange | FileChange;

export type CheckSpec = (
  | { readonly kind: 'command'; readonly name: string; readonly command: readonly string[]; readonly timeout: Millis }
  | { readonly kind: 'tcp'; readonly name: string; readonly host: string; readonly port: number; readonly timeout: Millis }
  | {
      readonly kind: 'http';
      readonly name: string;
      readonly url: string;
      readonly status: number;
      readonly bodyMatch?: string;
      readonly timeout: Millis;
    }
  | { readonly kind: 'systemdUnitActive'; readonly name: string; readonly unit: string; readonly timeout: Millis }
  | { readonly kind: 'ipRulesPreserved'; readonly name: string; readonly timeout: Millis }
  | { readonly kind: 'routesPreserved'; readonly name: string; readonly timeout: Millis }
) & {
  /** Run it on a host the agent rolled back too (missing: see runsAfterRollback). */
  readonly afterRollback?: boolean;
};

export type CheckKind = CheckSpec['kind'];

/**
 * Whether the agent runs this check on a host it rolled back, before reporting the rollback: the
 * plan's `afterRollback`, else yes for the health and invariant kinds, no for `command` checks
 * (which usually test the change itself, e.g. `test -f /run/flag`).
 */
export function runsAfterRollback(check: CheckSpec): boolean {
  return check.afterRollback ?? check.kind !== 'command';
}

export interface WaveSpec {
  readonly name: string;
  /** Restricts the wave to targeted hosts with these labels; missing = every remaining targeted host. */
  readonly match?: Selector;
  /** How many hosts the wave (each sub-wave with `each`) takes from its candidates; missing = all. */
  readonly size?: Quantity;
  /** How many of the wave's hosts are changed at once; missing = all of them. Percent is of the wave. */
  readonly parallel?: Quantity;
  /** Label keys: the wave includes at least one host of each stratum of these labels. */
  readonly spread?: readonly string[];
  /** A label key: one sub-wave per value, smallest first (ties by value, alphabetically). */
  readonly each?: string;
  /** With `each`: keep only the first N sub-waves. */
  readonly limit?: number;
  readonly bake: Millis;
  /** The wave waits for `sluice rollout approve` before it starts (each sub-wave, with `each`). */
  readonly approve: boolean;
  /**
   * When the wave may start and its hosts may be assigned: its own `window`, else the plan's, with
   * the plan's and its own blackouts. Undefined: any time.
   */
  readonly window?: TimeWindow;
  /**
   * Nested topology: inside each value of `each` (or over the wave's hosts without `each`), these
   * steps run in order, each a wave of its own (size, parallel, each, limit, bake, approve), over
   * the hosts earlier steps of that value did not take. A wave with steps has no size, parallel,
   * spread, bake or approve of its own: those are its steps'.
   */
  readonly steps?: readonly WaveSpec[];
  /** Metric gates of this wave (on top of the plan's): checked before it starts and through its bake. */
  readonly gates?: readonly GateSpec[];
}

/**
 * A metric gate: a Prometheus query whose samples over `window` must all be below (or above) a
 * threshold, with at least `minSamples` of them. No data, too few samples or any error fails it.
 */
export interface GateSpec {
  readonly name: string;
  /** Prometheus base URL; missing: the server's --prometheus-url. */
  readonly prometheus?: string;
  readonly query: string;
  /** Exactly one of below/above. */
  readonly below?: number;
  readonly above?: number;
  /** The evidence window: samples from now - window to now. */
  readonly window: Millis;
  readonly minSamples: number;
  /** How often the gate is evaluated through a bake. */
  readonly interval: Millis;
  /** Per query (default 10s). */
  readonly timeout: Millis;
}

export const NOTIFY_EVENTS = [
  'wave.started',
  'wave.awaiting_approval',
  'wave.waiting_window',
  'gate.failed',
  'rollout.halted',
  'rollout.rolling_back',
  'rollout.rolled_back',
  'rollout.completed',
  'host.reverted',
  'drift.found',
  'remediation.denied_burst',
] as const;
export type NotifyEvent = (typeof NOTIFY_EVENTS)[number];
export const NOTIFY_FORMATS = ['json', 'slack'] as const;
export type NotifyFormat = (typeof NOTIFY_FORMATS)[number];

/** A webhook: where to POST, how to sign (the secret comes from the server's environment), which events. */
export interface NotifySpec {
  readonly url: string;
  /** Name of a server environment variable holding the HMAC secret. */
  readonly secretEnv?: string;
  readonly format: NotifyFormat;
  /** Missing: every event. */
  readonly events?: readonly NotifyEvent[];
}

export interface Budget {
  /** Failed (or silent) hosts a wave may have; more halts the rollout. Percent is of the wave. */
  readonly failedPerWave: Quantity;
  /** Failed (or silent) hosts the whole rollout may have. Percent is of the targeted hosts. */
  readonly failedTotal: Quantity;
  /** A changed host that reports nothing for this long counts as failed (`silent`). */
  readonly silentAfter: Millis;
}

export type OnFailure = 'halt' | 'rollback';
export type PreflightMode = 'block' | 'warn';

export interface Plan {
  readonly name: string;
  readonly change: Change;
  /** Which hosts the rollout targets; empty selector = every host. */
  readonly hosts: { readonly match: Selector };
  readonly waves: readonly WaveSpec[];
  readonly checks: readonly CheckSpec[];
  /** How often the agent re-runs checks through the bake. */
  readonly checkInterval: Millis;
  readonly budget: Budget;
  readonly onFailure: OnFailure;
  readonly preflight: PreflightMode;
  /** Commit-confirmed window on the agent (issue 3): roll back locally if it cannot confirm. */
  readonly confirmWindow: Millis;
  /** A targeted host offline or unable to run the plan when its wave starts: left out, or failed. Default skip. */
  readonly ineligible?: 'skip' | 'fail';
  /** Targets overlap an active rollout: wait for it (`queued`) instead of being refused. Default false. */
  readonly queue?: boolean;
  /**
   * Four eyes: a wave's approval must come from someone other than who started the rollout (another
   * token name and another owner). Default false.
   */
  readonly distinctApprover?: boolean;
  /** Metric gates on every wave (see GateSpec). */
  readonly gates?: readonly GateSpec[];
  /** Webhooks for this rollout's events (on top of the server-wide ones). */
  readonly notify?: readonly NotifySpec[];
  /** The plan's own window (with its blackouts), as written; each wave carries the one it runs under. */
  readonly window?: TimeWindow;
  /** An emergency change: may start and run through a fleet freeze; the reason goes in the event log. */
  readonly emergency?: { readonly reason: string };
  /** Reboot the host after the change when it needs one (or always); absent: never. */
  readonly reboot?: RebootSpec;
}

/**
 * `reboot:` of a plan. `ifRequired`: when the change left the host needing one (the agent's
 * reboot-required file, /var/run/reboot-required on Debian and Ubuntu); `always`: after every
 * apply. `before`/`after` run around it (drain, uncordon); the step is healthy only once the host
 * is back, its checks pass and it confirmed. `timeout`: how long the host may take to come back.
 */
export interface RebootSpec {
  readonly when: 'ifRequired' | 'always';
  readonly before?: readonly string[];
  readonly after?: readonly string[];
  readonly timeout: Millis;
}

export interface HostInfo {
  readonly name: string;
  readonly labels: Labels;
  /** The agent's --allow kinds, from its facts (undefined: it did not say). */
  readonly allow?: readonly string[];
  /** Last sign of life (server clock); undefined: unknown, treated as online. */
  readonly lastSeen?: Instant;
}


// ---- Rollout state machine vocabulary --------------------------------------------------------

export const ROLLOUT_STATES = [
  'pending',
  'queued',
  'running',
  'paused',
  'rolling_back',
  'completed',
  'halted',
  'rolled_back',
  'aborted',
] as const;
export type RolloutStatus = (typeof ROLLOUT_STATES)[number];
export const FINAL_ROLLOUT_STATES: readonly RolloutStatus[] = ['completed', 'halted', 'rolled_back', 'aborted'];

/**
 * pending: not started (an `approve` wave waits here as `awaiting_approval`);
 * applying: hosts are being changed (at most `parallel` at once);
 * baking: every host applied and passed its first checks; the bake timer runs;
 * completed: baked without exceeding the budget; failed: exceeded its budget;
 * rolling_back / rolled_back: its hosts are being / have been returned; skipped: never started
 * because the rollout stopped first.
 */
export const WAVE_STATES = [
  'pending',
  'awaiting_approval',
  'applying',
  'baking',
  'completed',
  'failed',
  'rolling_back',
  'rolled_back',
  'skipped',
] as const;
export type WaveStatus = (typeof WAVE_STATES)[number];

/** DESIGN.md's host step states. A step whose rollback failed stays `failed` with a message. */
export const STEP_STATES = [
  'pending',
  'applying',
  'verifying',
  'healthy',
  'failed',
  'silent',
  'rolling_back',
  'rolled_back',
  'skipped',
] as const;
export type StepStatus = (typeof STEP_STATES)[number];

/** What an agent is asked to do for a step. `verify`: keep running checks through the bake. */
export type AssignmentAction = 'apply' | 'verify' | 'rollback';

// ---- Persisted records: the rows the store keeps; the engine state is rebuilt from them -------

export interface RolloutRecord {
  readonly id: string;
  readonly name: string;
  readonly state: RolloutStatus;
  /** Index of the next wave spec to expand (waves before it are expanded into WaveRecords). */
  readonly nextSpec: number;
  readonly failedTotal: number;
  /**
   * Targeted hosts known at start: the pool a `failedTotal` percentage is taken of. Optional so
   * older rows load; without it a restored rollout counts the targeted hosts of the inventory.
   */
  readonly targetedHosts?: number;
  readonly reason: string | null;
  readonly createdAt: Instant;
  readonly updatedAt: Instant;
  /** Hosts that rolled the change back by themselves (commit-confirmed); 0 when missing. */
  readonly revertedHosts?: number;
  /** Targeted hosts left out as ineligible (offline, or cannot run the plan); 0 when missing. */
  readonly skippedHosts?: number;
  /** Set while the server holds the rollout because it suspects its own connectivity. */
  readonly heldReason?: string | null;
  /** Why the rollout is not moving on although running (window closed, fleet frozen, fleet-wide limits); null: it is not waiting. */
  readonly waiting?: string | null;
}

export interface WaveRecord {
  readonly rolloutId: string;
  /** Position in the rollout, 0-based, in execution order. */
  readonly index: number;
  /** The spec's name, or `<spec>/<value>` for a sub-wave of `each`. */
  readonly name: string;
  readonly specIndex: number;
  /** A nested step's wave: which leaf of the spec's step tree it runs as (leafSpecs order); absent for a plain wave. */
  readonly leaf?: number;
  readonly state: WaveStatus;
  readonly hostCount: number;
  readonly failed: number;
  readonly startedAt: Instant | null;
  readonly bakeStartedAt: Instant | null;
  readonly finishedAt: Instant | null;
}

export interface StepRecord {
  readonly rolloutId: string;
  readonly host: string;
  readonly waveIndex: number;
  readonly state: StepStatus;
  /** Increases every time the step gets a new assignment (apply, then rollback). */
  readonly attempt: number;
  readonly message: string | null;
  /** When the host first passed its checks after this attempt's apply (null: not yet). */
  readonly checkedAt: Instant | null;
  readonly updatedAt: Instant;
  /** When the agent reported the change confirmed (commit-confirmed window passed); null: not yet. */
  readonly confirmedAt?: Instant | null;
  /** The attempt at which the step was assigned its rollback (null/missing: never). */
  readonly rollbackAttempt?: number | null;
}

// ---- Drift (issue 3): what agents report and the server stores -------------------------------

/**
 * Drift kinds (open while the condition holds) and the guard's own actions (recorded closed).
 * package-changed: a version changed with no Sluice step; unattended-upgrades-enabled: it can run;
 * rules-vanished / routes-vanished: routing state vanished while no change ran; enforced / relaxed:
 * `--drift enforce` switched the updaters off / `--drift report` switched them back on; restored:
 * vanished rules/routes put back; enforce-problem: enforce could not do something.
 */
export const DRIFT_EVENT_KINDS = [
  'package-changed',
  'unattended-upgrades-enabled',
  'rules-vanished',
  'routes-vanished',
  'enforced',
  'relaxed',
  'restored',
  'enforce-problem',
] as const;
export type DriftEventKind = (typeof DRIFT_EVENT_KINDS)[number];
export type DriftPolicy = 'report' | 'enforce';

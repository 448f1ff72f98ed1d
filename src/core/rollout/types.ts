// Inputs and outputs of the rollout state machine: `transition(state, event, now) -> {state, effects}`.
// The server's engine driver and the simulator are the only callers; both persist or act on the
// effects and feed back events. See ./transition.ts.
import type { HostInfo, Instant, RolloutRecord, StepRecord, WaveRecord } from '../types.ts';

export type RolloutEvent =
  /** pending -> running. `hosts`: the fleet known at start (the engine keeps the targeted ones). */
  | { readonly type: 'start'; readonly hosts: readonly HostInfo[] }
  /** A host enrolled or changed labels during the rollout. Never joins a wave that already started. */
  | { readonly type: 'hostSeen'; readonly host: HostInfo }
  /** Any sign of life from a host (heartbeat, report). Only matters for hosts with work in flight. */
  | { readonly type: 'heartbeat'; readonly host: string }
  | { readonly type: 'applyResult'; readonly host: string; readonly attempt: number; readonly ok: boolean; readonly message?: string }
  | { readonly type: 'checkResult'; readonly host: string; readonly attempt: number; readonly ok: boolean; readonly message?: string }
  | { readonly type: 'rollbackResult'; readonly host: string; readonly attempt: number; readonly ok: boolean; readonly message?: string }
  /** The agent's commit-confirmed window passed with contact and invariants held: the change stays. */
  | { readonly type: 'confirmResult'; readonly host: string; readonly attempt: number; readonly ok: boolean; readonly message?: string }
  /** Time passed: bakes may end, in-flight hosts may go silent. */
  | { readonly type: 'tick' }
  | { readonly type: 'pause'; readonly actor?: string }
  | { readonly type: 'resume'; readonly actor?: string }
  | { readonly type: 'abort'; readonly actor?: string }
  | { readonly type: 'approve'; readonly actor?: string }
  | { readonly type: 'rollback'; readonly actor?: string }
  /** halted (by the failure budget) -> running: the failed wave goes on, its failed hosts get a new attempt. */
  | { readonly type: 'retry'; readonly actor?: string }
  /**
   * The server suspects itself (hosts outside the rollout went quiet together with the ones in it):
   * hold the rollout (running -> paused), no silence counted until `release`.
   */
  | { readonly type: 'hold'; readonly reason: string }
  /** Hosts are heard again: a held rollout goes on, every in-flight host gets a fresh silentAfter. */
  | { readonly type: 'release' }
  /** The server could not have heard anyone for a while (a start, a stall): in-flight hosts get a fresh silentAfter. */
  | { readonly type: 'grace' };

export type RolloutEffect =
  /** The rollout row changed (persist it). */
  | { readonly type: 'rollout'; readonly rollout: RolloutRecord }
  /** A wave was created or changed (persist it). */
  | { readonly type: 'wave'; readonly wave: WaveRecord }
  /** A step was created or changed (persist it). */
  | { readonly type: 'step'; readonly step: StepRecord }
  /** Hand the host work: the agent picks it up (the step record carries attempt and state). */
  | { readonly type: 'assign'; readonly host: string; readonly action: 'apply' | 'rollback'; readonly attempt: number; readonly waveIndex: number }
  /** A line for the rollout's event log (human-readable, also structured). */
  | { readonly type: 'log'; readonly kind: string; readonly message: string; readonly host?: string; readonly wave?: string; readonly by?: string };

export interface TransitionResult<S> {
  readonly state: S;
  readonly effects: readonly RolloutEffect[];
}

/** Everything needed to rebuild a rollout's engine state after a restart. */
export interface RolloutSnapshot {
  readonly rollout: RolloutRecord;
  readonly waves: readonly WaveRecord[];
  readonly steps: readonly StepRecord[];
  /** Current inventory (the engine keeps the targeted hosts). */
  readonly hosts: readonly HostInfo[];
  /** Last sign of life per host, for silence detection after a restart. */
  readonly lastSeen: ReadonlyMap<string, Instant>;
}

/** A fleet-wide freeze, as the engine sees it. */
export interface FreezeInfo {
  readonly reason: string;
  readonly by: string;
  /** When it ends by itself; null: until `sluice freeze end`. */
  readonly until: Instant | null;
}

/**
 * What the fleet around one rollout says, for one transition: the driver computes it from the
 * store and the other rollouts (the engine stays pure). Missing fields: no freeze, no limits.
 */
export interface FleetGates {
  /** An active fleet freeze: no wave starts (unless the plan is an emergency change). */
  readonly freeze?: FreezeInfo | null;
  /** Hosts changing (applying, or verifying before their first check) in other rollouts. */
  readonly changingElsewhere?: number;
  /** --max-changing-hosts: at most this many hosts changing at once across all rollouts; null: no cap. */
  readonly maxChangingHosts?: number | null;
  /** Other rollouts that started a wave and did not finish. */
  readonly runningElsewhere?: number;
  /** --max-running-rollouts: at most this many rollouts running at once; null: no cap. */
  readonly maxRunningRollouts?: number | null;
}

// The rollout engine's in-memory state: the persisted rows (rollout, waves, steps) plus the
// indices that keep every transition proportional to the hosts it touches (steps by host, per-wave
// host lists and counters, the in-flight set ordered by last sign of life). Built by
// createRolloutState, rebuilt from rows by restoreRolloutState; mutated only by ./transition.ts.
import type {
  HostInfo,
  Instant,
  Plan,
  RolloutRecord,
  RolloutStatus,
  StepRecord,
  StepStatus,
  WaveRecord,
  WaveSpec,
  WaveStatus,
} from '../types.ts';
import { FINAL_ROLLOUT_STATES } from '../types.ts';
import { compareStrings, leafSpecs, resolveQuantity } from '../fleet/expand-waves.ts';
import { matchesSelector } from '../fleet/select.ts';
import type { RolloutSnapshot } from './types.ts';
import { waveGates } from './metric-gates.ts';
import { isRollbackAttempt } from './rollback-targets.ts';

export interface StepState {
  readonly host: string;
  readonly waveIndex: number;
  state: StepStatus;
  attempt: number;
  message: string | null;
  checkedAt: Instant | null;
  updatedAt: Instant;
  /** When the agent reported the change confirmed (plans with a confirm window); null: not yet. */
  confirmedAt: Instant | null;
  /** The attempt at which the rollback was assigned (null: never). */
  rollbackAttempt: number | null;
  /** Last sign of life while the step is in flight (not persisted in the step row). */
  lastSeen: Instant;
}

export interface WaveState {
  readonly index: number;
  readonly name: string;
  readonly specIndex: number;
  /** A nested step's wave: its leaf in the spec's step tree (leafSpecs); undefined for a plain wave. */
  readonly leaf: number | undefined;
  /** What the wave runs as: its spec, or for a nested step the leaf step (with the spec's window). */
  readonly spec: WaveSpec;
  /** Sorted by name: the order hosts are assigned in, and reproducible from the step rows. */
  readonly hosts: readonly string[];
  state: WaveStatus;
  failed: number;
  startedAt: Instant | null;
  bakeStartedAt: Instant | null;
  finishedAt: Instant | null;
  /** Hosts changed at once. */
  readonly parallel: number;
  /** Failed hosts the wave may have (budget.failedPerWave of its host count, rounded down). */
  readonly failedAllowed: number;
  /** hosts[0..cursor) have been assigned; assignment only ever moves forward. */
  cursor: number;
  /** Steps counting against `parallel`: applying, or verifying before their first passed check. */
  busy: number;
  /** Steps rolling_back: at most `parallel` at once; the wave is rolled back when this reaches 0 and every host was visited. */
  rollingBack: number;
  /** While rolling back: hosts[0..rollbackCursor) were visited (assigned a rollback, or had nothing to undo). */
  rollbackCursor: number;
  /** Steps verifying and not confirmed yet (plans with a confirm window): the bake waits for 0. */
  unconfirmed: number;
}

export interface RolloutState {
  readonly id: string;
  readonly plan: Plan;
  status: RolloutStatus;
  nextSpec: number;
  failedTotal: number;
  reason: string | null;
  readonly createdAt: Instant;
  updatedAt: Instant;
  targetedHosts: number;
  failedTotalAllowed: number;
  /** Targeted hosts known (from start, then hostSeen). */
  readonly known: Map<string, HostInfo>;
  readonly steps: Map<string, StepState>;
  readonly waves: WaveState[];
  /** While running/paused: index of the wave being worked on (waves.length: expand the next spec). */
  current: number;
  /** While rolling_back: index of the wave being (or next to be) rolled back. */
  rollbackWave: number;
  /**
   * Steps in applying/verifying/rolling_back, in order of lastSeen (a refreshed step is deleted and
   * re-inserted, so Map order is lastSeen order as long as `now` does not go backwards). A tick
   * looks only at the head: the hosts that may have gone silent.
   */
  readonly inFlight: Map<string, StepState>;
  /** Hosts whose rollback failed / was not confirmed (for the final reason). */
  readonly rollbackFailed: Set<string>;
  readonly rollbackSilent: Set<string>;
  /** Hosts that rolled the change back by themselves (commit-confirmed). */
  revertedHosts: number;
  /** Targeted hosts left out as ineligible. */
  skippedHosts: number;
  /** Why the server holds the rollout (it suspects itself); null when not held. */
  heldReason: string | null;
  /** Why a running rollout does not move on (window, freeze, fleet-wide limits); null: not waiting. */
  waiting: string | null;
  /** When the wait ends by itself (the window opens, the freeze expires); null: unknown (the driver ticks waiting rollouts). Not persisted. */
  waitUntil: Instant | null;
  /**
   * Metric gates: the index of the wave whose gates passed their pre-start evaluation (-1: none).
   * Not persisted: after a restart a waiting wave's gates are evaluated again.
   */
  gatesPassedWave: number;
  /** The wave that was logged as waiting for its gates (-1: none), so the log says it once. */
  gatesWaitLogged: number;
}

/** Whether wave `index`, the current one and pending, has metric gates that have not passed yet. */
export function gatesPending(state: RolloutState, index: number): boolean {
  const wave = state.waves[index];
  return (
    wave !== undefined &&
    state.current === index &&
    wave.state === 'pending' &&
    state.gatesPassedWave !== index &&
    waveGates(state.plan, wave).length > 0
  );
}

/**
 * Whether the driver should evaluate wave `index`'s gates before it starts: they are pending and
 * the rollout is not waiting at the boundary for something else (a window, a freeze, a limit).
 */
export function awaitsGates(state: RolloutState, index: number): boolean {
  return state.waiting === null && gatesPending(state, index);
}

export function isFinalStatus(s: RolloutStatus): boolean {
  return FINAL_ROLLOUT_STATES.includes(s);
}

/** Whether the host has work in flight in this rollout (its silence would matter). */
export function hasWorkInFlight(state: RolloutState, host: string): boolean {
  return state.inFlight.has(host);
}

/** Whether a result may still change the rollout: a host is applying, awaiting its first check, or rolling back. */
export function awaitsResults(state: RolloutState): boolean {
  return state.waves.some((w) => w.busy > 0 || w.rollingBack > 0);
}

export function isInFlightStatus(s: StepStatus): boolean {
  return s === 'applying' || s === 'verifying' || s === 'rolling_back';
}

export function countsAgainstParallel(step: StepState): boolean {
  return step.state === 'applying' || (step.state === 'verifying' && step.checkedAt === null);
}

export { isRollbackAttempt } from './rollback-targets.ts';

/** A verifying step of a plan with a confirm window that the agent has not confirmed yet. */
export function awaitsConfirmation(plan: Plan, step: StepState): boolean {
  return plan.confirmWindow > 0 && step.state === 'verifying' && step.confirmedAt === null;
}

export function failedTotalAllowed(plan: Plan, targetedHosts: number): number {
  return resolveQuantity(plan.budget.failedTotal, targetedHosts, 'floor');
}

export function newWaveState(
  plan: Plan,
  index: number,
  name: string,
  specIndex: number,
  hosts: readonly string[],
  leaf?: number,
): WaveState {
  const top = plan.waves[specIndex];
  if (!top) throw new Error(`wave ${name} refers to wave spec ${specIndex}, which the plan does not have`);
  const spec = leaf === undefined ? top : leafSpecs(top)[leaf];
  if (!spec) throw new Error(`wave ${name} refers to step ${leaf} of wave spec ${top.name}, which the plan does not have`);
  const parallel =
    spec.parallel === undefined ? hosts.length : Math.max(1, resolveQuantity(spec.parallel, hosts.length, 'ceil'));
  return {
    index,
    name,
    specIndex,
    leaf,
    spec,
    hosts,
    state: 'pending',
    failed: 0,
    startedAt: null,
    bakeStartedAt: null,
    finishedAt: null,
    parallel,
    failedAllowed: resolveQuantity(plan.budget.failedPerWave, hosts.length, 'floor'),
    cursor: 0,
    busy: 0,
    rollingBack: 0,
    rollbackCursor: 0,
    unconfirmed: 0,
  };
}

export function createRolloutState(id: string, plan: Plan, now: Instant): RolloutState {
  return {
    id,
    plan,
    status: 'pending',
    nextSpec: 0,
    failedTotal: 0,
    reason: null,
    createdAt: now,
    updatedAt: now,
    targetedHosts: 0,
    failedTotalAllowed: failedTotalAllowed(plan, 0),
    known: new Map(),
    steps: new Map(),
    waves: [],
    current: 0,
    rollbackWave: -1,
    inFlight: new Map(),
    rollbackFailed: new Set(),
    rollbackSilent: new Set(),
    revertedHosts: 0,
    skippedHosts: 0,
    heldReason: null,
    gatesPassedWave: -1,
    gatesWaitLogged: -1,
    waiting: null,
    waitUntil: null,
  };
}

/**
 * Rebuilds the state that produced `snapshot`: counters, queue cursors and the in-flight order
 * come from the rows. A step's lastSeen is the later of the host's recorded last sign of life and
 * the step row's updatedAt (the host table may hold a heartbeat older than the assignment).
 */
export function restoreRolloutState(plan: Plan, snapshot: RolloutSnapshot): RolloutState {
  const r = snapshot.rollout;
  const known = new Map<string, HostInfo>();
  for (const h of snapshot.hosts) if (matchesSelector(h.labels, plan.hosts.match)) known.set(h.name, h);
  const targetedHosts = r.targetedHosts ?? known.size;
  const state: RolloutState = {
    ...createRolloutState(r.id, plan, r.createdAt),
    status: r.state,
    nextSpec: r.nextSpec,
    failedTotal: r.failedTotal,
    reason: r.reason,
    updatedAt: r.updatedAt,
    targetedHosts,
    failedTotalAllowed: failedTotalAllowed(plan, targetedHosts),
    known,
    revertedHosts: r.revertedHosts ?? 0,
    skippedHosts: r.skippedHosts ?? 0,
    heldReason: r.heldReason ?? null,
    waiting: r.waiting ?? null,
  };

  const hostsByWave = new Map<number, string[]>();
  for (const s of snapshot.steps) {
    const seen = snapshot.lastSeen.get(s.host);
    const step: StepState = {
      host: s.host,
      waveIndex: s.waveIndex,
      state: s.state,
      attempt: s.attempt,
      message: s.message,
      checkedAt: s.checkedAt,
      updatedAt: s.updatedAt,
      confirmedAt: s.confirmedAt ?? null,
      // Rows written before rollback_attempt existed: apply was attempt 1, rollback attempt 2.
      rollbackAttempt: s.rollbackAttempt !== undefined ? s.rollbackAttempt : s.attempt >= 2 ? s.attempt : null,
      lastSeen: seen === undefined ? s.updatedAt : Math.max(seen, s.updatedAt),
    };
    state.steps.set(s.host, step);
    const list = hostsByWave.get(s.waveIndex);
    if (list) list.push(s.host);
    else hostsByWave.set(s.waveIndex, [s.host]);
    if (isRollbackAttempt(step) && step.state === 'failed') state.rollbackFailed.add(step.host);
    if (isRollbackAttempt(step) && step.state === 'silent') state.rollbackSilent.add(step.host);
  }

  const waves = [...snapshot.waves].sort((a, b) => a.index - b.index);
  for (const w of waves) {
    const hosts = (hostsByWave.get(w.index) ?? []).sort(compareStrings);
    const wave = newWaveState(plan, w.index, w.name, w.specIndex, hosts, w.leaf);
    wave.state = w.state;
    wave.failed = w.failed;
    wave.startedAt = w.startedAt;
    wave.bakeStartedAt = w.bakeStartedAt;
    wave.finishedAt = w.finishedAt;
    let cursor = -1;
    let lastRollingBack = -1;
    hosts.forEach((h, i) => {
      const step = state.steps.get(h);
      if (!step) return;
      if (step.state === 'pending' && cursor < 0) cursor = i;
      if (countsAgainstParallel(step)) wave.busy++;
      if (step.state === 'rolling_back') {
        wave.rollingBack++;
        lastRollingBack = i;
      }
      if (awaitsConfirmation(plan, step)) wave.unconfirmed++;
    });
    wave.cursor = cursor < 0 ? hosts.length : cursor;
    // Rollbacks are handed out in name order and the next one in the same transition as a result:
    // the hosts visited so far end at the last one rolling back (none: every host was visited).
    // Waves not visited yet in this round start from their first host.
    wave.rollbackCursor = w.state !== 'rolling_back' ? 0 : lastRollingBack < 0 ? hosts.length : lastRollingBack + 1;
    state.waves.push(wave);
  }

  const flying = [...state.steps.values()].filter((s) => isInFlightStatus(s.state));
  flying.sort((a, b) => a.lastSeen - b.lastSeen || compareStrings(a.host, b.host));
  for (const s of flying) state.inFlight.set(s.host, s);

  const firstOpen = state.waves.findIndex((w) => w.state !== 'completed');
  state.current = firstOpen < 0 ? state.waves.length : firstOpen;
  let rollingBack = -1;
  for (const w of state.waves) if (w.state === 'rolling_back') rollingBack = w.index;
  state.rollbackWave = r.state === 'rolling_back' && rollingBack < 0 ? state.waves.length - 1 : rollingBack;
  return state;
}

/** Earliest time a `tick` could change something: a bake end while running, or a silence deadline. */
export function nextDeadline(state: RolloutState): Instant | null {
  if (state.status === 'pending' || state.status === 'queued' || isFinalStatus(state.status)) return null;
  let deadline: Instant | null = null;
  const oldest = state.inFlight.values().next();
  // Held: no silence is counted (the driver releases the rollout when hosts are heard again).
  if (!oldest.done && state.heldReason === null) deadline = oldest.value.lastSeen + state.plan.budget.silentAfter;
  const scheduled = scheduledDeadline(state);
  if (scheduled !== null && (deadline === null || scheduled < deadline)) deadline = scheduled;
  return deadline;
}

/**
 * nextDeadline without silence: when a tick ends the current wave's bake, or lets a waiting
 * rollout go on (its window opens). The simulator, which computes silence itself, ticks at these.
 */
export function scheduledDeadline(state: RolloutState): Instant | null {
  if (state.status !== 'running') return null;
  let deadline: Instant | null = null;
  const wave = state.waves[state.current];
  // A bake waiting for confirmations ends with the confirm report, not with time.
  if (wave && wave.state === 'baking' && wave.bakeStartedAt !== null && wave.unconfirmed === 0) deadline = wave.bakeStartedAt + wave.spec.bake;
  if (state.waiting !== null && state.waitUntil !== null && (deadline === null || state.waitUntil < deadline)) deadline = state.waitUntil;
  return deadline;
}

export function rolloutRecord(state: RolloutState): RolloutRecord {
  return {
    id: state.id,
    name: state.plan.name,
    state: state.status,
    nextSpec: state.nextSpec,
    failedTotal: state.failedTotal,
    targetedHosts: state.targetedHosts,
    reason: state.reason,
    createdAt: state.createdAt,
    updatedAt: state.updatedAt,
    revertedHosts: state.revertedHosts,
    skippedHosts: state.skippedHosts,
    heldReason: state.heldReason,
    ...(state.waiting !== null ? { waiting: state.waiting } : {}),
  };
}

export function waveRecord(state: RolloutState, w: WaveState): WaveRecord {
  return {
    rolloutId: state.id,
    index: w.index,
    name: w.name,
    specIndex: w.specIndex,
    ...(w.leaf === undefined ? {} : { leaf: w.leaf }),
    state: w.state,
    hostCount: w.hosts.length,
    failed: w.failed,
    startedAt: w.startedAt,
    bakeStartedAt: w.bakeStartedAt,
    finishedAt: w.finishedAt,
  };
}

export function stepRecord(state: RolloutState, s: StepState): StepRecord {
  return {
    rolloutId: state.id,
    host: s.host,
    waveIndex: s.waveIndex,
    state: s.state,
    attempt: s.attempt,
    message: s.message,
    checkedAt: s.checkedAt,
    updatedAt: s.updatedAt,
    confirmedAt: s.confirmedAt,
    rollbackAttempt: s.rollbackAttempt,
  };
}

export function waveRecords(state: RolloutState): WaveRecord[] {
  return state.waves.map((w) => waveRecord(state, w));
}

/** In wave order, then by host name. */
export function stepRecords(state: RolloutState): StepRecord[] {
  const out: StepRecord[] = [];
  for (const w of state.waves) {
    for (const h of w.hosts) {
      const s = state.steps.get(h);
      if (s) out.push(stepRecord(state, s));
    }
  }
  return out;
}

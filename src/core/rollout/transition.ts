// Rollout: the pure state machine that drives one rollout through its waves, budgets, bakes,
// silence and rollback. `transition(state, event, now) -> {state, effects}`; the server's engine
// driver and the simulator both run it. No clock, no randomness, no I/O.
//
// THE SPEC (the tests in transition.test.ts hold the code to it):
//
// State ownership and cost. The engine owns the state object passed in and updates it in place;
// callers that need the previous state clone it (or rebuild it with restoreRolloutState). A
// transition costs in proportion to the hosts it touches, never the fleet: steps are indexed by
// host, each wave keeps its sorted host list, an assignment cursor and counters, and in-flight
// steps sit in a Map ordered by last sign of life, so a tick only looks at the ones that may have
// gone silent. Expanding a wave spec costs O(candidates); completing or rolling back a wave costs
// O(its hosts). Iteration orders are stable, so equal inputs give equal effects. `now` is expected
// not to go backwards (if it does, a silence is detected at most that much late).
//
// 1. Targeting. `start {hosts}` keeps the hosts matching plan.hosts.match (`known`; later
//    `hostSeen` events add/update targeted hosts and drop ones that no longer match). pending ->
//    running, then the first wave spec is reached.
// 2. Expansion happens when a spec is reached: candidates = known hosts no earlier wave took,
//    filtered by spec.match (see ../fleet/expand-waves.ts for each/limit/size/spread). All
//    sub-waves of a spec are created together, with a `pending` step per host (membership is fixed
//    then: a host that enrolls later is never swept into an existing wave), and start one after
//    the other. A spec selecting no host creates no wave ("selected no hosts"); the next spec is
//    reached. No spec left: the rollout is `completed`.
// 3. Wave start: `approve: true` -> `awaiting_approval` until `approve`; else `applying`. Applying
//    keeps up to `parallel` hosts busy (count, or percent of the wave rounded up, at least 1;
//    missing = all). Busy = step `applying`, or `verifying` before its first passed check
//    (checkedAt null). Assign = pending -> applying, attempt+1, effects `step` + `assign`. Hosts are
//    assigned in name order.
// 4. applyResult ok -> `verifying` (no checks in the plan: checkedAt = now at once). checkResult ok
//    on a verifying step with checkedAt null -> checkedAt = now; otherwise only lastSeen. A result
//    not ok -> step `failed` with the message, wave.failed+1, rollout.failedTotal+1, then the budget
//    check (6). Reports for unknown hosts, with another attempt than the step's, or that do not fit
//    the step's state change nothing but lastSeen (a `report.ignored` log says so).
// 5. When every host of an `applying` wave has been assigned and none is busy, the wave goes
//    `baking` (bakeStartedAt = now; this also happens while paused). A tick at or after
//    bakeStartedAt + bake while `running` completes it: verifying steps -> `healthy`, wave
//    `completed`, and the next wave starts in the same transition (bake 0: at once).
// 6. Budget: a wave may have floor(failedPerWave of its hosts) failures, the rollout
//    floor(failedTotal of the targeted hosts known at start). More -> wave `failed`, no assignment
//    from that moment; onFailure `rollback` -> rollout `rolling_back` (8); `halt` -> `halted`
//    (final), waves not started -> `skipped`. Failures while paused count too.
// 7. Silence: steps in applying/verifying/rolling_back have a lastSeen (assign time, then
//    heartbeats and results from the host). On tick, now - lastSeen >= silentAfter -> step
//    `silent`: a failure (6) for applying/verifying; for rolling_back, a rollback not confirmed.
//    Heartbeats never produce effects (lastSeen is not a persisted column).
// 8. Rollback (automatic, or `rollback` from running/paused/halted/completed, or from rolled_back
//    while some host's rollback failed or was never confirmed): rollout `rolling_back`, no more
//    apply assignments, waves not started -> `skipped`. Wave by wave, most recent first, and within
//    a wave at most `parallel` hosts at once, in name order (the agent runs the plan's checks on
//    the rolled-back host before it reports): every step ever assigned apply (applying, verifying,
//    healthy, failed, silent), and every step whose earlier rollback failed or went silent, gets
//    attempt+1, `rolling_back`, an `assign` rollback; wave `rolling_back`. rollbackResult ok ->
//    `rolled_back` and the next host of the wave is assigned; a rollback that goes silent is a
//    rollback not confirmed and the next host is assigned. A rollback that fails (`failed`,
//    "rollback failed: ...") halts the rollback: rollout `halted`, its wave `failed`, nothing more
//    handed out (rollbacks in flight finish and are recorded), the reason says how many hosts are
//    left; `rollback` again goes on from there. When every host of the wave was visited and none is
//    rolling_back, the wave is `rolled_back` and the next earlier one starts. A started wave with
//    nothing to roll back is `skipped`. None left: rollout `rolled_back` (final), the reason names
//    hosts whose rollback failed or was not confirmed. A host whose rollback went silent is
//    assigned it again (attempt+1) when it is heard from, also after the rollout ended (not when
//    aborted); the reason is recomputed as such hosts report.
// 9. Operator events: pause (running -> paused: no assignment, wave start or bake completion; the
//    bake clock keeps running), resume (paused -> running, then catch up at once), approve (the
//    current wave awaits approval, rollout running or paused -> applying; assigns only if running),
//    abort (any non-final state, pending included -> `aborted`: nothing new assigned, no further
//    rollbacks, waves not started -> skipped, in-flight steps keep their state), rollback (8).
//    An event the state does not allow throws ConflictError before anything is changed: operator
//    events in the wrong state, any event but start/abort on a `pending` rollout, start twice. On a
//    final rollout only rollback results for rolling_back steps (or steps that went silent while
//    rolling back) are recorded, and on a `halted` one the apply, check and confirm results of the
//    current attempt (hosts in flight at the halt: their step moves on, the budget does not act);
//    every other event changes nothing.
// 10. Effects: every created/changed row once per transition, in its last version: `rollout`, then
//    `wave`s by index, then `step`s in the order first touched; then `assign`s, then `log`s, each
//    in the order they happened.
// 12. Gates at wave boundaries (FleetGates, computed by the driver; the window from the plan). A
//    pending wave starts (or asks for approval) only when: no fleet freeze is active, unless the
//    plan is an `emergency` change (then `freeze.bypassed` records the reason); the rollout's first
//    wave also needs room under maxRunningRollouts (rollouts that started a wave and did not end);
//    and the wave's window is open. An applying wave assigns hosts only while its window is open and
//    while fewer than maxChangingHosts hosts are changing across every rollout (its own busy hosts
//    included); hosts in flight finish, and a bake runs through a closed window or a freeze. A wave
//    awaiting approval cannot be approved during a freeze (ConflictError). While blocked the rollout
//    stays `running` with `waiting` set (persisted in the rollout row) and logs `rollout.waiting`
//    once per kind of wait; `waitUntil` (the window's opening, a freeze's end) is a deadline.
// 11. Retry (halted by the failure budget only; a halted rollback goes on with `rollback`): the
//    failed wave goes on where it was; its failed and silent hosts are `pending` again (assigned
//    with attempt+1) and its failures no longer count; waves the halt skipped are `pending` again;
//    completed waves are kept; in-flight hosts get a fresh silentAfter. The wave's start checks
//    eligibility again.
// 12. Metric gates (./gates.ts; the driver queries Prometheus and sends the verdicts): a wave
//    whose plan or spec has gates stays `pending` when reached (`wave.awaiting_gates`, once) until
//    `gatesPassed {wave}` for it (then approval, if any, and the start). `gateFailed {wave}` for the
//    current wave, not ended, of a running or paused rollout fails the wave (`gate.failed`, the
//    message as the reason) and rolls back or halts as in 6. A verdict for another wave changes
//    nothing. Which wave passed is not persisted: after a restore a waiting wave waits again. A
//    retry of a gated wave makes it wait for its gates again.
import type { HostInfo, Instant, RolloutStatus } from '../types.ts';
import { ConflictError } from '../errors.ts';
import { compareStrings, expandWaveSpecDetailed } from '../fleet/expand-waves.ts';
import { matchesSelector } from '../fleet/select.ts';
import { formatDuration } from '../plan/duration.ts';
import type { FleetGates, RolloutEffect, RolloutEvent, TransitionResult } from './types.ts';
import { windowWait } from '../plan/window.ts';
import { ineligibleReason } from './eligibility.ts';
import { isRollbackTarget } from './rollback-targets.ts';
import { waveGates } from './metric-gates.ts';
import {
  awaitsConfirmation,
  awaitsGates,
  gatesPending,
  countsAgainstParallel,
  failedTotalAllowed,
  isFinalStatus,
  isInFlightStatus,
  isRollbackAttempt,
  newWaveState,
  rolloutRecord,
  stepRecord,
  waveRecord,
  type RolloutState,
  type StepState,
  type WaveState,
} from './rollout-state.ts';

export {
  createRolloutState,
  isFinalStatus,
  nextDeadline,
  restoreRolloutState,
  rolloutRecord,
  stepRecords,
  waveRecords,
} from './rollout-state.ts';
export type { RolloutState, StepState, WaveState } from './rollout-state.ts';

/** Names listed in a reason before "and N more". */
const REASON_HOST_LIMIT = 10;

/** What one transition changed: collected, then turned into effects once at the end. */
class Changes {
  rollout = false;
  readonly waves = new Set<WaveState>();
  readonly steps = new Set<StepState>();
  readonly assigns: RolloutEffect[] = [];
  readonly logs: RolloutEffect[] = [];
  /** Why the rollout waits after this transition (set by advance), and until when. */
  wait: { kind: string; reason: string; until: Instant | null } | null = null;
  constructor(
    readonly s: RolloutState,
    readonly now: Instant,
    readonly gates: FleetGates = {},
  ) {}

  log(kind: string, message: string, where: { host?: string; wave?: string; by?: string } = {}): void {
    this.logs.push({ type: 'log', kind, message, ...where });
  }

  touchRollout(): void {
    this.rollout = true;
    this.s.updatedAt = this.now;
  }

  effects(): RolloutEffect[] {
    const out: RolloutEffect[] = [];
    if (this.rollout) out.push({ type: 'rollout', rollout: rolloutRecord(this.s) });
    const waves = [...this.waves].sort((a, b) => a.index - b.index);
    for (const w of waves) out.push({ type: 'wave', wave: waveRecord(this.s, w) });
    for (const st of this.steps) out.push({ type: 'step', step: stepRecord(this.s, st) });
    out.push(...this.assigns, ...this.logs);
    return out;
  }
}

export function transition(state: RolloutState, event: RolloutEvent, now: Instant, gates: FleetGates = {}): TransitionResult<RolloutState> {
  refuseIfNotAllowed(state, event, now, gates);
  const c = new Changes(state, now, gates);
  if (isFinalStatus(state.status) && event.type !== 'rollback' && event.type !== 'retry') {
    // A finished rollout still records rollbacks: late results, and a host whose rollback went
    // silent is handed it again when it is heard from (never while the rollout was aborted).
    if (event.type === 'rollbackResult') onResult(c, event);
    // Hosts in flight when the budget halted the rollout still say what they did (a retry goes on from it).
    if (state.status === 'halted' && (event.type === 'applyResult' || event.type === 'checkResult' || event.type === 'confirmResult')) onResult(c, event);
    if (event.type === 'heartbeat' && state.status !== 'aborted') reassignSilentRollback(c, event.host);
    if (state.status === 'rolled_back' && c.steps.size > 0) {
      state.reason = finalRollbackReason(state);
      c.touchRollout();
    }
    noteWaiting(c);
    return { state, effects: c.effects() };
  }
  switch (event.type) {
    case 'start':
      onStart(c, event.hosts);
      break;
    case 'hostSeen':
      onHostSeen(state, event.host);
      break;
    case 'heartbeat': {
      refresh(state, state.inFlight.get(event.host), now);
      reassignSilentRollback(c, event.host);
      const known = state.known.get(event.host);
      if (known) state.known.set(event.host, { ...known, lastSeen: now });
      break;
    }
    case 'applyResult':
    case 'checkResult':
    case 'rollbackResult':
    case 'confirmResult':
      onResult(c, event);
      break;
    case 'tick':
      onTick(c);
      break;
    case 'pause':
      setStatus(c, 'paused', `paused${by(event.actor)}`);
      break;
    case 'resume':
      state.heldReason = null;
      setStatus(c, 'running', `resumed${by(event.actor)}`);
      break;
    case 'hold':
      if (state.heldReason !== null) break;
      state.heldReason = event.reason;
      if (state.status === 'running') state.status = 'paused';
      c.touchRollout();
      c.log('rollout.held', `held by the server: ${event.reason}`);
      break;
    case 'release':
      if (state.heldReason === null) break;
      graceAll(state, now);
      state.heldReason = null;
      if (state.status === 'paused') state.status = 'running';
      c.touchRollout();
      c.log('rollout.released', 'hosts are heard again: the rollout goes on (every in-flight host gets a fresh silentAfter)');
      break;
    case 'grace':
      graceAll(state, now);
      break;
    case 'approve': {
      const wave = state.waves[state.current];
      if (wave) {
        c.log('wave.approved', `wave ${wave.name} approved${by(event.actor)}`, { wave: wave.name, ...(event.actor ? { by: event.actor } : {}) });
        startWave(c, wave);
      }
      break;
    }
    case 'abort':
      state.reason = `aborted${by(event.actor)}`;
      setStatus(c, 'aborted', state.reason);
      skipWavesNotStarted(c);
      break;
    case 'rollback': {
      const reason = state.reason === null ? null : baseReason(state.reason);
      const before =
        reason === null || (state.status !== 'halted' && state.status !== 'rolled_back')
          ? ''
          : reason.startsWith(ROLLBACK_HALTED)
            ? ' (going on after a halted rollback)'
            : ` after: ${reason}`;
      startRollback(c, `rollback requested${by(event.actor)}${before}`);
      break;
    }
    case 'retry':
      onRetry(c, event.actor);
      break;
    case 'gatesPassed':
      if (awaitsGates(state, event.wave)) {
        state.gatesPassedWave = event.wave;
        const wave = state.waves[event.wave]!;
        c.log('gate.passed', `wave ${wave.name}: every metric gate passed`, { wave: wave.name });
      }
      break;
    case 'gateFailed':
      onGateFailed(c, event.wave, event.gate, event.message);
      break;
  }
  progress(c);
  noteWaiting(c);
  return { state, effects: c.effects() };
}

/** Records why the rollout waits (or that it no longer does), logging once per kind of wait. */
function noteWaiting(c: Changes): void {
  const s = c.s;
  const wait = s.status === 'running' ? c.wait : null;
  s.waitUntil = wait?.until ?? null;
  const reason = wait?.reason ?? null;
  if (reason === s.waiting) return;
  const before = s.waiting === null ? null : waitKind(s.waiting);
  s.waiting = reason;
  c.touchRollout();
  if (wait !== null && wait.kind !== before) c.log('rollout.waiting', wait.reason);
}

function waitKind(reason: string): string {
  if (reason.startsWith('waiting for window')) return 'window';
  if (reason.startsWith('waiting: fleet frozen')) return 'freeze';
  if (reason.includes('--max-running-rollouts')) return 'rollouts';
  if (reason.includes('--max-changing-hosts')) return 'hosts';
  return reason;
}

/** Why `wave` may not start now (freeze, running-rollouts cap, window); null: it may. */
function boundaryWait(c: Changes, wave: WaveState): { kind: string; reason: string; until: Instant | null } | null {
  const s = c.s;
  const g = c.gates;
  const freeze = g.freeze ?? null;
  if (freeze !== null && s.plan.emergency === undefined) {
    return { kind: 'freeze', reason: freezeReason(freeze), until: freeze.until };
  }
  const admitted = s.waves.some((w) => w.startedAt !== null);
  const max = g.maxRunningRollouts ?? null;
  const running = g.runningElsewhere ?? 0;
  if (!admitted && max !== null && running >= max) {
    return { kind: 'rollouts', reason: `waiting: ${running} rollout${running === 1 ? '' : 's'} running, at most ${max} (--max-running-rollouts)`, until: null };
  }
  const w = windowWait(wave.spec.window, c.now);
  if (w !== null) return { kind: 'window', reason: w.reason, until: w.opensAt };
  return null;
}

export function freezeReason(f: { reason: string; by: string; until: Instant | null }): string {
  return `waiting: fleet frozen (${f.reason}) by ${f.by} ${f.until === null ? 'until `sluice freeze end`' : `until ${new Date(f.until).toISOString().replace(/:00\.000Z$/, 'Z').replace(/\.000Z$/, 'Z')}`}`;
}

// ---- guards: every refusal happens here, before anything is changed ---------------------------

function refuseIfNotAllowed(s: RolloutState, event: RolloutEvent, now: Instant, gates: FleetGates): void {
  const status = s.status;
  const refuse = (why: string): never => {
    throw new ConflictError(`cannot ${event.type} rollout ${s.id}: ${why}`);
  };
  if (event.type === 'start') {
    if (status !== 'pending' && status !== 'queued') refuse(`it was already started (it is ${status})`);
    return;
  }
  if ((status === 'pending' || status === 'queued') && event.type !== 'abort') refuse('it has not started yet');
  switch (event.type) {
    case 'pause':
      if (status !== 'running') refuse(`only a running rollout can be paused (it is ${status})`);
      return;
    case 'resume':
      if (status !== 'paused') refuse(`only a paused rollout can be resumed (it is ${status})`);
      return;
    case 'approve': {
      if (status !== 'running' && status !== 'paused') refuse(`it is ${status}`);
      const wave = s.waves[s.current];
      if (!wave || wave.state !== 'awaiting_approval') refuse('no wave is awaiting approval');
      if (gates.freeze && s.plan.emergency === undefined) refuse(`the fleet is frozen (${gates.freeze.reason}) by ${gates.freeze.by}; approve once the freeze ends`);
      void now;
      return;
    }
    case 'abort':
      if (isFinalStatus(status)) refuse(`it is already ${status}`);
      return;
    case 'rollback':
      if (status === 'rolling_back') refuse('it is already rolling back');
      if (status === 'rolled_back') {
        if (s.rollbackFailed.size + s.rollbackSilent.size === 0) refuse('it is rolled back: every changed host confirmed its rollback');
        return;
      }
      if (status !== 'running' && status !== 'paused' && status !== 'halted' && status !== 'completed') {
        refuse(`a ${status} rollout cannot be rolled back`);
      }
      return;
    case 'retry':
      if (status !== 'halted') refuse(`only a halted rollout can be retried (it is ${status})`);
      if (hasRollbackAttempts(s)) refuse('its rollback was halted: run `sluice rollout rollback` to go on rolling back');
      if (!s.waves.some((w) => w.state === 'failed')) refuse('no wave failed');
      return;
    default:
      return;
  }
}

// ---- events ------------------------------------------------------------------------------------

function onStart(c: Changes, hosts: readonly HostInfo[]): void {
  const s = c.s;
  for (const h of hosts) if (matchesSelector(h.labels, s.plan.hosts.match)) s.known.set(h.name, h);
  s.targetedHosts = s.known.size;
  s.failedTotalAllowed = failedTotalAllowed(s.plan, s.targetedHosts);
  s.reason = null; // a queued rollout's reason said what it waited for
  setStatus(c, 'running', `started: ${s.targetedHosts} of ${hosts.length} hosts targeted`);
  if (s.plan.emergency !== undefined) {
    const during = c.gates.freeze ? ` during a fleet freeze (${c.gates.freeze.reason}, by ${c.gates.freeze.by})` : '';
    c.log('rollout.emergency', `emergency change started${during}: ${s.plan.emergency.reason}`);
  }
}

function onHostSeen(s: RolloutState, host: HostInfo): void {
  // What the event does not say (allow, lastSeen) is kept from what was known.
  if (matchesSelector(host.labels, s.plan.hosts.match)) s.known.set(host.name, { ...s.known.get(host.name), ...host });
  else s.known.delete(host.name);
}

type ResultEvent = Extract<RolloutEvent, { type: 'applyResult' | 'checkResult' | 'rollbackResult' | 'confirmResult' }>;

function onResult(c: Changes, e: ResultEvent): void {
  const s = c.s;
  const step = s.steps.get(e.host);
  const ignore = (why: string): void =>
    c.log('report.ignored', `${e.host}: ${e.type} (attempt ${e.attempt}) ignored: ${why}`, { host: e.host });
  if (!step) return ignore('the host is not in any wave of this rollout');
  // Any report is a sign of life, even one we cannot use.
  if (!isFinalStatus(s.status)) refresh(s, s.inFlight.get(e.host), c.now);
  if (e.attempt !== step.attempt) return ignore(`the step is at attempt ${step.attempt}`);
  const detail = e.message ? `: ${e.message}` : '';
  // A rollback nobody asked for: the agent reverted the change by itself (commit-confirmed), at
  // any time, even after the rollout ended. Recorded: the host is rolled back, with its reason.
  if (e.type === 'rollbackResult' && !isRollbackAttempt(step) && step.state !== 'pending' && step.state !== 'rolled_back') {
    return onLocalRollback(c, step, e);
  }
  switch (e.type) {
    case 'confirmResult':
      if (step.state !== 'verifying' || step.confirmedAt !== null) return; // already confirmed, or moved on
      if (!e.ok) return failStep(c, step, 'failed', `not confirmed${detail}`);
      setStep(c, step, 'verifying', { confirmedAt: c.now });
      c.log('host.confirmed', `${step.host}: change confirmed (commit-confirmed window passed)`, { host: step.host, wave: waveOf(s, step).name });
      return;
    case 'applyResult':
      if (step.state !== 'applying') return ignore(`the step is ${step.state}`);
      if (e.ok) setStep(c, step, 'verifying', { checkedAt: s.plan.checks.length === 0 ? c.now : null });
      else failStep(c, step, 'failed', `apply failed${detail}`);
      return;
    case 'checkResult':
      if (step.state !== 'verifying') return ignore(`the step is ${step.state}`);
      if (!e.ok) failStep(c, step, 'failed', `check failed${detail}`);
      else if (step.checkedAt === null) setStep(c, step, 'verifying', { checkedAt: c.now });
      return;
    case 'rollbackResult': {
      const silentRollback = step.state === 'silent' && isRollbackAttempt(step);
      if (step.state !== 'rolling_back' && !silentRollback) return ignore(`the step is ${step.state}`);
      s.rollbackSilent.delete(step.host);
      if (e.ok) {
        // Keep the step's message: why it failed (if it did) still matters after it is rolled back.
        setStep(c, step, 'rolled_back');
      } else {
        s.rollbackFailed.add(step.host);
        setStep(c, step, 'failed', { message: `rollback failed${detail || ': no message'}` });
        c.log('host.rollback_failed', `${step.host}: rollback failed${detail}`, { host: step.host, wave: waveOf(s, step).name });
        if (s.status === 'rolling_back') haltRollback(c, step, detail);
      }
      return;
    }
  }
}

function onLocalRollback(c: Changes, step: StepState, e: Extract<RolloutEvent, { type: 'rollbackResult' }>): void {
  const s = c.s;
  const wave = waveOf(s, step);
  const why = e.message ?? 'rolled back by the agent';
  if (!isFinalStatus(s.status) && (step.state === 'applying' || step.state === 'verifying')) {
    // Not seen failing yet (its failed check was lost or not sent): the failure counts first.
    failStep(c, step, 'failed', why);
  }
  if (!e.ok) {
    setStep(c, step, 'failed', { message: `local rollback failed: ${why}` });
    c.log('host.rollback_failed', `${step.host}: the agent's own rollback failed: ${why}`, { host: step.host, wave: wave.name });
    return;
  }
  setStep(c, step, 'rolled_back', { message: why });
  s.revertedHosts += 1;
  if (s.status === 'completed') s.reason = `completed, ${s.revertedHosts} host${s.revertedHosts === 1 ? '' : 's'} reverted themselves`;
  c.touchRollout();
  c.log('host.reverted', `${step.host}: reverted the change by itself: ${why}`, { host: step.host, wave: wave.name });
}

/** Every in-flight step counts as heard from now (its order among the others is kept). */
function graceAll(s: RolloutState, now: Instant): void {
  for (const step of [...s.inFlight.values()]) refresh(s, step, now);
}

function onTick(c: Changes): void {
  const s = c.s;
  // Held: the server suspects itself, so a quiet host proves nothing about the host.
  if (s.heldReason !== null) return;
  const silentAfter = s.plan.budget.silentAfter;
  const expired: StepState[] = [];
  for (const step of s.inFlight.values()) {
    if (c.now - step.lastSeen < silentAfter) break;
    expired.push(step);
  }
  // Ties in lastSeen may sit in either order (a restored state sorts them by name): act by name.
  expired.sort((a, b) => compareStrings(a.host, b.host));
  for (const step of expired) {
    // Stop once the rollout ended (halted) or the step moved on (rollback reassigned it).
    if (isFinalStatus(s.status) || !s.inFlight.has(step.host) || c.now - step.lastSeen < silentAfter) continue;
    const quiet = `no report for ${formatDuration(c.now - step.lastSeen)}`;
    if (step.state === 'rolling_back') {
      s.rollbackSilent.add(step.host);
      setStep(c, step, 'silent', { message: `rollback not confirmed: ${quiet}` });
      c.log('host.rollback_silent', `${step.host}: rollback not confirmed: ${quiet}`, { host: step.host, wave: waveOf(s, step).name });
    } else {
      failStep(c, step, 'silent', `silent: ${quiet}`);
    }
  }
}

// ---- steps ---------------------------------------------------------------------------------------

function waveOf(s: RolloutState, step: StepState): WaveState {
  const wave = s.waves[step.waveIndex];
  if (!wave) throw new Error(`step ${step.host} refers to wave ${step.waveIndex}, which does not exist`);
  return wave;
}

/** A sign of life: moves the step to the end of the in-flight order. */
function refresh(s: RolloutState, step: StepState | undefined, now: Instant): void {
  if (!step) return;
  s.inFlight.delete(step.host);
  s.inFlight.set(step.host, step);
  step.lastSeen = now;
}

/** The one place a step changes: keeps the wave counters and the in-flight set right. */
function setStep(
  c: Changes,
  step: StepState,
  next: StepState['state'],
  patch: { message?: string | null; checkedAt?: Instant | null; confirmedAt?: Instant | null; newAttempt?: boolean; rollback?: boolean } = {},
): void {
  const wave = waveOf(c.s, step);
  const plan = c.s.plan;
  const wasBusy = countsAgainstParallel(step);
  const wasRollingBack = step.state === 'rolling_back';
  const wasUnconfirmed = awaitsConfirmation(plan, step);
  step.state = next;
  if (patch.message !== undefined) step.message = patch.message;
  if (patch.checkedAt !== undefined) step.checkedAt = patch.checkedAt;
  if (patch.confirmedAt !== undefined) step.confirmedAt = patch.confirmedAt;
  step.updatedAt = c.now;
  wave.busy += Number(countsAgainstParallel(step)) - Number(wasBusy);
  wave.rollingBack += Number(step.state === 'rolling_back') - Number(wasRollingBack);
  wave.unconfirmed += Number(awaitsConfirmation(plan, step)) - Number(wasUnconfirmed);
  if (patch.newAttempt) {
    step.attempt += 1;
    step.rollbackAttempt = patch.rollback ? step.attempt : step.rollbackAttempt;
    refresh(c.s, step, c.now);
  } else if (!isInFlightStatus(next)) {
    c.s.inFlight.delete(step.host);
  }
  c.steps.add(step);
}

function failStep(c: Changes, step: StepState, next: 'failed' | 'silent', message: string): void {
  const s = c.s;
  const wave = waveOf(s, step);
  setStep(c, step, next, { message });
  wave.failed += 1;
  s.failedTotal += 1;
  c.waves.add(wave);
  c.touchRollout();
  c.log(next === 'silent' ? 'host.silent' : 'host.failed', `${step.host}: ${message}`, { host: step.host, wave: wave.name });
  if (s.status !== 'running' && s.status !== 'paused') return;
  const overWave = wave.failed > wave.failedAllowed;
  const overTotal = s.failedTotal > s.failedTotalAllowed;
  if (!overWave && !overTotal) return;
  const what = overWave
    ? `${wave.failed} of ${wave.hosts.length} hosts failed in wave ${wave.name} (allowed ${wave.failedAllowed})`
    : `${s.failedTotal} hosts failed in the rollout (allowed ${s.failedTotalAllowed})`;
  const reason = `failure budget exceeded: ${what}; last: ${step.host}: ${message}`;
  c.log('budget.exceeded', reason, { host: step.host, wave: wave.name });
  failWave(c, wave, reason);
}

/** The wave failed (its budget, a gate): it ends, and the rollout rolls back or halts as the plan says. */
function failWave(c: Changes, wave: WaveState, reason: string): void {
  const s = c.s;
  wave.state = 'failed';
  wave.finishedAt = c.now;
  c.waves.add(wave);
  c.log('wave.failed', `wave ${wave.name} failed`, { wave: wave.name });
  if (s.plan.onFailure === 'rollback') {
    startRollback(c, reason);
  } else {
    s.reason = reason;
    setStatus(c, 'halted', `halted: ${reason}`);
    skipWavesNotStarted(c);
  }
}

/**
 * A metric gate failed for wave `index`: when it is the current wave and has not ended, the wave
 * fails and the rollout halts or rolls back (plan.onFailure), as with a failed budget. A verdict
 * for another wave, or a rollout that is not running or paused, changes nothing.
 */
function onGateFailed(c: Changes, index: number, gate: string, message: string): void {
  const s = c.s;
  const wave = s.waves[index];
  if (!wave || s.current !== index || (s.status !== 'running' && s.status !== 'paused')) return;
  if (wave.state !== 'pending' && wave.state !== 'awaiting_approval' && wave.state !== 'applying' && wave.state !== 'baking') return;
  const reason = message.startsWith('gate ') ? message : `gate ${gate} failed: ${message}`;
  c.log('gate.failed', reason, { wave: wave.name });
  failWave(c, wave, reason);
}

// ---- rollout and waves ---------------------------------------------------------------------------

function setStatus(c: Changes, status: RolloutStatus, message: string): void {
  c.s.status = status;
  c.touchRollout();
  c.log(`rollout.${status}`, message);
}

function by(actor: string | undefined): string {
  return actor ? ` by ${actor}` : '';
}

function skipWavesNotStarted(c: Changes): void {
  for (let i = c.s.waves.length - 1; i >= 0; i--) {
    const w = c.s.waves[i];
    if (!w) continue;
    if (w.state !== 'pending' && w.state !== 'awaiting_approval') break; // waves start in order
    w.state = 'skipped';
    w.finishedAt = c.now;
    c.waves.add(w);
    c.log('wave.skipped', `wave ${w.name} skipped`, { wave: w.name });
  }
}

/** After an event: let the rollout move as far as it can at `now`. */
function progress(c: Changes): void {
  advance(c);
  // A wave start can stop the rollout (ineligible hosts under `ineligible: fail`): roll back now.
  if (c.s.status === 'rolling_back') continueRollback(c);
}

function advance(c: Changes): void {
  const s = c.s;
  if (s.status === 'rolling_back') return;
  if (s.status === 'paused') {
    const wave = s.waves[s.current];
    if (wave) settle(c, wave);
    return;
  }
  while (s.status === 'running') {
    const wave = s.waves[s.current];
    if (!wave) {
      if (!expandNextSpec(c)) {
        setStatus(c, 'completed', 'completed: every wave baked healthy');
        return;
      }
      continue;
    }
    switch (wave.state) {
      case 'pending': {
        const wait = boundaryWait(c, wave);
        if (wait !== null) {
          c.wait = wait;
          return;
        }
        // Metric gates once the wave could start: the driver evaluates them and answers
        // gatesPassed or gateFailed.
        if (gatesPending(s, wave.index)) {
          if (s.gatesWaitLogged !== wave.index) {
            s.gatesWaitLogged = wave.index;
            c.log('wave.awaiting_gates', `wave ${wave.name} waits for its metric gates`, { wave: wave.name });
          }
          return;
        }
        if (c.gates.freeze && s.plan.emergency !== undefined) {
          c.log('freeze.bypassed', `wave ${wave.name} starts during a fleet freeze (${c.gates.freeze.reason}, by ${c.gates.freeze.by}): emergency change: ${s.plan.emergency.reason}`, { wave: wave.name });
        }
        if (wave.spec.approve) {
          wave.state = 'awaiting_approval';
          c.log('wave.awaiting_approval', `wave ${wave.name} awaits approval`, { wave: wave.name });
        } else {
          startWave(c, wave);
        }
        c.waves.add(wave);
        continue;
      }
      case 'applying':
        fill(c, wave);
        settle(c, wave);
        if (wave.state === 'applying') return;
        continue;
      case 'baking':
        if (wave.bakeStartedAt === null || c.now < wave.bakeStartedAt + wave.spec.bake) return;
        // Not healthy until confirmed: the bake ends once every changed host confirmed too.
        if (wave.unconfirmed > 0) return;
        completeWave(c, wave);
        s.current += 1;
        continue;
      case 'completed':
        s.current += 1;
        continue;
      case 'awaiting_approval':
        // A freeze that came after the wave asked for approval: visible, and approve refuses.
        if (c.gates.freeze && s.plan.emergency === undefined) c.wait = { kind: 'freeze', reason: freezeReason(c.gates.freeze), until: c.gates.freeze.until };
        return;
      default:
        return; // a wave the budget stopped
    }
  }
}

/** pending/awaiting_approval -> applying; then the hosts that cannot take part are left out (or fail). */
function startWave(c: Changes, wave: WaveState): void {
  wave.state = 'applying';
  wave.startedAt = c.now;
  c.waves.add(wave);
  c.log('wave.started', `wave ${wave.name} started: ${wave.hosts.length} hosts, ${wave.parallel} at once`, { wave: wave.name });
  const s = c.s;
  const mode = s.plan.ineligible ?? 'skip';
  for (const host of wave.hosts) {
    const step = s.steps.get(host);
    const info = s.known.get(host);
    if (!step || step.state !== 'pending' || !info) continue;
    const reason = ineligibleReason(s.plan, info, c.now);
    if (reason === undefined) continue;
    if (mode === 'fail') {
      failStep(c, step, 'failed', `ineligible: ${reason}`);
      if (s.status !== 'running' && s.status !== 'paused') return; // the budget stopped the rollout
      continue;
    }
    setStep(c, step, 'skipped', { message: `ineligible: ${reason}` });
    s.skippedHosts += 1;
    c.touchRollout();
    c.log('host.skipped', `${host}: skipped (ineligible): ${reason}`, { host, wave: wave.name });
  }
}

function fill(c: Changes, wave: WaveState): void {
  if (wave.cursor >= wave.hosts.length || wave.busy >= wave.parallel) return;
  const closed = windowWait(wave.spec.window, c.now);
  if (closed !== null) {
    c.wait = { kind: 'window', reason: closed.reason, until: closed.opensAt };
    return;
  }
  const max = c.gates.maxChangingHosts ?? null;
  const elsewhere = c.gates.changingElsewhere ?? 0;
  while (wave.busy < wave.parallel && wave.cursor < wave.hosts.length) {
    if (max !== null && elsewhere + wave.busy >= max) {
      const changing = elsewhere + wave.busy;
      c.wait = { kind: 'hosts', reason: `waiting: ${changing} host${changing === 1 ? '' : 's'} changing, at most ${max} (--max-changing-hosts)`, until: null };
      return;
    }
    const host = wave.hosts[wave.cursor++];
    const step = host === undefined ? undefined : c.s.steps.get(host);
    if (!step || step.state !== 'pending') continue;
    setStep(c, step, 'applying', { message: null, checkedAt: null, confirmedAt: null, newAttempt: true });
    c.assigns.push({ type: 'assign', host: step.host, action: 'apply', attempt: step.attempt, waveIndex: wave.index });
  }
}

/** applying -> baking once every host was assigned and none is busy. */
function settle(c: Changes, wave: WaveState): void {
  if (wave.state !== 'applying' || wave.busy > 0 || wave.cursor < wave.hosts.length) return;
  wave.state = 'baking';
  wave.bakeStartedAt = c.now;
  c.waves.add(wave);
  c.log('wave.baking', `wave ${wave.name} baking for ${formatDuration(wave.spec.bake)}`, { wave: wave.name });
}

function completeWave(c: Changes, wave: WaveState): void {
  for (const host of wave.hosts) {
    const step = c.s.steps.get(host);
    if (step && step.state === 'verifying') setStep(c, step, 'healthy', { message: null });
  }
  wave.state = 'completed';
  wave.finishedAt = c.now;
  c.waves.add(wave);
  const failed = wave.failed > 0 ? ` (${wave.failed} failed within budget)` : '';
  c.log('wave.completed', `wave ${wave.name} completed${failed}`, { wave: wave.name });
}

/** Expands specs from nextSpec until one selects hosts. False when no spec is left. */
function expandNextSpec(c: Changes): boolean {
  const s = c.s;
  while (s.nextSpec < s.plan.waves.length) {
    const specIndex = s.nextSpec;
    const spec = s.plan.waves[specIndex];
    s.nextSpec += 1;
    c.touchRollout();
    if (!spec) continue;
    const candidates: HostInfo[] = [];
    for (const h of s.known.values()) if (!s.steps.has(h.name)) candidates.push(h);
    const expanded = expandWaveSpecDetailed(spec, specIndex, candidates);
    if (expanded.length === 0) {
      c.log('wave.empty', `wave ${spec.name} selected no hosts`, { wave: spec.name });
      continue;
    }
    for (const e of expanded) {
      const wave = newWaveState(s.plan, s.waves.length, e.name, specIndex, e.hosts, e.leaf);
      s.waves.push(wave);
      c.waves.add(wave);
      for (const host of e.hosts) {
        const step: StepState = {
          host,
          waveIndex: wave.index,
          state: 'pending',
          attempt: 0,
          message: null,
          checkedAt: null,
          updatedAt: c.now,
          confirmedAt: null,
          rollbackAttempt: null,
          lastSeen: c.now,
        };
        s.steps.set(host, step);
        c.steps.add(step);
      }
      c.log('wave.expanded', `wave ${e.name}: ${e.hosts.length} hosts`, { wave: e.name });
      if (e.hosts.length > e.requested) {
        c.log(
          'wave.grown',
          `wave ${e.name} grew from ${e.requested} to ${e.hosts.length} hosts to cover ${e.strata} strata of ${(spec.spread ?? []).join(', ')}`,
          { wave: e.name },
        );
      }
    }
    return true;
  }
  return false;
}

// ---- rollback ------------------------------------------------------------------------------------

function startRollback(c: Changes, reason: string): void {
  const s = c.s;
  s.reason = reason;
  setStatus(c, 'rolling_back', `rolling back: ${reason}`);
  skipWavesNotStarted(c);
  for (const w of s.waves) w.rollbackCursor = 0;
  s.rollbackWave = s.waves.length - 1;
}

function assignRollback(c: Changes, step: StepState, wave: WaveState): void {
  c.s.rollbackFailed.delete(step.host);
  c.s.rollbackSilent.delete(step.host);
  setStep(c, step, 'rolling_back', { newAttempt: true, rollback: true });
  c.assigns.push({ type: 'assign', host: step.host, action: 'rollback', attempt: step.attempt, waveIndex: wave.index });
}

/**
 * Rolls back the most recent wave not rolled back yet, `parallel` hosts at once (the plan's checks
 * run on each rolled-back host before it reports); finishes the rollout when none is left.
 */
function continueRollback(c: Changes): void {
  const s = c.s;
  while (s.status === 'rolling_back' && s.rollbackWave >= 0) {
    const wave = s.waves[s.rollbackWave];
    if (!wave || wave.state === 'skipped' || wave.state === 'pending' || wave.state === 'awaiting_approval') {
      s.rollbackWave -= 1;
      continue;
    }
    const first = wave.state !== 'rolling_back';
    let assigned = 0;
    while (wave.rollingBack < wave.parallel && wave.rollbackCursor < wave.hosts.length) {
      const host = wave.hosts[wave.rollbackCursor++];
      const step = host === undefined ? undefined : s.steps.get(host);
      if (!step || !isRollbackTarget(step)) continue;
      assignRollback(c, step, wave);
      assigned += 1;
    }
    if (first) {
      if (assigned === 0 && wave.rollingBack === 0) {
        // Rolled back in an earlier round, or started but never changed a host (e.g. paused
        // before its first assignment).
        if (wave.state !== 'rolled_back') {
          wave.state = 'skipped';
          wave.finishedAt = c.now;
          c.waves.add(wave);
          c.log('wave.skipped', `wave ${wave.name} had no changed host to roll back`, { wave: wave.name });
        }
        s.rollbackWave -= 1;
        continue;
      }
      wave.state = 'rolling_back';
      c.waves.add(wave);
      c.log('wave.rolling_back', `wave ${wave.name}: rolling back, ${wave.parallel} host${wave.parallel === 1 ? '' : 's'} at once`, { wave: wave.name });
    }
    if (wave.rollingBack > 0 || wave.rollbackCursor < wave.hosts.length) return;
    wave.state = 'rolled_back';
    wave.finishedAt = c.now;
    c.waves.add(wave);
    c.log('wave.rolled_back', `wave ${wave.name} rolled back`, { wave: wave.name });
    s.rollbackWave -= 1;
  }
  if (s.status !== 'rolling_back') return;
  s.reason = finalRollbackReason(s);
  setStatus(c, 'rolled_back', `rolled back: ${s.reason}`);
}

/**
 * A rollback step failed while rolling back: stop handing out rollbacks (the ones in flight
 * finish and are recorded) and halt, saying how many changed hosts are left; `rollback` again
 * goes on from there, the failed host included.
 */
function haltRollback(c: Changes, step: StepState, detail: string): void {
  const s = c.s;
  const wave = waveOf(s, step);
  let left = 0;
  for (const st of s.steps.values()) if (st.state === 'rolling_back' || isRollbackTarget(st)) left += 1;
  wave.state = 'failed';
  wave.finishedAt = c.now;
  c.waves.add(wave);
  s.reason =
    `${ROLLBACK_HALTED}rollback failed on ${step.host}${detail || ': no message'}; ` +
    `${left} host${left === 1 ? '' : 's'} not rolled back yet (fix the cause, then run \`sluice rollout rollback ${s.id}\` again)`;
  setStatus(c, 'halted', s.reason);
}

/**
 * A host whose rollback went silent is heard from again: it gets the rollback again, with a new
 * attempt, so no rollback is ever abandoned.
 */
function reassignSilentRollback(c: Changes, host: string): void {
  const s = c.s;
  if (!s.rollbackSilent.has(host)) return;
  const step = s.steps.get(host);
  if (!step || step.state !== 'silent' || !isRollbackAttempt(step)) return;
  const wave = waveOf(s, step);
  assignRollback(c, step, wave);
  c.log('host.rollback_reassigned', `${host}: heard from again; its rollback is assigned again (attempt ${step.attempt})`, { host, wave: wave.name });
}

function hasRollbackAttempts(s: RolloutState): boolean {
  for (const step of s.steps.values()) if (step.rollbackAttempt !== null) return true;
  return false;
}

/**
 * halted -> running: the wave the budget stopped goes on where it was; its failed and silent hosts
 * are pending again (assigned with a new attempt) and no longer count against the budget; waves
 * the halt skipped are pending again; healthy waves stay as they are.
 */
function onRetry(c: Changes, actor: string | undefined): void {
  const s = c.s;
  const wave = s.waves.find((w) => w.state === 'failed');
  if (!wave) return; // refused before (refuseIfNotAllowed)
  let again = 0;
  for (const host of wave.hosts) {
    const step = s.steps.get(host);
    if (!step || (step.state !== 'failed' && step.state !== 'silent')) continue;
    setStep(c, step, 'pending', { message: `retry after: ${step.message ?? step.state}` });
    again += 1;
  }
  s.failedTotal -= wave.failed;
  wave.failed = 0;
  wave.cursor = 0;
  wave.finishedAt = null;
  for (const w of s.waves) {
    if (w.index <= wave.index || w.state !== 'skipped') continue;
    w.state = 'pending';
    w.finishedAt = null;
    c.waves.add(w);
  }
  s.current = wave.index;
  s.reason = null;
  // Agents dropped the work while the rollout was halted: in-flight hosts get a fresh silentAfter.
  graceAll(s, c.now);
  setStatus(c, 'running', `retried${by(actor)}: ${again} host${again === 1 ? '' : 's'} of wave ${wave.name} get a new attempt`);
  if (waveGates(s.plan, wave).length > 0) {
    // Gated: the wave waits for its gates again (advance starts it once they pass).
    wave.state = 'pending';
    c.waves.add(wave);
    s.gatesPassedWave = -1;
    s.gatesWaitLogged = -1;
    return;
  }
  startWave(c, wave);
}

/** The reason without the hosts finalRollbackReason appended (it is computed again as they change). */
function baseReason(reason: string): string {
  const cut = [ROLLBACK_FAILED_ON, ROLLBACK_SILENT_ON].map((m) => reason.indexOf(m)).filter((i) => i >= 0);
  return cut.length === 0 ? reason : reason.slice(0, Math.min(...cut));
}

const ROLLBACK_FAILED_ON = '; rollback failed on ';
const ROLLBACK_HALTED = 'rollback halted: ';
const ROLLBACK_SILENT_ON = '; rollback not confirmed (silent) on ';

function finalRollbackReason(s: RolloutState): string {
  let reason = baseReason(s.reason ?? 'rolled back');
  const failed = [...s.rollbackFailed].sort(compareStrings);
  const silent = [...s.rollbackSilent].sort(compareStrings);
  if (failed.length > 0) reason += `${ROLLBACK_FAILED_ON}${listHosts(failed)}`;
  if (silent.length > 0) reason += `${ROLLBACK_SILENT_ON}${listHosts(silent)}`;
  return reason;
}

function listHosts(hosts: readonly string[]): string {
  const shown = hosts.slice(0, REASON_HOST_LIMIT).join(', ');
  return hosts.length > REASON_HOST_LIMIT ? `${shown} and ${hosts.length - REASON_HOST_LIMIT} more` : shown;
}

// The controlled run: the agents' drift guard has neutralised the timers, so the change reaches
// hosts only through the plan, driven by the real rollout engine (src/core/rollout/transition.ts).
// Simulated agents answer the engine's assignments as the real agent does: heartbeats every 5 s,
// apply then run the checks once and report both, checks through the bake, commit-confirmed local
// rollback when they cannot reach the server or an invariant check fails.
//
// Heartbeats are not simulated one by one (a good change through every wave would cost ~530
// events per host). The engine reads a step's last sign of life only on a `tick` (silence) and in
// nextDeadline; a reachable agent heartbeats every 5 s, so it is never silent. So the driver ticks
// only when something can happen: at a bake's end, and at the silence deadline of a host that is
// cut off. Just before a tick, every in-flight step the engine would find quiet but whose host is
// reachable is refreshed (a heartbeat now: the agent's last one was at most 5 s ago). A host about
// to be cut off gets its last heartbeat delivered at its exact time (on its 5 s grid), so its
// silence is detected, and worded, exactly as with an agent that heartbeats every 5 s.
import { formatDuration } from '../core/plan/duration.ts';
import { awaitsGates, isInFlightStatus, scheduledDeadline } from '../core/rollout/rollout-state.ts';
import { createRolloutState, isFinalStatus, transition } from '../core/rollout/transition.ts';
import type { RolloutState } from '../core/rollout/transition.ts';
import type { RolloutEvent } from '../core/rollout/types.ts';
import type { CheckSpec, Plan, RolloutStatus, StepStatus, WaveStatus } from '../core/types.ts';
import { EventQueue } from './event-queue.ts';
import type { QueuedEvent } from './event-queue.ts';
import { fleetHostInfos } from './fleet.ts';
import type { Fleet } from './fleet.ts';
import { createPrng } from './prng.ts';
import { runLoop } from './run-uncontrolled.ts';
import type { Scenario } from './scenario.ts';
import { drawVersions } from './versions.ts';
import { EFFECT_BIT, SERVICE_BITS, World } from './world.ts';

export const HEARTBEAT_INTERVAL = 5_000;
/** Time the agent takes to notice an assignment (it long-polls). */
const PICKUP_MAX = 1_000;
/** Time a round of checks takes. */
const CHECK_TIME = 1_000;

const EV_START = 40;
const EV_TICK = 41;
const EV_APPROVE = 42;
const EV_APPLY_START = 43;
const EV_APPLY_DONE = 44;
const EV_FIRST_CHECK = 45;
const EV_CONFIRM_EXPIRED = 46;
const EV_LOCAL_ROLLBACK_DONE = 47;
const EV_LAST_HEARTBEAT = 48;
const EV_ROLLBACK_START = 49;
const EV_ROLLBACK_DONE = 50;
const EV_SILENCE_CHECK = 51;
const EV_APPLY_FAILED = 52;
const EV_BAKE_CHECK = 53;

const STEP_CODES: readonly StepStatus[] = ['pending', 'applying', 'verifying', 'healthy', 'failed', 'silent', 'rolling_back', 'rolled_back'];
/** Codes of the in-flight states, for the per-event checks (the core's predicate, precomputed). */
const IN_FLIGHT = new Set(STEP_CODES.flatMap((state, code) => (isInFlightStatus(state) ? [code] : [])));

/** Which breakage each check kind can see (see docs/simulator.md, "What checks detect"). */
export const CHECK_SEES: Record<CheckSpec['kind'], number> = {
  tcp: EFFECT_BIT.hostConnectivity,
  http: EFFECT_BIT.hostConnectivity | EFFECT_BIT.crashLoop | EFFECT_BIT.requestErrors,
  systemdUnitActive: EFFECT_BIT.crashLoop,
  ipRulesPreserved: EFFECT_BIT.ipRulesLost,
  routesPreserved: EFFECT_BIT.routesLost,
  command: SERVICE_BITS,
};
// hostCrashLoop is seen by no check: the agent that would run them does not run.
const INVARIANT_KINDS = new Set<CheckSpec['kind']>(['ipRulesPreserved', 'routesPreserved']);

export interface WaveSummary {
  name: string;
  state: WaveStatus;
  hosts: number;
  failed: number;
  startedAt: number | null;
  finishedAt: number | null;
}

export interface ControlledOutcome {
  readonly world: World;
  readonly events: number;
  readonly transitions: number;
  readonly haltedAt: number | null;
  readonly firstFailureAt: number | null;
  readonly rolloutState: RolloutStatus;
  readonly reason: string | null;
  readonly waves: readonly WaveSummary[];
}

export function runControlled(scenario: Scenario, fleet: Fleet, plan: Plan, seed: number): ControlledOutcome {
  const queue = new EventQueue();
  const world = new World(scenario, fleet, queue, createPrng(seed, 2), false, drawVersions(scenario, seed));
  const rng = createPrng(seed, 4);
  const n = fleet.size;
  const index = { get: fleet.indexOf };

  const stepCode = new Uint8Array(n);
  const attempt = new Int32Array(n);
  const applyEnd = new Float64Array(n).fill(-1);
  const rolledBackLocally = new Uint8Array(n);
  const awaitingRollback = new Int32Array(n);
  const awaitingApply = new Int32Array(n);
  const missedCheck = new Int32Array(n);
  const lastApplyAttempt = new Int32Array(n);
  const applyFailure = new Map<number, string>();

  const silentAfter = plan.budget.silentAfter;
  // Each agent heartbeats on its own 5 s grid.
  const phase = (h: number) => ((h * 2246822519) >>> 0) % HEARTBEAT_INTERVAL;
  const alignDown = (h: number, t: number) => Math.floor((t - phase(h)) / HEARTBEAT_INTERVAL) * HEARTBEAT_INTERVAL + phase(h);
  const pickup = () => 100 + rng.next() * (PICKUP_MAX - 100);

  let state: RolloutState = createRolloutState(`sim-${scenario.name}`, plan, scenario.plan.startAt);
  let scheduledBake: number | null = null;
  let haltedAt: number | null = null;
  let firstFailureAt: number | null = null;
  let reason: string | null = null;
  let transitions = 0;
  const waves: WaveSummary[] = [];

  const failingChecks = (h: number): CheckSpec[] => plan.checks.filter((c) => (world.broken[h]! & CHECK_SEES[c.kind]) !== 0);

  const feed = (event: RolloutEvent, t: number): void => {
    transitions++;
    const result = transition(state, event, t);
    state = result.state;
    for (const e of result.effects) {
      if (e.type === 'step') {
        const h = index.get(e.step.host);
        if (h === undefined) continue;
        const code = STEP_CODES.indexOf(e.step.state);
        stepCode[h] = code;
        // A step in flight on a host that is cut off goes silent unless the host is heard from.
        if (IN_FLIGHT.has(code) && !world.reachable(h)) watchSilence(h);
      } else if (e.type === 'assign') {
        const h = index.get(e.host);
        if (h === undefined) continue;
        attempt[h] = e.attempt;
        queue.push(t + pickup(), e.action === 'apply' ? EV_APPLY_START : EV_ROLLBACK_START, h, e.attempt);
      } else if (e.type === 'wave') {
        const w = e.wave;
        waves[w.index] = { name: w.name, state: w.state, hosts: w.hostCount, failed: w.failed, startedAt: w.startedAt, finishedAt: w.finishedAt };
        // The simulator plays the operator who approves each wave as soon as it asks.
        if (w.state === 'awaiting_approval') queue.push(t, EV_APPROVE);
      } else if (e.type === 'rollout') {
        const s = e.rollout.state;
        reason = e.rollout.reason;
        // A failed step may go on to rolling_back in the same transition: count from the rollout row.
        if (e.rollout.failedTotal > 0 && firstFailureAt === null) firstFailureAt = t;
        if (haltedAt === null && (s === 'halted' || s === 'rolling_back' || s === 'rolled_back' || s === 'aborted')) haltedAt = t;
      }
    }
    const d = scheduledDeadline(state);
    if (d !== null && (scheduledBake === null || d < scheduledBake)) {
      scheduledBake = Math.max(d, t);
      queue.push(scheduledBake, EV_TICK);
    }
    // The simulated fleet has no Prometheus: its metric gates are green (the gate is what the
    // operator's fleet would tell; the simulator measures what checks and silence catch).
    if (awaitsGates(state, state.current)) feed({ type: 'gatesPassed', wave: state.current }, t);
  };

  // Hosts that were cut off while their step was in flight (pruned as they come back or land).
  const cutOff = new Set<number>();

  /** The step of `h` is in flight and its host cut off: tick when the engine would find it silent. */
  const watchSilence = (h: number): void => {
    const step = state.inFlight.get(fleet.names[h]!);
    if (!step) return;
    cutOff.add(h);
    queue.push(step.lastSeen + silentAfter, EV_SILENCE_CHECK, h);
  };

  // A step whose host was replaced while it was in flight: the new instance's agent knows nothing of it.
  const orphaned = new Uint8Array(n);
  const heartbeating = (h: number): boolean => world.reachable(h) && orphaned[h] === 0;

  /** Before a tick: the in-flight steps the engine would find quiet whose agents are heartbeating. */
  const heardFrom = (t: number): void => {
    const quiet: string[] = [];
    for (const step of state.inFlight.values()) {
      if (t - step.lastSeen < silentAfter) break;
      if (heartbeating(index.get(step.host)!)) quiet.push(step.host);
    }
    if (quiet.length === 0) return;
    for (const h of cutOff) if (heartbeating(h) || !state.inFlight.has(fleet.names[h]!)) cutOff.delete(h);
    // Every host in flight is heartbeating: one `grace` says so for all of them at once.
    if (cutOff.size === 0 && quiet.length > 1) feed({ type: 'grace' }, t);
    else for (const host of quiet) feed({ type: 'heartbeat', host }, t);
  };

  const tick = (t: number): void => {
    if (isFinalStatus(state.status)) return;
    heardFrom(t);
    feed({ type: 'tick' }, t);
  };

  const report = (event: RolloutEvent, t: number) => feed(event, t);

  // The agent's outbox: reports made while the host is cut off are sent, in order, once it is back.
  const outbox = new Map<number, RolloutEvent[]>();
  let localRollbackOf = -1; // the host whose local rollback is sending its own reports right now
  const send = (h: number, event: RolloutEvent, t: number): void => {
    if (world.reachable(h)) return feed(event, t);
    let q = outbox.get(h);
    if (!q) outbox.set(h, (q = []));
    q.push(event);
  };
  // A breakage that starts after the change landed: the agent's commit-confirmed watch sees a lost
  // invariant within the window (local rollback); after it, the next round of checks reports it.
  world.onBreak = (h, t) => {
    if (!IN_FLIGHT.has(stepCode[h]!) || world.agentDown(h) || rolledBackLocally[h]) return;
    const failing = failingChecks(h);
    if (failing.length === 0) return;
    const windowEnd = applyEnd[h]! + plan.confirmWindow;
    if (plan.confirmWindow > 0 && t < windowEnd && failing.some((c) => INVARIANT_KINDS.has(c.kind))) {
      queue.push(t + scenario.change.rollbackTime, EV_LOCAL_ROLLBACK_DONE, h, lastApplyAttempt[h]!);
      return;
    }
    const first = applyEnd[h]! + CHECK_TIME;
    const next = first + Math.ceil((t - first) / plan.checkInterval) * plan.checkInterval + CHECK_TIME;
    queue.push(Math.max(next, t), EV_BAKE_CHECK, h, lastApplyAttempt[h]!);
  };

  // A bad version that cuts a host off mid-step: its agent's last heartbeat was at most one interval
  // before (delivered now, so silence is counted from the cut-off, not from the last tick).
  world.beforeVersionBreak = (h, t) => {
    if (IN_FLIGHT.has(stepCode[h]!) && world.wouldLoseNetwork(h) && heartbeating(h)) feed({ type: 'heartbeat', host: fleet.names[h]! }, t);
  };

  world.onLink = (h, t, up, fresh) => {
    if (!up) {
      if (IN_FLIGHT.has(stepCode[h]!)) watchSilence(h);
      return;
    }
    if (fresh && IN_FLIGHT.has(stepCode[h]!)) {
      orphaned[h] = 1;
      watchSilence(h);
    }
    if (fresh || h === localRollbackOf) {
      // A replacement is a new agent (nothing queued survives); a local rollback says it all itself.
      outbox.delete(h);
      if (fresh) awaitingRollback[h] = awaitingApply[h] = missedCheck[h] = 0;
      return;
    }
    const q = outbox.get(h);
    outbox.delete(h);
    for (const event of q ?? []) feed(event, t);
    // An agent that could not run (the host crash-looped) runs its checks once it is back.
    if (missedCheck[h]! > 0) {
      queue.push(t + CHECK_TIME, EV_FIRST_CHECK, h, missedCheck[h]!);
      missedCheck[h] = 0;
    }
    // An assignment handed out while the host was cut off is picked up now.
    if (awaitingApply[h]! > 0) {
      queue.push(t + pickup(), EV_APPLY_START, h, awaitingApply[h]!);
      awaitingApply[h] = 0;
    }
    if (awaitingRollback[h]! > 0) {
      queue.push(t + pickup(), EV_ROLLBACK_START, h, awaitingRollback[h]!);
      awaitingRollback[h] = 0;
    }
  };

  queue.push(scenario.plan.startAt, EV_START);
  const events = runLoop(world, queue, (ev: QueuedEvent) => {
    const h = ev.host;
    const t = ev.time;
    switch (ev.kind) {
      case EV_START:
        feed({ type: 'start', hosts: fleetHostInfos(fleet) }, t);
        return;
      case EV_TICK:
        if (scheduledBake !== t) return; // superseded by an earlier bake end
        scheduledBake = null;
        tick(t);
        return;
      case EV_SILENCE_CHECK:
        tick(t);
        return;
      case EV_APPROVE:
        if (state.status === 'running' || state.status === 'paused') {
          try {
            feed({ type: 'approve', actor: 'simulator' }, t);
          } catch {
            // Nothing awaits approval any more (already approved in this instant).
          }
        }
        return;
      case EV_LAST_HEARTBEAT:
        if (IN_FLIGHT.has(stepCode[h]!) && world.reachable(h)) feed({ type: 'heartbeat', host: fleet.names[h]! }, t);
        return;
      case EV_APPLY_START: {
        if (ev.arg !== attempt[h]) return;
        if (!world.reachable(h)) {
          awaitingApply[h] = ev.arg; // picked up once the host is back on the network
          return;
        }
        const took = scenario.change.applyTime * (0.5 + rng.next());
        lastApplyAttempt[h] = ev.arg;
        // The artefact is not there yet (the package has not reached this provider's mirror): the
        // apply fails and the host is not changed. So does an apply that outlasts the change's timeout.
        const missing = world.artefactMissing(h, t);
        if (missing !== null || took > plan.change.timeout) {
          const failAt = missing !== null ? t + Math.min(took, CHECK_TIME) : t + plan.change.timeout;
          applyEnd[h] = failAt;
          queue.push(failAt, EV_APPLY_FAILED, h, ev.arg);
          applyFailure.set(h, missing ?? `timed out after ${formatDuration(plan.change.timeout)} (the change's timeout)`);
          return;
        }
        const end = t + took;
        applyEnd[h] = end;
        // The last heartbeat before a change that cuts the network, at its exact time.
        if (world.wouldLoseNetwork(h)) {
          const last = alignDown(h, end + scenario.change.breaks.delay);
          if (last > t) queue.push(last, EV_LAST_HEARTBEAT, h);
        }
        queue.push(end, EV_APPLY_DONE, h, ev.arg);
        return;
      }
      case EV_APPLY_FAILED: {
        const message = applyFailure.get(h)!;
        applyFailure.delete(h);
        send(h, { type: 'applyResult', host: fleet.names[h]!, attempt: ev.arg, ok: false, message }, t);
        return;
      }
      case EV_APPLY_DONE: {
        world.applyChange(h, t);
        send(h, { type: 'applyResult', host: fleet.names[h]!, attempt: ev.arg, ok: true }, t);
        queue.push(t + CHECK_TIME, EV_FIRST_CHECK, h, ev.arg);
        return;
      }
      case EV_FIRST_CHECK: {
        // A host crash-looping runs no agent: no check, no commit-confirmed watch, no local rollback.
        if (world.agentDown(h)) {
          missedCheck[h] = ev.arg; // run once the agent is back
          return;
        }
        const failing = failingChecks(h);
        const message = failing.length === 0 ? undefined : `${failing.map((c) => c.name).join(', ')} failed`;
        if (rolledBackLocally[h] === 0) {
          send(h, { type: 'checkResult', host: fleet.names[h]!, attempt: ev.arg, ok: failing.length === 0, ...(message ? { message } : {}) }, t);
        }
        // Commit-confirmed is off with confirmWindow 0 (the agent treats 0 as off): no local
        // rollback then, whatever the checks say; the server must roll the host back.
        if (plan.confirmWindow > 0 && failing.some((c) => INVARIANT_KINDS.has(c.kind))) {
          queue.push(t + scenario.change.rollbackTime, EV_LOCAL_ROLLBACK_DONE, h, ev.arg);
        } else if (plan.confirmWindow > 0) {
          // The window ends either way: confirmed if the host still reaches the server, else reverted.
          queue.push(Math.max(t, applyEnd[h]! + plan.confirmWindow), EV_CONFIRM_EXPIRED, h, ev.arg);
        }
        return;
      }
      case EV_BAKE_CHECK: {
        if (!IN_FLIGHT.has(stepCode[h]!) || !world.changed[h] || rolledBackLocally[h] || world.agentDown(h)) return;
        const failing = failingChecks(h);
        if (failing.length > 0) send(h, { type: 'checkResult', host: fleet.names[h]!, attempt: ev.arg, ok: false, message: `${failing.map((c) => c.name).join(', ')} failed` }, t);
        return;
      }
      case EV_CONFIRM_EXPIRED:
        if (!world.changed[h] || rolledBackLocally[h] || world.agentDown(h)) return;
        if (!world.reachable(h)) queue.push(t + scenario.change.rollbackTime, EV_LOCAL_ROLLBACK_DONE, h, ev.arg);
        else report({ type: 'confirmResult', host: fleet.names[h]!, attempt: ev.arg, ok: true }, t);
        return;
      case EV_LOCAL_ROLLBACK_DONE: {
        if (rolledBackLocally[h] || !world.changed[h] || world.agentDown(h)) return;
        rolledBackLocally[h] = 1;
        const seen = failingChecks(h);
        localRollbackOf = h;
        world.removeChange(h, t);
        localRollbackOf = -1;
        outbox.delete(h);
        if (!world.reachable(h)) return; // replaced meanwhile: that agent is gone
        const name = fleet.names[h]!;
        // Reports queued while cut off go out now; the engine ignores what no longer fits the step.
        const failing = `${seen.length > 0 ? `${seen.map((c) => c.name).join(', ')} failed; ` : 'could not reach the server; '}rolled back locally (commit-confirmed)`;
        report({ type: 'applyResult', host: name, attempt: ev.arg, ok: true }, t);
        report({ type: 'checkResult', host: name, attempt: ev.arg, ok: false, message: failing }, t);
        if (awaitingRollback[h]! > 0) {
          report({ type: 'rollbackResult', host: name, attempt: awaitingRollback[h]!, ok: true }, t);
          awaitingRollback[h] = 0;
        }
        return;
      }
      case EV_ROLLBACK_START: {
        if (ev.arg !== attempt[h]) return;
        if (!world.reachable(h)) {
          awaitingRollback[h] = ev.arg; // picked up once the host is back on the network
          return;
        }
        const applying = applyEnd[h]! > t; // the agent finishes the apply it is in, then undoes it
        if (!world.changed[h] && !applying) {
          report({ type: 'rollbackResult', host: fleet.names[h]!, attempt: ev.arg, ok: true }, t);
          return;
        }
        queue.push(Math.max(t, applyEnd[h]!) + scenario.change.rollbackTime, EV_ROLLBACK_DONE, h, ev.arg);
        return;
      }
      case EV_ROLLBACK_DONE:
        world.removeChange(h, t);
        send(h, { type: 'rollbackResult', host: fleet.names[h]!, attempt: ev.arg, ok: true }, t);
        return;
    }
  });
  return { world, events, transitions, haltedAt, firstFailureAt, rolloutState: state.status, reason, waves: waves.filter(Boolean) };
}

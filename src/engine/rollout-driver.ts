// The durable driver: load a rollout's rows -> run the pure core transition -> persist the new
// rows and the effects in one transaction -> only then act (wake the agents concerned).
// A crash at any point leaves the store at the last committed transition; restart() rebuilds
// every active rollout from its rows and carries on (bake timers from their recorded start).
import { randomBytes } from 'node:crypto';
import type { HostInfo, Instant, Plan, RolloutRecord } from '../core/types.ts';
import type { FleetGates, FreezeInfo, RolloutEffect, RolloutEvent } from '../core/rollout/types.ts';
import { activeFreeze, frozenStartMessage } from '../server/freeze.ts';
import { awaitsResults, hasWorkInFlight } from '../core/rollout/rollout-state.ts';
import {
  createRolloutState,
  isFinalStatus,
  nextDeadline,
  restoreRolloutState,
  rolloutRecord,
  transition,
  type RolloutState,
} from '../core/rollout/transition.ts';
import { ConflictError, NotFoundError } from '../core/errors.ts';
import { matchesSelector } from '../core/fleet/select.ts';
import { ineligibleHosts, type IneligibleHost } from '../core/rollout/eligibility.ts';
import type { AuditIntent, HostRow, LogInput, RolloutStarter, Store } from '../store/store.ts';

/** What the engine needs of a host row: labels, what its agent allows, when it was last heard. */
export function hostInfoOf(h: HostRow): HostInfo {
  const allow = h.facts['allow'];
  return {
    name: h.name,
    labels: h.labels,
    ...(Array.isArray(allow) ? { allow: allow.filter((k): k is string => typeof k === 'string') } : {}),
    lastSeen: h.lastSeen,
  };
}

/** Who a plan would touch now, before anything runs. */
export interface RolloutPreview {
  readonly targeted: number;
  readonly ineligible: { readonly count: number; readonly mode: 'skip' | 'fail'; readonly hosts: readonly IneligibleHost[] };
}

export interface DriverLog {
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

export interface DriverOptions {
  readonly store: Store;
  readonly log: DriverLog;
  readonly now?: () => Instant;
  /** How often active rollouts get a `tick` (bake ends, silence). */
  readonly tickMs?: number;
  /** Called after a committed transition with the hosts whose assignments may have changed (null = all). */
  readonly onAssignmentsChanged?: (hosts: readonly string[] | null) => void;
  readonly onTransition?: (seconds: number) => void;
  /** How often agents heartbeat: a host quiet for a few of these is quiet (default 5 s). */
  readonly heartbeatMs?: number;
  /**
   * Runs before every tick (replicas: the leader learns from the hosts table who was heard by the
   * other replicas, before it judges silence). A failure is logged and the tick runs anyway.
   */
  readonly beforeTick?: () => Promise<void>;
  /** --max-changing-hosts: at most this many hosts changing at once across all rollouts (null/undefined: no cap). */
  readonly maxChangingHosts?: number | null;
  /** --max-running-rollouts: at most this many rollouts running at once (null/undefined: no cap). */
  readonly maxRunningRollouts?: number | null;
}

/** Share of recently heard hosts that, quiet at once, make the server suspect itself. */
const SELF_SUSPICION_SHARE = 0.5;

export interface DispatchOptions {
  /** Agent report id: the event is processed at most once across retries and restarts. */
  readonly reportId?: string;
  /** The host that sent the report (report ids are scoped to their host). */
  readonly reportHost?: string;
  /** What to write in the event log for the input event (null: nothing, e.g. ticks). */
  readonly logAs?: LogInput | null;
  /** The operator request behind this event: its audit entry goes in the transition's transaction. */
  readonly audit?: AuditIntent;
}

export function newRolloutId(now: Instant): string {
  return `r_${now.toString(36)}${randomBytes(4).toString('hex')}`;
}

export class RolloutDriver {
  private readonly store: Store;
  private readonly log: DriverLog;
  private readonly now: () => Instant;
  private readonly tickMs: number;
  private readonly onAssignmentsChanged: (hosts: readonly string[] | null) => void;
  private readonly onTransition: (seconds: number) => void;
  /** Engine state of every active rollout, kept in memory between transitions. */
  private readonly active = new Map<string, { plan: Plan; state: RolloutState }>();
  /** Per-rollout queue: transitions of one rollout never interleave. */
  private readonly queues = new Map<string, Promise<unknown>>();
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly heartbeatMs: number;
  /** Last time each host was heard from (heartbeats, reports), as this server process saw it. */
  private readonly heard = new Map<string, Instant>();
  private lastTickAt: Instant | null = null;
  /** Hosts whose rollback went silent in a finished rollout: rolloutIds by host (re-assigned when heard from). */
  private readonly silentRollbacks = new Map<string, Set<string>>();
  /** Host-lock decisions (start, queue, retry, rollback of a finished rollout) run one at a time. */
  private lockChain: Promise<unknown> = Promise.resolve();
  private readonly beforeTick: (() => Promise<void>) | undefined;
  private readonly maxChangingHosts: number | null;
  private readonly maxRunningRollouts: number | null;
  /** The fleet freeze as last read from the store (every tick, and when this replica changes it). */
  private freeze: FreezeInfo | null = null;

  constructor(opts: DriverOptions) {
    this.store = opts.store;
    this.log = opts.log;
    this.now = opts.now ?? Date.now;
    this.tickMs = opts.tickMs ?? 1000;
    this.onAssignmentsChanged = opts.onAssignmentsChanged ?? (() => {});
    this.onTransition = opts.onTransition ?? (() => {});
    this.heartbeatMs = opts.heartbeatMs ?? 5000;
    this.beforeTick = opts.beforeTick;
    this.maxChangingHosts = opts.maxChangingHosts ?? null;
    this.maxRunningRollouts = opts.maxRunningRollouts ?? null;
  }

  /** Reads the fleet freeze from the store (another replica may have started or ended it). */
  async refreshFreeze(): Promise<FreezeInfo | null> {
    this.freeze = await activeFreeze(this.store, this.now());
    return this.freeze;
  }

  /**
   * What the fleet says around one rollout for its next transition: the freeze, and with
   * fleet-wide limits how many hosts change and how many rollouts run in the others. Computed from
   * memory right before the (synchronous) transition, so rollouts transitioned one after the other
   * see each other's assignments.
   */
  private gatesFor(rolloutId: string, now: Instant): FleetGates {
    const freeze = this.freeze !== null && (this.freeze.until === null || this.freeze.until > now) ? this.freeze : null;
    let changingElsewhere = 0;
    let runningElsewhere = 0;
    if (this.maxChangingHosts !== null || this.maxRunningRollouts !== null) {
      for (const [id, entry] of this.active) {
        if (id === rolloutId) continue;
        const st = entry.state;
        if (st.status !== 'running' && st.status !== 'paused' && st.status !== 'rolling_back') continue;
        let started = false;
        for (const w of st.waves) {
          changingElsewhere += w.busy;
          if (w.startedAt !== null) started = true;
        }
        if (started) runningElsewhere += 1;
      }
    }
    return { freeze, maxChangingHosts: this.maxChangingHosts, maxRunningRollouts: this.maxRunningRollouts, changingElsewhere, runningElsewhere };
  }

  /** Loads every active rollout from the store and starts the tick loop. */
  async start(): Promise<void> {
    // Silence means the host, not the server: nobody could be heard while this server was not
    // running, so every host gets a fresh silentAfter from now.
    const startedAt = this.now();
    await this.refreshFreeze();
    for (const h of await this.store.listHosts({ withFacts: false })) this.heard.set(h.name, startedAt);
    const ids = await this.store.activeRolloutIds();
    for (const id of ids) {
      const loaded = await this.load(id, startedAt);
      if (loaded) {
        this.active.set(id, loaded);
        this.log.info({ rolloutId: id, state: rolloutRecord(loaded.state).state }, 'resumed rollout');
      }
    }
    for (const { rolloutId, host } of await this.store.silentRollbacks()) this.noteSilentRollback(host, rolloutId, true);
    this.scheduleTick();
    // A rollout that ended while this server was down may have left a queued one free to start.
    void this.startQueued();
    // Pending work may have been interrupted mid-flight: make sure waiting agents look again.
    this.onAssignmentsChanged(null);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await Promise.allSettled([...this.queues.values()]);
  }

  private async load(id: string, graceFrom = 0): Promise<{ plan: Plan; state: RolloutState } | null> {
    const stored = await this.store.loadRollout(id);
    if (!stored) return null;
    const hosts = await this.store.listHosts({ withFacts: false });
    const lastSeen = new Map<string, Instant>();
    for (const h of hosts) lastSeen.set(h.name, Math.max(h.lastSeen, graceFrom));
    if (graceFrom > 0) for (const s of stored.steps) if (!lastSeen.has(s.host)) lastSeen.set(s.host, graceFrom);
    const state = restoreRolloutState(stored.plan, {
      rollout: stored.rollout,
      waves: stored.waves,
      steps: stored.steps,
      hosts: hosts.map((h) => ({ ...hostInfoOf(h), lastSeen: lastSeen.get(h.name) ?? h.lastSeen })),
      lastSeen,
    });
    return { plan: stored.plan, state };
  }

  /**
   * Creates a rollout from a validated plan and starts it over the current inventory. One rollout
   * per host: when targeted hosts are in an active rollout, a ConflictError names it and the shared
   * host count, unless the plan says `queue: true` (then it waits, `queued`, and starts when no
   * earlier rollout holds its hosts).
   */
  createRollout(
    plan: Plan,
    planSource: string,
    actor: string,
    opts: { startedBy?: RolloutStarter; audit?: AuditIntent } = {},
  ): Promise<RolloutRecord & { queuedBehind?: string[] }> {
    return this.exclusive(async () => {
      const now = this.now();
      // The store, not the cache: a freeze started on another replica a moment ago refuses this start.
      const freeze = await this.refreshFreeze();
      if (freeze !== null && plan.emergency === undefined) throw new ConflictError(frozenStartMessage(freeze));
      const hosts = await this.store.listHosts({ withFacts: false });
      const infos: HostInfo[] = hosts.map(hostInfoOf);
      const holder = this.lockHolder(targetsOf(plan, infos), infos);
      if (holder && !plan.queue) throw new ConflictError(holderText(holder, 'cannot start: ', '; wait for it to end, or set `queue: true` in the plan to start when it does'));
      const id = newRolloutId(now);
      const state = createRolloutState(id, plan, now);
      if (holder) {
        state.status = 'queued';
        state.reason = holderText(holder, 'queued: ', '; it starts when that rollout ends');
      }
      await this.store.createRollout(
        rolloutRecord(state),
        plan,
        planSource,
        { kind: 'created', message: `rollout ${plan.name} created by ${actor}`, data: { actor } },
        undefined,
        { ...(opts.startedBy ? { startedBy: opts.startedBy } : {}), ...(opts.audit ? { audit: opts.audit.entry(id) } : {}) },
      );
      if (opts.audit) opts.audit.written = true;
      // Active from now on, so the start below runs on this state; heartbeats and enrollments skip a
      // rollout until it has started (the start takes the inventory as it is then).
      this.active.set(id, { plan, state });
      if (holder) {
        await this.store.persistTransition({ rolloutId: id, at: now, event: null, effects: [{ type: 'log', kind: 'rollout.queued', message: state.reason ?? 'queued' }] });
        this.log.info({ rolloutId: id, behind: holder.id }, 'rollout queued');
        return { ...rolloutRecord(state), queuedBehind: [holder.id] };
      }
      return this.dispatch(id, { type: 'start', hosts: infos }, { logAs: null });
    });
  }

  /** Runs host-lock decisions one at a time, so two starts cannot both find the hosts free. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.lockChain.catch(() => {}).then(fn);
    this.lockChain = next.catch(() => {});
    return next;
  }

  /**
   * The first active rollout (oldest first) holding any of `targets`, and how many it shares.
   * A started rollout holds the hosts it targets; a queued one the hosts its plan matches now.
   */
  private lockHolder(targets: ReadonlySet<string>, inventory: readonly HostInfo[], except?: string): LockHolder | null {
    for (const [id, entry] of this.active) {
      if (id === except || isFinalStatus(entry.state.status)) continue;
      let shared = 0;
      if (entry.state.status === 'queued' || entry.state.status === 'pending') {
        for (const h of inventory) if (targets.has(h.name) && matchesSelector(h.labels, entry.plan.hosts.match)) shared += 1;
      } else {
        for (const h of targets) if (entry.state.known.has(h)) shared += 1;
      }
      if (shared > 0) return { id, name: entry.plan.name, state: entry.state.status, shared, targeted: targets.size };
    }
    return null;
  }

  /** Starts queued rollouts, oldest first, whose hosts no earlier active rollout holds now. */
  private startQueued(): Promise<void> {
    return this.exclusive(async () => {
      if (this.stopped) return;
      const queued = [...this.active].filter(([, e]) => e.state.status === 'queued').map(([id]) => id);
      if (queued.length === 0) return;
      const infos = (await this.store.listHosts({ withFacts: false })).map(hostInfoOf);
      for (const id of queued) {
        const entry = this.active.get(id);
        if (!entry || entry.state.status !== 'queued') continue;
        const targets = targetsOf(entry.plan, infos);
        // Only rollouts created before this one count: FIFO among queued rollouts.
        const holder = this.lockHolder(targets, infos, id);
        if (holder && this.isOlder(holder.id, id)) continue;
        try {
          await this.dispatch(id, { type: 'start', hosts: infos }, { logAs: { kind: 'rollout.dequeued', message: 'no other rollout holds its hosts any more: starting' } });
        } catch (err) {
          this.log.error({ rolloutId: id, err: String(err) }, 'starting a queued rollout failed');
        }
      }
    });
  }

  /** Whether rollout `a` was created before `b` (the active map holds them in creation order). */
  private isOlder(a: string, b: string): boolean {
    for (const id of this.active.keys()) {
      if (id === a) return true;
      if (id === b) return false;
    }
    return false;
  }

  /** How many hosts the plan targets now and which of them are ineligible (offline, or cannot run it), and why. */
  async preview(plan: Plan): Promise<RolloutPreview> {
    const hosts = (await this.store.listHosts({ withFacts: false })).map(hostInfoOf).filter((h) => matchesSelector(h.labels, plan.hosts.match));
    const bad = ineligibleHosts(plan, hosts, this.now());
    return { targeted: hosts.length, ineligible: { count: bad.length, mode: plan.ineligible ?? 'skip', hosts: bad } };
  }

  /**
   * Runs one event through the engine for a rollout and persists the result before acting on it.
   * Throws NotFoundError for an unknown rollout and ConflictError for a command its state refuses.
   */
  dispatch(rolloutId: string, event: RolloutEvent, opts: DispatchOptions = {}): Promise<RolloutRecord> {
    const previous = this.queues.get(rolloutId) ?? Promise.resolve();
    const next = previous.catch(() => {}).then(() => this.dispatchNow(rolloutId, event, opts));
    const tail = next.catch(() => {});
    this.queues.set(rolloutId, tail);
    void tail.then(() => {
      if (this.queues.get(rolloutId) === tail) this.queues.delete(rolloutId);
    });
    return next;
  }

  private async dispatchNow(rolloutId: string, event: RolloutEvent, opts: DispatchOptions): Promise<RolloutRecord> {
    const started = performance.now();
    if (opts.reportId && 'host' in event && typeof event.host === 'string') this.heard.set(event.host, this.now());
    let entry = this.active.get(rolloutId);
    const wasActive = entry !== undefined;
    if (!entry && (event.type === 'applyResult' || event.type === 'checkResult' || event.type === 'confirmResult')) {
      // A finished rollout takes no apply or check result (record it without loading the rollout),
      // except a halted one: hosts in flight at the halt still say what they did.
      const late = await this.recordLateReport(rolloutId, event, opts);
      if (late) return late;
    }
    if (!entry) {
      // A final rollout can still take late rollback results and operator rollbacks; load it.
      const loaded = await this.load(rolloutId);
      if (!loaded) throw new NotFoundError(`no rollout ${rolloutId}`);
      entry = loaded;
    }
    if (opts.reportId && (await this.store.hasReport(reportHostOf(event, opts), opts.reportId))) {
      return rolloutRecord(entry.state);
    }
    const now = this.now();
    const statusBefore = rolloutRecord(entry.state).state;
    // The engine checks before it mutates, so a ConflictError leaves the state as it was.
    const { state, effects } = transition(entry.state, event, now, this.gatesFor(rolloutId, now));
    entry.state = state;
    const logAs = opts.logAs === undefined ? describeEvent(event) : opts.logAs;
    // Nothing changed and nothing to log (a heartbeat, a passing periodic check): no write. A
    // report that changes nothing needs no dedup record either: repeating it changes nothing too.
    if (effects.length === 0 && logAs === null) return rolloutRecord(state);
    try {
      const written = await this.store.persistTransition({
        rolloutId,
        at: now,
        event: logAs,
        effects,
        ...(opts.reportId ? { reportId: opts.reportId, reportHost: reportHostOf(event, opts) } : {}),
        ...(opts.audit ? { audit: opts.audit.entry(rolloutId) } : {}),
      });
      if (written && opts.audit) opts.audit.written = true;
      if (!written) {
        // The report was processed before (a retry raced it): memory ran ahead; the rows win.
        const reloaded = await this.reload(rolloutId);
        if (!reloaded) throw new NotFoundError(`no rollout ${rolloutId}`);
        return reloaded;
      }
    } catch (err) {
      // Memory ran ahead of the store: throw the in-memory state away and rebuild it from rows.
      this.log.error({ rolloutId, err: String(err) }, 'persisting a transition failed; reloading the rollout');
      await this.reload(rolloutId);
      throw err;
    }
    this.onTransition((performance.now() - started) / 1000);
    const record = rolloutRecord(state);
    const final = isFinalStatus(record.state);
    // A halted rollout stays in memory while results of hosts in flight at the halt may come.
    if (final && !(record.state === 'halted' && awaitsResults(state))) this.active.delete(rolloutId);
    else if (!wasActive) this.active.set(rolloutId, entry);
    this.trackSilentRollbacks(rolloutId, state, effects, final);
    this.announce(effects, record.state !== statusBefore);
    // A rollout ended (or a queued one was aborted): a queued rollout may be free to start now.
    if (record.state !== statusBefore && (final || statusBefore === 'queued')) void this.startQueued();
    return record;
  }

  /**
   * An apply or check result for a finished rollout that is not in memory: logged (once), changes
   * nothing. Null for a halted rollout: the engine records it (see transition.ts, 9).
   */
  private async recordLateReport(
    rolloutId: string,
    event: Extract<RolloutEvent, { type: 'applyResult' | 'checkResult' | 'confirmResult' }>,
    opts: DispatchOptions,
  ): Promise<RolloutRecord | null> {
    const record = await this.store.getRollout(rolloutId);
    if (!record) throw new NotFoundError(`no rollout ${rolloutId}`);
    if (record.state === 'halted') return null;
    if (opts.reportId && (await this.store.hasReport(reportHostOf(event, opts), opts.reportId))) return record;
    const logAs = opts.logAs === undefined ? describeEvent(event) : opts.logAs;
    await this.store.persistTransition({
      rolloutId,
      at: this.now(),
      event: logAs,
      effects: [
        { type: 'log', kind: 'report.ignored', message: `${event.host}: ${event.type} (attempt ${event.attempt}) ignored: the rollout is ${record.state}`, host: event.host },
      ],
      ...(opts.reportId ? { reportId: opts.reportId, reportHost: reportHostOf(event, opts) } : {}),
    });
    return record;
  }

  private async reload(rolloutId: string): Promise<RolloutRecord | null> {
    this.active.delete(rolloutId);
    const loaded = await this.load(rolloutId);
    if (!loaded) return null;
    const record = rolloutRecord(loaded.state);
    if (!isFinalStatus(record.state)) this.active.set(rolloutId, loaded);
    return record;
  }

  /**
   * Wakes the agents whose assignments may have changed: the hosts of changed steps (a new
   * pending step changes nothing for its host), or everyone when the rollout's state changed
   * (a pause or a halt withdraws work from many hosts at once).
   */
  private announce(effects: readonly RolloutEffect[], statusChanged: boolean): void {
    if (statusChanged) {
      this.onAssignmentsChanged(null);
      return;
    }
    const hosts = new Set<string>();
    for (const e of effects) {
      if (e.type === 'step' && e.step.state !== 'pending') hosts.add(e.step.host);
      else if (e.type === 'assign') hosts.add(e.host);
    }
    if (hosts.size > 0) this.onAssignmentsChanged([...hosts]);
  }

  /** A host was heard from: rollouts waiting on it learn it is alive. No write unless something changes. */
  async heartbeat(host: string): Promise<void> {
    this.heard.set(host, this.now());
    // Only rollouts waiting on this host: a heartbeat must not queue behind unrelated work.
    // Called for every heartbeat of the fleet: no allocation and no await when nothing waits on the host.
    const now = this.now();
    let waiting: string[] | null = null;
    for (const [id, entry] of this.active) {
      if (hasWorkInFlight(entry.state, host) || needsLiveness(entry.state, host, now) || entry.state.rollbackSilent.has(host)) (waiting ??= []).push(id);
    }
    // A finished rollout whose rollback on this host went silent: it hands the rollback out again,
    // unless the host is in another rollout by now (the host lock: one rollout at a time).
    const silent = this.silentRollbacks.get(host);
    if (silent) {
      for (const id of silent) {
        const other = [...this.active].find(([otherId, e]) => otherId !== id && e.state.status !== 'queued' && e.state.known.has(host));
        if (!other) (waiting ??= []).push(id);
      }
    }
    if (waiting === null) return;
    await Promise.all(
      waiting.map((id) =>
        this.dispatch(id, { type: 'heartbeat', host }, { logAs: null }).catch((err: unknown) =>
          this.log.warn({ rolloutId: id, err: String(err) }, 'heartbeat dispatch failed'),
        ),
      ),
    );
  }

  /** Whether any active rollout waits on this host now (the heartbeat answer asks in-flight hosts to beat faster). */
  hasWorkInFlight(host: string): boolean {
    for (const entry of this.active.values()) if (hasWorkInFlight(entry.state, host)) return true;
    return false;
  }

  /** A host enrolled or changed labels: active rollouts may take it into waves not started yet. */
  async hostSeen(host: HostInfo): Promise<void> {
    this.heard.set(host.name, this.now());
    const started = [...this.active].filter(([, entry]) => entry.state.status !== 'pending' && entry.state.status !== 'queued').map(([id]) => id);
    await Promise.all(
      started.map((id) =>
        this.dispatch(id, { type: 'hostSeen', host }, { logAs: null }).catch((err: unknown) =>
          this.log.warn({ rolloutId: id, err: String(err) }, 'hostSeen dispatch failed'),
        ),
      ),
    );
  }

  /**
   * Whether `host` may write to this rollout: only hosts with a step in it. Answered from memory
   * for an active rollout, from the store otherwise. NotFoundError when there is no such rollout.
   */
  async hostInRollout(rolloutId: string, host: string): Promise<boolean> {
    const entry = this.active.get(rolloutId);
    if (entry) return entry.state.steps.has(host);
    if (!(await this.store.getRollout(rolloutId))) throw new NotFoundError(`no rollout ${rolloutId}`);
    return this.store.hostInRollout(rolloutId, host);
  }

  /**
   * Ticks every active rollout whose next deadline has come. Silence means the host, not the
   * server: after a gap in ticks (the server stalled) every in-flight host gets a fresh
   * silentAfter; when a silence is due while hosts outside the rollout went quiet too, the server
   * suspects itself and holds the rollout instead, and releases it once hosts are heard again.
   */
  async tickAll(): Promise<void> {
    const now = this.now();
    const gapMs = this.lastTickAt === null ? 0 : now - this.lastTickAt;
    const gap = gapMs > Math.max(5 * this.tickMs, 5000);
    this.lastTickAt = now;
    try {
      await this.refreshFreeze();
    } catch (err) {
      this.log.warn({ err: String(err) }, 'reading the fleet freeze failed; keeping the last one read');
    }
    const work: Promise<unknown>[] = [];
    const run = (id: string, event: RolloutEvent, what: string) =>
      work.push(this.dispatch(id, event, { logAs: null }).catch((err: unknown) => this.log.error({ rolloutId: id, err: String(err) }, `${what} failed`)));
    if (gap) {
      this.log.warn({ gapMs }, 'the engine did not tick for a while; in-flight hosts get a fresh silentAfter');
      for (const h of this.heard.keys()) this.heard.set(h, Math.max(this.heard.get(h) ?? 0, now));
      for (const id of this.active.keys()) run(id, { type: 'grace' }, 'grace');
      await Promise.all(work);
      return;
    }
    for (const [id, entry] of this.active) {
      const state = entry.state;
      if (state.heldReason !== null) {
        if (this.suspicion(state, now) === null) run(id, { type: 'release' }, 'release');
        continue;
      }
      const deadline = nextDeadline(state);
      // A rollout waiting on the fleet (a freeze, fleet-wide limits) is looked at every tick: what it waits for changes elsewhere.
      const waitingOnFleet = state.status === 'running' && state.waiting !== null;
      if (!waitingOnFleet && (deadline === null || deadline > now)) continue;
      if (this.silenceDue(state, now)) {
        const why = this.suspicion(state, now);
        if (why !== null && (state.status === 'running' || state.status === 'rolling_back')) {
          run(id, { type: 'hold', reason: why }, 'hold');
          continue;
        }
      }
      run(id, { type: 'tick' }, 'tick');
    }
    await Promise.all(work);
  }

  /** Whether a tick now would find an in-flight host silent. */
  private silenceDue(state: RolloutState, now: Instant): boolean {
    const oldest = state.inFlight.values().next();
    return !oldest.done && now - oldest.value.lastSeen >= state.plan.budget.silentAfter;
  }

  /**
   * Why the server should suspect itself rather than the rollout's hosts, or null: of the hosts
   * heard from recently, at least half are quiet now, some of them outside this rollout.
   */
  private suspicion(state: RolloutState, now: Instant): string | null {
    const silentAfter = state.plan.budget.silentAfter;
    // Quiet: missed a few heartbeats, and clearly less than silentAfter, so hosts that went quiet
    // at the same moment as the rollout's count as quiet when its silence is due.
    const quietAfter = Math.min(0.75 * silentAfter, Math.max(silentAfter / 2, 3 * this.heartbeatMs));
    const recent = Math.max(10 * silentAfter, 10 * 60_000);
    let known = 0;
    let quiet = 0;
    let quietOutside = 0;
    for (const [host, at] of this.heard) {
      if (now - at > recent) continue; // long gone: says nothing about now
      known += 1;
      if (now - at < quietAfter) continue;
      quiet += 1;
      if (!state.inFlight.has(host)) quietOutside += 1;
    }
    if (known < 2 || quietOutside === 0 || quiet < known * SELF_SUSPICION_SHARE) return null;
    return `${quiet} of ${known} recently heard hosts went quiet at once (${quietOutside} outside this rollout): the server suspects its own connectivity, not the hosts`;
  }

  /**
   * Hosts the driver waits to hear from: work in flight in an active rollout (whose silence a tick
   * judges), and hosts whose rollback went silent (handed it again once heard from).
   */
  inFlightHosts(): string[] {
    const hosts = new Set<string>();
    for (const entry of this.active.values()) {
      for (const host of entry.state.inFlight.keys()) hosts.add(host);
      for (const host of entry.state.rollbackSilent) hosts.add(host);
    }
    for (const host of this.silentRollbacks.keys()) hosts.add(host);
    return [...hosts];
  }

  private scheduleTick(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      const before = this.beforeTick ? this.beforeTick().catch((err: unknown) => this.log.warn({ err: String(err) }, 'before-tick hook failed')) : Promise.resolve();
      void before.then(() => (this.stopped ? undefined : this.tickAll())).finally(() => this.scheduleTick());
    }, this.tickMs);
    this.timer.unref?.();
  }

  /**
   * Operator command by name, as the API exposes it. A retry, or a rollback of a finished rollout,
   * changes hosts again: refused (ConflictError) while another active rollout holds any of them.
   */
  async command(rolloutId: string, name: OperatorCommand, actor: string, audit?: AuditIntent): Promise<RolloutRecord> {
    const event: RolloutEvent = { type: name, actor };
    const opts: DispatchOptions = {
      logAs: { kind: `operator.${name}`, message: `${name} requested by ${actor}`, data: { actor } },
      ...(audit ? { audit } : {}),
    };
    if (name !== 'retry' && name !== 'rollback') return this.dispatch(rolloutId, event, opts);
    return this.exclusive(async () => {
      const entry = this.active.get(rolloutId);
      if (!entry || isFinalStatus(entry.state.status)) {
        // A finished rollout (in memory while halted hosts report, else from the store): the hosts it changed.
        const steps = entry ? [...entry.state.steps.values()] : (await this.store.loadRollout(rolloutId))?.steps;
        if (!steps) throw new NotFoundError(`no rollout ${rolloutId}`);
        const changed = new Set(steps.filter((st) => st.attempt > 0).map((st) => st.host));
        const holder = this.lockHolder(changed, (await this.store.listHosts({ withFacts: false })).map(hostInfoOf), rolloutId);
        if (holder) throw new ConflictError(holderText(holder, `cannot ${name} rollout ${rolloutId}: `, '; wait for it to end'));
      }
      return this.dispatch(rolloutId, event, opts);
    });
  }

  /** Keeps the map of finished rollouts' silent rollbacks in step with a committed transition. */
  private trackSilentRollbacks(rolloutId: string, state: RolloutState, effects: readonly RolloutEffect[], final: boolean): void {
    for (const e of effects) if (e.type === 'step') this.noteSilentRollback(e.step.host, rolloutId, false);
    if (final) for (const host of state.rollbackSilent) this.noteSilentRollback(host, rolloutId, true);
  }

  private noteSilentRollback(host: string, rolloutId: string, silent: boolean): void {
    let ids = this.silentRollbacks.get(host);
    if (silent) {
      if (!ids) this.silentRollbacks.set(host, (ids = new Set()));
      ids.add(rolloutId);
      return;
    }
    if (!ids) return;
    ids.delete(rolloutId);
    if (ids.size === 0) this.silentRollbacks.delete(host);
  }
}

export type OperatorCommand = 'pause' | 'resume' | 'abort' | 'approve' | 'rollback' | 'retry';

interface LockHolder {
  readonly id: string;
  readonly name: string;
  readonly state: string;
  readonly shared: number;
  readonly targeted: number;
}

function holderText(h: LockHolder, before: string, after: string): string {
  return `${before}${h.shared} of ${h.targeted} targeted host${h.targeted === 1 ? '' : 's'} ${h.shared === 1 ? 'is' : 'are'} in rollout ${h.id} (${h.name}, ${h.state})${after}`;
}

/** The hosts a plan targets in an inventory. */
function targetsOf(plan: Plan, inventory: readonly HostInfo[]): Set<string> {
  const out = new Set<string>();
  for (const h of inventory) if (matchesSelector(h.labels, plan.hosts.match)) out.add(h.name);
  return out;
}

/**
 * A targeted host whose wave has not started yet: the engine keeps its last sign of life to judge
 * eligibility when the wave starts (refreshed at most every quarter of silentAfter).
 */
function needsLiveness(state: RolloutState, host: string, now: Instant): boolean {
  const known = state.known.get(host);
  if (!known || isFinalStatus(state.status)) return false;
  const step = state.steps.get(host);
  if (step && step.state !== 'pending') return false;
  return known.lastSeen === undefined || now - known.lastSeen >= state.plan.budget.silentAfter / 4;
}

function reportHostOf(event: RolloutEvent, opts: DispatchOptions): string {
  return opts.reportHost ?? ('host' in event && typeof event.host === 'string' ? event.host : '');
}

function describeEvent(event: RolloutEvent): LogInput | null {
  switch (event.type) {
    case 'confirmResult':
      return { kind: 'report.confirm', message: `${event.host}: change confirmed by the agent${event.message ? `: ${event.message}` : ''}`, host: event.host, data: { attempt: event.attempt, ok: event.ok } };
    case 'applyResult':
    case 'checkResult':
    case 'rollbackResult': {
      const what = event.type.replace('Result', '');
      // Passing periodic checks are not logged: they would drown the log in a long bake.
      if (event.type === 'checkResult' && event.ok) return null;
      return {
        kind: `report.${what}`,
        message: `${event.host}: ${what} ${event.ok ? 'succeeded' : 'failed'}${event.message ? `: ${event.message}` : ''}`,
        host: event.host,
        data: { attempt: event.attempt, ok: event.ok },
      };
    }
    default:
      return null;
  }
}


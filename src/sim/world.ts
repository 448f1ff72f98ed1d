// The simulated hosts and everything that happens to them whoever changed them: breakage,
// provider auto-healing, operators' repairs and kill switch, crash-looping tasks restarting against
// their region's database, and the counters the timeline is sampled from. Both runs (uncontrolled
// and controlled) drive one World each; only how the change reaches hosts differs.
import { matchesSelector } from '../core/fleet/select.ts';
import { decideRemediation, isDataBearing, scopeLimit } from '../core/remediation/guard.ts';
import type { RemediationPolicy, ScopeCount } from '../core/remediation/guard.ts';
import type { Labels } from '../core/types.ts';
import { nextOccurrence } from './calendar.ts';
import type { EventQueue } from './event-queue.ts';
import type { Fleet } from './fleet.ts';
import type { Prng } from './prng.ts';
import { repairOffset } from './repair-curve.ts';
import type { Effect, Scenario } from './scenario.ts';
import { arrivalDelay, currentVersion, flips, generatedAt, isBadVersion, restartAt } from './versions.ts';
import type { VersionSchedule } from './versions.ts';

export const MINUTE = 60_000;
/** Longest wait of an auto-healer the guard denied before it asks again. */
const GUARD_RETRY_CAP = 3_600_000;

// World event kinds (drivers use kinds >= 32).
export const EV_TERMINATE = 1;
export const EV_REPLACEMENT_READY = 2;
export const EV_REPAIR = 3;
export const EV_REVERT_ALL = 4;
export const EV_REVERT = 5;
export const EV_DB_SLOT = 6;
export const EV_STOP_SPREAD = 7;
export const EV_BREAK = 8;
export const EV_RETRIGGER = 9;
export const EV_VERSION = 10;
export const EV_VERSION_ARRIVES = 11;

export const EFFECT_BIT: Record<Effect, number> = {
  hostConnectivity: 1,
  podEgress: 2,
  crashLoop: 4,
  ipRulesLost: 8,
  routesLost: 16,
  hostCrashLoop: 32,
  requestErrors: 64,
};
/** Effects that cut the host off: no heartbeat, no report, and its provider's status checks fail. */
export const OFFLINE_BITS = EFFECT_BIT.hostConnectivity | EFFECT_BIT.hostCrashLoop;
/** Effects that take a host's whole service out. */
export const OUTAGE_BITS = EFFECT_BIT.hostConnectivity | EFFECT_BIT.podEgress | EFFECT_BIT.crashLoop | EFFECT_BIT.hostCrashLoop;
/** Effects that impair a host's service, whole or in part (the others are only visible to invariant checks). */
export const SERVICE_BITS = OUTAGE_BITS | EFFECT_BIT.requestErrors;

// Host status.
const HEALTHY = 0;
const IMPAIRED = 1;
const REPLACING = 2; // terminated by auto-healing; the replacement is booting
const REPLACED = 3; // a fresh instance: healthy, data gone
const RESTARTING = 4; // change removed, the task waits for its region's database to let it start

export class World {
  readonly broken: Uint8Array;
  readonly status: Uint8Array;
  readonly changed: Uint8Array;
  private readonly gen: Uint32Array;
  /** Bumped when the change lands or is removed: a delayed breakage belongs to one landing. */
  private readonly changeGen: Uint32Array;
  /** Per-host flags computed once from labels: 1 = breaks when changed, 2 = in an auto-healing group. */
  private readonly traits: Uint8Array;
  private readonly breakMask: number;
  /**
   * The share of its capacity an impaired host loses: all of it, unless the change only makes it
   * fail a share of its requests (requestErrors alone). The effects are the same on every host the
   * change breaks, so capacity lost is this share of the impaired hosts at every instant.
   */
  readonly capacityLostShare: number;

  readonly regionImpaired: Int32Array;
  readonly regionPeak: Int32Array;
  readonly regionTerminated: Int32Array;
  readonly regionRecoveredAt: Float64Array;
  impaired = 0;
  peakImpaired = 0;
  terminated = 0;
  dataBearingLost = 0;
  hostsChanged = 0;
  everImpaired = 0;
  firstImpairedAt: number | null = null;
  lastImpairedAt: number | null = null;
  killSwitched = false;
  /** recovery.stop fired: the uncontrolled spread reaches no more hosts (nothing is healed). */
  spreadStopped = false;
  /**
   * Called when a host loses or regains the network (`up`), at the event's time; `fresh` when what
   * comes up is a replacement instance (a new agent: nothing of the old one's state survives).
   */
  onLink: ((h: number, t: number, up: boolean, fresh: boolean) => void) | null = null;
  /** Called when a delayed breakage (change.breaks.after), a recurring trigger or a bad version hits a changed host. */
  onBreak: ((h: number, t: number) => void) | null = null;
  /** Called just before a bad version breaks a host (the driver delivers the agent's last heartbeat before it is cut off). */
  beforeVersionBreak: ((h: number, t: number) => void) | null = null;
  /** change.versions: the version each host has (its index; -1: none yet). Null without versions. */
  private readonly versionSeen: Int32Array | null;

  // The remediation guard (guarded runs): per scope of its policy, the hosts offline now and the
  // replacements back online whose termination is within the window (each host counted once).
  readonly guard: GuardState | null;
  guardAsked = 0;
  guardDenied = 0;
  guardDeniedHosts = 0;
  guardLastDenial: string | null = null;

  // Restart queue per region: second -> counts per attempt.
  private readonly dbBuckets: Map<number, number[]>[];
  private readonly dbQueued: Float64Array;
  private readonly dbScheduled: Float64Array;

  // Timeline samples, one per simulated minute: [sample * regions + region].
  readonly sampleCount: number;
  readonly sampleImpaired: Int32Array;
  readonly sampleTerminated: Int32Array;
  /** The most impaired at once since the sample before (a host impaired for 20 s between two samples shows here). */
  readonly samplePeakImpaired: Int32Array;
  /** The same for the whole fleet ([sample]): the most at once, not the sum of each region's most. */
  readonly sampleFleetPeakImpaired: Int32Array;
  private readonly regionPeakSinceSample: Int32Array;
  private peakSinceSample = 0;
  private nextSample = 0;

  constructor(
    readonly scenario: Scenario,
    readonly fleet: Fleet,
    private readonly queue: EventQueue,
    private readonly rng: Prng,
    guarded = false,
    private readonly versions: VersionSchedule | null = null,
  ) {
    const n = fleet.size;
    this.broken = new Uint8Array(n);
    this.status = new Uint8Array(n);
    this.changed = new Uint8Array(n);
    this.gen = new Uint32Array(n);
    this.changeGen = new Uint32Array(n);
    this.traits = new Uint8Array(n);
    const r = fleet.regions.length;
    this.regionImpaired = new Int32Array(r);
    this.regionPeak = new Int32Array(r);
    this.regionTerminated = new Int32Array(r);
    this.regionRecoveredAt = new Float64Array(r).fill(NaN);
    this.dbBuckets = Array.from({ length: r }, () => new Map());
    this.dbQueued = new Float64Array(r);
    this.dbScheduled = new Float64Array(r).fill(-1);
    this.breakMask = scenario.change.breaks.effects.reduce((m, e) => m | EFFECT_BIT[e], 0);
    this.capacityLostShare = (this.breakMask & OUTAGE_BITS) === 0 && (this.breakMask & EFFECT_BIT.requestErrors) !== 0 ? scenario.change.breaks.errorShare : 1;
    this.sampleCount = Math.floor(scenario.duration / MINUTE) + 1;
    this.sampleImpaired = new Int32Array(this.sampleCount * r);
    this.sampleTerminated = new Int32Array(this.sampleCount * r);
    this.samplePeakImpaired = new Int32Array(this.sampleCount * r);
    this.sampleFleetPeakImpaired = new Int32Array(this.sampleCount);
    this.regionPeakSinceSample = new Int32Array(r);

    this.versionSeen = versions ? new Int32Array(n).fill(-1) : null;
    // Only the versions that change a host's state (good to bad, bad to good) are sent to hosts.
    if (versions) for (const k of flips(versions)) queue.push(generatedAt(versions, k), EV_VERSION, -1, k);
    this.guard = guarded && scenario.guard ? new GuardState(scenario.guard.policy, scenario.guard.providers, fleet) : null;
    // Selectors are evaluated once per distinct label object, not per host.
    const cache = new Map<Labels, number>();
    for (let h = 0; h < n; h++) {
      const labels = fleet.labels[h]!;
      let t = cache.get(labels);
      if (t === undefined) {
        // Only a host the change is for can break (a plan may target others: the change does nothing there).
        t = matchesSelector(labels, scenario.change.hosts) && matchesSelector(labels, scenario.change.breaks.match) ? 1 : 0;
        const rem = fleet.providers[fleet.regions[fleet.regionOf[h]!]!.providerIndex]!.remediation;
        if (rem && matchesSelector(labels, rem.match)) t |= 2;
        cache.set(labels, t);
      }
      this.traits[h] = t;
    }
  }

  get end(): number {
    return this.scenario.start + this.scenario.duration;
  }

  /** Applying the change to `h` now would cut it off the network. */
  wouldLoseNetwork(h: number): boolean {
    return (this.traits[h]! & 1) !== 0 && !this.killSwitched && (this.breakMask & OFFLINE_BITS) !== 0;
  }

  /** Why the change's artefact cannot be installed on `h` at `t` (not on its provider's mirror yet), or null. */
  artefactMissing(h: number, t: number): string | null {
    const spread = this.scenario.spread;
    if (spread.kind !== 'timers') return null;
    const provider = this.fleet.regions[this.fleet.regionOf[h]!]!.provider;
    const at = spread.mirrors.get(provider);
    if (at === undefined || t >= at) return null;
    return `${this.scenario.change.name} is not on the ${provider} mirror until ${new Date(at).toISOString()}`;
  }

  /** The host's agent cannot run at all (the host crash-loops): no checks, no local rollback. */
  agentDown(h: number): boolean {
    return (this.broken[h]! & EFFECT_BIT.hostCrashLoop) !== 0;
  }

  /** The host can talk to the network (heartbeats and reports get through). */
  reachable(h: number): boolean {
    return (this.broken[h]! & OFFLINE_BITS) === 0 && this.status[h] !== REPLACING;
  }

  /** Records timeline samples for every minute before `t`; call before handling an event at `t`. */
  advanceTo(t: number): void {
    const start = this.scenario.start;
    while (this.nextSample < this.sampleCount && start + this.nextSample * MINUTE < t) this.takeSample();
  }

  finish(): void {
    while (this.nextSample < this.sampleCount) this.takeSample();
  }

  private takeSample(): void {
    const r = this.fleet.regions.length;
    const base = this.nextSample * r;
    for (let i = 0; i < r; i++) {
      this.sampleImpaired[base + i] = this.regionImpaired[i]!;
      this.sampleTerminated[base + i] = this.regionTerminated[i]!;
      this.samplePeakImpaired[base + i] = this.regionPeakSinceSample[i]!;
      this.regionPeakSinceSample[i] = this.regionImpaired[i]!;
    }
    this.sampleFleetPeakImpaired[this.nextSample] = this.peakSinceSample;
    this.peakSinceSample = this.impaired;
    this.nextSample++;
  }

  /** The change lands on host `h` (installed by a timer, or applied by the agent for a rollout). */
  applyChange(h: number, t: number): void {
    if (this.changed[h] || this.status[h] === REPLACED || this.status[h] === REPLACING) return;
    this.changed[h] = 1;
    this.hostsChanged++;
    // After the kill switch the faulty code path is off: changing more hosts breaks nothing.
    if ((this.traits[h]! & 1) === 0 || this.killSwitched) return;
    if (this.versions) {
      // The host gets the latest version generated; it breaks only if that one is bad.
      const k = currentVersion(this.versions, t);
      this.versionSeen![h] = k;
      if (isBadVersion(this.versions, k)) this.breakNow(h, t);
      return;
    }
    const delay = this.scenario.change.breaks.delay;
    const again = this.scenario.change.breaks.again;
    if (again) this.queue.push(nextOccurrence(again.calendar, t) + this.rng.next() * again.randomizedDelay, EV_RETRIGGER, h, this.changeGen[h]! + (delay > 0 ? 1 : 0));
    if (delay > 0) {
      // The effects start later (a cache expiring, a cron job): unless the change is gone by then.
      this.queue.push(t + delay, EV_BREAK, h, ++this.changeGen[h]!);
      return;
    }
    this.breakNow(h, t);
  }

  private breakNow(h: number, t: number): void {
    const was = this.reachable(h);
    this.broken[h] = this.breakMask;
    if ((this.breakMask & SERVICE_BITS) !== 0 && this.status[h] === HEALTHY) this.impair(h, t);
    if (was && !this.reachable(h)) this.link(h, t, false, false);
  }

  /** The change is undone on `h` (rollback by the agent, or the kill switch). */
  removeChange(h: number, t: number): void {
    if (!this.changed[h]) return;
    this.changed[h] = 0;
    this.changeGen[h]!++; // a delayed breakage still to come no longer happens
    this.heal(h, t);
  }

  private impair(h: number, t: number): void {
    this.status[h] = IMPAIRED;
    const g = ++this.gen[h]!;
    this.countImpaired(h, 1);
    this.everImpaired++;
    this.lastImpairedAt = t;
    if (this.firstImpairedAt === null) {
      this.firstImpairedAt = t;
      const revert = this.scenario.recovery.revert;
      if (revert) this.queue.push(t + revert.after, EV_REVERT_ALL);
      const stop = this.scenario.recovery.stop;
      if (stop) this.queue.push(t + stop.after, EV_STOP_SPREAD);
    }
    // Auto-healing sees only a host that stopped answering its status checks.
    const region = this.fleet.regions[this.fleet.regionOf[h]!]!;
    const rem = this.fleet.providers[region.providerIndex]!.remediation;
    if (rem && (this.traits[h]! & 2) !== 0 && (this.broken[h]! & OFFLINE_BITS) !== 0) {
      // Each instance's status check runs on its own phase within the interval.
      const phase = ((h * 2654435761) >>> 0) % rem.statusCheckInterval;
      const firstFailed = Math.ceil((t - phase) / rem.statusCheckInterval) * rem.statusCheckInterval + phase;
      this.queue.push(firstFailed + rem.failedFor, EV_TERMINATE, h, g);
    }
    const repair = this.scenario.recovery.repair;
    if (repair) {
      const from = Math.max(t, this.firstImpairedAt + repair.after);
      const offset = repairOffset(repair, this.rng.next());
      if (offset !== null) this.queue.push(from + offset, EV_REPAIR, h, g);
    }
  }

  /** The host's breakage is gone (rollback, repair, revert). A crash-looping task must still start. */
  private heal(h: number, t: number): void {
    const was = this.reachable(h);
    this.clearBreakage(h, t);
    if (!was && this.reachable(h)) this.link(h, t, true, false);
  }

  private clearBreakage(h: number, t: number): void {
    const wasCrashLooping = (this.broken[h]! & EFFECT_BIT.crashLoop) !== 0;
    this.broken[h] = 0;
    if (this.status[h] !== IMPAIRED) return;
    this.gen[h]!++;
    const ri = this.fleet.regionOf[h]!;
    if (wasCrashLooping && this.fleet.regions[ri]!.spec.database) {
      this.status[h] = RESTARTING;
      this.enqueueRestart(ri, t);
      return;
    }
    this.status[h] = HEALTHY;
    this.countImpaired(h, -1, t);
  }

  private countImpaired(h: number, delta: number, t = 0): void {
    this.countRegion(this.fleet.regionOf[h]!, delta, t);
  }

  private countRegion(ri: number, delta: number, t: number): void {
    this.impaired += delta;
    if (this.impaired > this.peakImpaired) this.peakImpaired = this.impaired;
    if (this.impaired > this.peakSinceSample) this.peakSinceSample = this.impaired;
    const v = (this.regionImpaired[ri]! += delta);
    if (v > this.regionPeak[ri]!) this.regionPeak[ri] = v;
    if (v > this.regionPeakSinceSample[ri]!) this.regionPeakSinceSample[ri] = v;
    if (delta > 0) this.regionRecoveredAt[ri] = NaN;
    else if (v === 0) this.regionRecoveredAt[ri] = t;
  }

  /** World events; returns false for kinds that belong to a driver. */
  handle(kind: number, h: number, arg: number, t: number): boolean {
    switch (kind) {
      case EV_TERMINATE:
        if (this.status[h] !== IMPAIRED || this.gen[h] !== arg) return true;
        if (this.guard?.covers(h) && !this.askGuard(h, t)) {
          // Denied: the auto-healer asks again later while the host stays unhealthy, backing off
          // (retryEvery, doubling each time, at most an hour).
          const n = this.guard.denied[h]!;
          const wait = Math.min(GUARD_RETRY_CAP, this.scenario.guard!.retryEvery * 2 ** Math.min(n - 1, 20));
          this.queue.push(t + Math.max(wait, this.scenario.guard!.retryEvery), EV_TERMINATE, h, arg);
          return true;
        }
        this.terminate(h, t);
        return true;
      case EV_REPLACEMENT_READY:
        this.status[h] = REPLACED;
        this.countImpaired(h, -1, t);
        this.guard?.replacementBack(h, t);
        this.link(h, t, true, true);
        return true;
      case EV_REPAIR:
        if (this.status[h] === IMPAIRED && this.gen[h] === arg) this.heal(h, t);
        return true;
      case EV_REVERT_ALL:
        this.killSwitched = true;
        for (let i = 0; i < this.fleet.size; i++) {
          if (this.changed[i]) this.queue.push(t + this.rng.next() * this.scenario.recovery.revert!.within, EV_REVERT, i);
        }
        return true;
      case EV_REVERT:
        this.removeChange(h, t);
        return true;
      case EV_DB_SLOT:
        this.dbSlot(arg, t);
        return true;
      case EV_BREAK:
        if (this.changed[h] && this.changeGen[h] === arg && !this.killSwitched && this.status[h] !== REPLACING && this.status[h] !== REPLACED) {
          this.breakNow(h, t);
          this.onBreak?.(h, t);
        }
        return true;
      case EV_RETRIGGER: {
        if (!this.changed[h] || this.changeGen[h] !== arg || this.status[h] === REPLACING || this.status[h] === REPLACED) return true;
        if (!this.killSwitched && this.broken[h] === 0 && this.status[h] === HEALTHY) {
          this.breakNow(h, t);
          this.onBreak?.(h, t);
        }
        const again = this.scenario.change.breaks.again!;
        this.queue.push(nextOccurrence(again.calendar, t) + this.rng.next() * again.randomizedDelay, EV_RETRIGGER, h, arg);
        return true;
      }
      case EV_STOP_SPREAD:
        this.spreadStopped = true;
        return true;
      case EV_VERSION:
        for (let i = 0; i < this.fleet.size; i++) {
          if (this.changed[i] && (this.traits[i]! & 1) !== 0) this.queue.push(t + arrivalDelay(this.versions!, i, arg), EV_VERSION_ARRIVES, i, arg);
        }
        return true;
      case EV_VERSION_ARRIVES:
        this.versionArrives(h, arg, t);
        return true;
      default:
        return false;
    }
  }

  /** Version `k` reaches `h`: a bad one breaks it (if whole), a good one heals it. */
  private versionArrives(h: number, k: number, t: number): void {
    if (!this.changed[h] || this.versionSeen![h]! > k || this.status[h] === REPLACING || this.status[h] === REPLACED) return;
    this.versionSeen![h] = k;
    if (!isBadVersion(this.versions!, k)) {
      if (this.broken[h] === 0) return;
      // Left in a bad state, the host's service recovers only when restarted (as a repair would).
      const restart = k === this.versions!.bad.length ? restartAt(this.versions!, h) : null;
      if (restart !== null && this.status[h] === IMPAIRED) this.queue.push(Math.max(t, restart), EV_REPAIR, h, this.gen[h]!);
      else this.heal(h, t);
      return;
    }
    if (this.killSwitched || this.broken[h] !== 0 || this.status[h] !== HEALTHY) return;
    this.beforeVersionBreak?.(h, t);
    this.breakNow(h, t);
    this.onBreak?.(h, t);
  }

  private terminate(h: number, t: number): void {
    const ri = this.fleet.regionOf[h]!;
    const rem = this.fleet.providers[this.fleet.regions[ri]!.providerIndex]!.remediation!;
    const was = this.reachable(h);
    this.status[h] = REPLACING;
    this.gen[h]!++;
    this.broken[h] = 0;
    this.changed[h] = 0;
    this.terminated++;
    this.regionTerminated[ri]!++;
    if (this.fleet.dataBearing[h]) this.dataBearingLost++;
    this.queue.push(t + rem.replacementBoot, EV_REPLACEMENT_READY, h);
    if (was) this.link(h, t, false, false);
    this.guard?.terminated(h, t);
  }

  private link(h: number, t: number, up: boolean, fresh: boolean): void {
    this.guard?.offline(h, up ? -1 : 1);
    this.onLink?.(h, t, up, fresh);
  }

  /** The auto-healer asks the guard (the real decision, src/core/remediation/guard.ts) before replacing `h`. */
  private askGuard(h: number, t: number): boolean {
    const g = this.guard!;
    this.guardAsked++;
    const labels = this.fleet.labels[h]!;
    const dataBearing = isDataBearing(labels, g.policy);
    const counts = g.counts(h, t, dataBearing);
    // Fast path for a host asking again: a scope over its limit (the test decideRemediation makes,
    // with the same scopeLimit) denies; the full decision, and its reason, runs on the first ask and
    // whenever the budget might allow.
    if (g.denied[h]! > 0 && counts.some((c) => c.affected > scopeLimit(c.size, c.maxShare))) {
      this.guardDenied++;
      g.denied[h] = Math.min(255, g.denied[h]! + 1);
      return false;
    }
    const decision = decideRemediation({
      host: this.fleet.names[h]!,
      known: true,
      dataBearing,
      inRollout: null,
      freeze: null,
      override: null,
      counts,
    });
    if (decision.allow) return true;
    this.guardDenied++;
    if (!g.denied[h]) this.guardDeniedHosts++;
    g.denied[h] = Math.min(255, g.denied[h]! + 1);
    this.guardLastDenial = decision.reason;
    return false;
  }

  // ---- Restart storm: tasks start by reading from their region's database ------------------

  private enqueueRestart(ri: number, t: number): void {
    const slot = Math.floor(t / 1000) + 1;
    this.addToBucket(ri, slot, 0, 1);
    this.scheduleSlot(ri, slot);
  }

  private addToBucket(ri: number, slot: number, attempt: number, n: number): void {
    const buckets = this.dbBuckets[ri]!;
    let b = buckets.get(slot);
    if (!b) buckets.set(slot, (b = []));
    b[attempt] = (b[attempt] ?? 0) + n;
    this.dbQueued[ri]! += n;
  }

  private scheduleSlot(ri: number, slot: number): void {
    const pending = this.dbScheduled[ri]!;
    if (pending >= 0 && pending <= slot) return;
    this.dbScheduled[ri] = slot;
    this.queue.push(slot * 1000, EV_DB_SLOT, -1, ri);
  }

  /**
   * One second of the region's database. Up to its capacity every start succeeds; beyond it the
   * database spends its capacity on requests that then time out, and only capacity/arrivals of
   * what it serves completes in time (goodput = C^2 / A): the congestion collapse a stampede causes.
   */
  private dbSlot(ri: number, t: number): void {
    const slot = Math.round(t / 1000);
    if (this.dbScheduled[ri] !== slot) return; // superseded by an earlier slot
    this.dbScheduled[ri] = -1;
    const buckets = this.dbBuckets[ri]!;
    const groups = buckets.get(slot);
    buckets.delete(slot);
    if (groups) {
      const region = this.fleet.regions[ri]!;
      const capacity = region.spec.database!.capacityPerSecond * region.hosts;
      let arrivals = 0;
      for (const n of groups) arrivals += n ?? 0;
      this.dbQueued[ri]! -= arrivals;
      const goodput = arrivals <= capacity ? arrivals : (capacity * capacity) / arrivals;
      const p = arrivals === 0 ? 0 : goodput / arrivals;
      const restart = this.scenario.recovery.restart;
      let started = 0;
      for (let k = 0; k < groups.length; k++) {
        const n = groups[k] ?? 0;
        if (n === 0) continue;
        const exact = n * p;
        let ok = Math.floor(exact);
        if (this.rng.next() < exact - ok) ok++;
        started += ok;
        const failed = n - ok;
        if (failed === 0) continue;
        if (restart.backoff === 'none') {
          this.addToBucket(ri, slot + Math.round(restart.retryEvery / 1000), 0, failed);
        } else {
          // Full jitter: each task waits uniformly up to min(cap, base * 2^attempt).
          const windowS = Math.max(1, Math.round(Math.min(restart.cap, restart.base * 2 ** (k + 1)) / 1000));
          const each = Math.floor(failed / windowS);
          let rest = failed - each * windowS;
          if (each > 0) for (let s = 1; s <= windowS; s++) this.addToBucket(ri, slot + s, k + 1, each);
          while (rest-- > 0) this.addToBucket(ri, slot + 1 + this.rng.int(windowS), k + 1, 1);
        }
      }
      if (started > 0) this.countRegion(ri, -started, t);
    }
    if (this.dbQueued[ri]! > 0) {
      let next = slot + 1;
      while (!buckets.has(next)) next++;
      this.scheduleSlot(ri, next);
    }
  }
}

/** The guard's view of the fleet: scope sizes, hosts offline now, recent replacements back online. */
class GuardState {
  /** Per policy scope: the scope index of each host (-1: no such label). */
  // denied[h]: how many times the guard denied h (capped at 255), for the retry backoff.
  private readonly scopeOf: Int32Array[];
  private readonly names: string[][];
  private readonly size: Int32Array[];
  private readonly offlineNow: Int32Array[];
  private readonly recentBack: Int32Array[];
  private readonly coveredProvider: Uint8Array;
  readonly denied: Uint8Array;
  private readonly terminatedAt: Float64Array;
  private readonly back: Uint8Array;
  /** Terminated hosts in termination order, to age replacements out of the window. */
  private readonly order: number[] = [];
  private head = 0;

  constructor(
    readonly policy: RemediationPolicy,
    providers: readonly string[],
    private readonly fleet: Fleet,
  ) {
    const n = fleet.size;
    this.scopeOf = [];
    this.names = [];
    this.size = [];
    this.offlineNow = [];
    this.recentBack = [];
    for (const sp of policy.scopes) {
      const ids = new Int32Array(n).fill(-1);
      const index = new Map<string, number>();
      const names: string[] = [];
      for (let h = 0; h < n; h++) {
        const value = sp.label === null ? '' : fleet.labels[h]![sp.label];
        if (value === undefined) continue;
        let id = index.get(value);
        if (id === undefined) {
          index.set(value, (id = names.length));
          names.push(sp.label === null ? 'fleet' : `${sp.label}=${value}`);
        }
        ids[h] = id;
      }
      const size = new Int32Array(names.length);
      for (let h = 0; h < n; h++) if (ids[h]! >= 0) size[ids[h]!]!++;
      this.scopeOf.push(ids);
      this.names.push(names);
      this.size.push(size);
      this.offlineNow.push(new Int32Array(names.length));
      this.recentBack.push(new Int32Array(names.length));
    }
    this.coveredProvider = new Uint8Array(fleet.regions.length);
    fleet.regions.forEach((r, i) => (this.coveredProvider[i] = providers.includes(r.provider) ? 1 : 0));
    this.denied = new Uint8Array(n);
    this.terminatedAt = new Float64Array(n).fill(-Infinity);
    this.back = new Uint8Array(n);
  }

  covers(h: number): boolean {
    return this.coveredProvider[this.fleet.regionOf[h]!] === 1;
  }

  offline(h: number, delta: number): void {
    for (let s = 0; s < this.scopeOf.length; s++) {
      const id = this.scopeOf[s]![h]!;
      if (id >= 0) this.offlineNow[s]![id]! += delta;
    }
  }

  terminated(h: number, t: number): void {
    this.terminatedAt[h] = t;
    this.back[h] = 0;
    this.order.push(h);
  }

  replacementBack(h: number, t: number): void {
    this.expire(t);
    if (t - this.terminatedAt[h]! < this.policy.windowMs) {
      this.back[h] = 1;
      this.bump(h, 1);
    }
  }

  private bump(h: number, delta: number): void {
    for (let s = 0; s < this.scopeOf.length; s++) {
      const id = this.scopeOf[s]![h]!;
      if (id >= 0) this.recentBack[s]![id]! += delta;
    }
  }

  private expire(t: number): void {
    while (this.head < this.order.length) {
      const h = this.order[this.head]!;
      if (t - this.terminatedAt[h]! < this.policy.windowMs) break;
      if (this.back[h]) {
        this.back[h] = 0;
        this.bump(h, -1);
      }
      this.head++;
    }
  }

  counts(h: number, t: number, dataBearing: boolean): (ScopeCount & { maxShare: number })[] {
    this.expire(t);
    const out: (ScopeCount & { maxShare: number })[] = [];
    this.policy.scopes.forEach((sp, s) => {
      const id = this.scopeOf[s]![h]!;
      if (id < 0) return;
      out.push({
        scope: this.names[s]![id]!,
        size: this.size[s]![id]!,
        affected: this.offlineNow[s]![id]! + this.recentBack[s]![id]!,
        maxShare: dataBearing ? sp.dataMaxShare : sp.maxShare,
      });
    });
    return out;
  }
}

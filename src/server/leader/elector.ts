// Leader election for replicas on one PostgreSQL (issue 8). Every replica serves agents and
// operators; the holder of the leader lease (src/store/leader-lease.ts) also drives rollouts with a
// RolloutDriver of its own. The elector renews the lease every `renewMs` (followers try to take it
// every `pollMs`), starts a fresh driver when it wins a term (driver.start() loads the active
// rollouts from the store and gives in-flight hosts a fresh silentAfter) and stops and drops it
// when it loses the term, cannot renew in time, or a transition is fenced. The driver writes
// through a store that passes (holder, term) with every transition, so a stale leader's write is
// refused by the database whatever this process believes.
import type { HostInfo, Instant } from '../../core/types.ts';
import { UnavailableError } from '../../core/errors.ts';
import type { RolloutDriver } from '../../engine/rollout-driver.ts';
import { acquireOrRenewLease, FencedError, releaseLease, type LeaseFence, type LeaseView } from '../../store/leader-lease.ts';
import type { Sql, Store } from '../../store/store.ts';
import type { Logger } from '../logger.ts';
import { LivenessRefresher } from './liveness.ts';

export const DEFAULT_LEASE_TTL_MS = 6000;
export const DEFAULT_LEASE_RENEW_MS = 2000;
export const DEFAULT_LEASE_POLL_MS = 1000;
/** A leader stops this long before its lease would lapse if it could not renew it. */
const SAFETY_MS = 1000;

export type ReplicaRole = 'leader' | 'starting' | 'follower' | 'unavailable';

export interface ReplicaStatus {
  readonly role: ReplicaRole;
  /** This replica's holder id. */
  readonly replica: string;
  /** The lease as last seen: the leader, its term and where to reach it (null: none). */
  readonly leader: { readonly holder: string; readonly term: number; readonly url: string } | null;
  /** Why this replica has this role, in words. */
  readonly reason: string;
  /** 'ok', or why the database could not be used at the last attempt. */
  readonly database: string;
  /** When the role last changed (epoch ms). */
  readonly since: Instant;
  /** The last time this replica stopped leading, and why (null: it never did). */
  readonly stoppedLeading: { readonly at: Instant; readonly reason: string } | null;
}

/** Where a leader-only request goes. */
export type LeaderRoute =
  | { readonly kind: 'local' }
  | { readonly kind: 'forward'; readonly url: string; readonly holder: string }
  | { readonly kind: 'unavailable'; readonly reason: string; readonly retryAfterS: number };

/** What the HTTP layer needs of the replica machinery. */
export interface Replica {
  status(): ReplicaStatus;
  route(): LeaderRoute;
}

export interface ElectorOptions {
  /** A small pool of the elector's own (lease renewals must not queue behind API traffic). */
  readonly sql: Sql;
  /** The server's store; the driver gets it fenced. */
  readonly store: Store;
  readonly holder: string;
  readonly log: Logger;
  readonly ttlMs?: number;
  readonly renewMs?: number;
  readonly pollMs?: number;
  /** A leader driver over `store` (fenced), not started; `beforeTick` must be passed to it. */
  readonly makeDriver: (store: Store, beforeTick: () => Promise<void>) => RolloutDriver;
  /** Called when this replica starts or stops leading. */
  readonly onRoleChange?: (role: ReplicaRole) => void;
}

export class Elector implements Replica {
  private readonly o: Required<Omit<ElectorOptions, 'onRoleChange'>> & Pick<ElectorOptions, 'onRoleChange'>;
  /** Where other replicas forward leader-only requests (known once the server listens). */
  private advertiseUrl = '';
  private role: ReplicaRole = 'follower';
  private reason = 'electing: the lease has not been read yet';
  private database = 'ok';
  private since: Instant = Date.now();
  private stoppedLeading: ReplicaStatus['stoppedLeading'] = null;
  private lease: LeaseView | null = null;
  /** The term held, while starting or leading. */
  private term: number | null = null;
  /** Local (monotonic) time until which the lease is surely still ours. */
  private validUntil = 0;
  private driver: RolloutDriver | null = null;
  /** Bumped at every change of term: a driver start that finishes late for an old term is dropped. */
  private generation = 0;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private stepping: Promise<void> = Promise.resolve();

  constructor(opts: ElectorOptions) {
    this.o = {
      ttlMs: DEFAULT_LEASE_TTL_MS,
      renewMs: DEFAULT_LEASE_RENEW_MS,
      pollMs: DEFAULT_LEASE_POLL_MS,
      ...opts,
    };
  }

  /** Runs the first election round (a lone replica is leading when this resolves), then keeps going. */
  async start(advertiseUrl: string): Promise<void> {
    this.advertiseUrl = advertiseUrl;
    await this.runStep();
    this.schedule();
  }

  /** Stops electing; a leader stops its driver and ends its lease so another replica takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.stepping.catch(() => {});
    const term = this.term;
    await this.stepDown('the server is shutting down', 'follower');
    if (term !== null) await releaseLease(this.o.sql, { holder: this.o.holder, term }).catch(() => {});
  }

  /** The driver, while this replica leads (null while following or starting). */
  current(): RolloutDriver | null {
    return this.role === 'leader' ? this.driver : null;
  }

  status(): ReplicaStatus {
    const l = this.lease;
    return {
      role: this.role,
      replica: this.o.holder,
      leader: l && l.live ? { holder: l.holder, term: l.term, url: l.url } : null,
      reason: this.reason,
      database: this.database,
      since: this.since,
      stoppedLeading: this.stoppedLeading,
    };
  }

  route(): LeaderRoute {
    if (this.role === 'leader') return { kind: 'local' };
    if (this.role === 'starting') return { kind: 'unavailable', reason: 'this replica is taking over as leader; retry in a moment', retryAfterS: 1 };
    const l = this.lease;
    if (this.role === 'follower' && l && l.live && l.holder !== this.o.holder) return { kind: 'forward', url: l.url, holder: l.holder };
    return { kind: 'unavailable', reason: `no leader right now (${this.reason}); retry`, retryAfterS: 2 };
  }

  /** Builds the store the leader's driver writes through: every transition carries the fence. */
  private fencedStore(fence: LeaseFence): Store {
    const store = this.o.store;
    const fenced = (err: unknown): never => {
      if (err instanceof FencedError) void this.onFenced(fence);
      throw err;
    };
    return {
      ...store,
      persistTransition: (write) => store.persistTransition({ ...write, fence }).catch(fenced),
      createRollout: (rollout, plan, source, event, _fence, extra) => store.createRollout(rollout, plan, source, event, fence, extra).catch(fenced),
    };
  }

  private async onFenced(fence: LeaseFence): Promise<void> {
    if (this.term !== fence.term) return;
    this.o.log.error({ term: fence.term, replica: this.o.holder }, 'a transition was refused: this replica no longer holds the leader lease (fenced); it stops leading');
    this.generation += 1;
    await this.stepDown(`fenced: a transition of term ${fence.term} was refused, the lease moved on`, 'follower');
    this.kick();
  }

  private schedule(): void {
    if (this.stopped) return;
    // One pending round at most: a kick() and the regular chain both end here.
    if (this.timer) clearTimeout(this.timer);
    const every = this.role === 'leader' || this.role === 'starting' ? this.o.renewMs : this.o.pollMs;
    this.timer = setTimeout(() => {
      void this.runStep().finally(() => this.schedule());
    }, every);
    this.timer.unref?.();
  }

  /** Runs a round soon (after a fence), without waiting for the timer. */
  private kick(): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    void this.runStep().finally(() => this.schedule());
  }

  private runStep(): Promise<void> {
    // Never rejects: an election round that fails is logged and the next one runs on time.
    const next = this.stepping.then(() =>
      this.step().catch((err: unknown) => this.o.log.error({ err: describe(err) }, 'election round failed; retrying')),
    );
    this.stepping = next;
    return next;
  }

  private async step(): Promise<void> {
    if (this.stopped) return;
    const leading = this.role === 'leader' || this.role === 'starting';
    if (leading && performance.now() >= this.validUntil) {
      await this.stepDown(`could not renew the lease in time (${this.database === 'ok' ? 'renewals failed' : this.database})`, 'unavailable');
    }
    const attemptAt = performance.now();
    let attempt;
    try {
      attempt = await acquireOrRenewLease(this.o.sql, this.o.holder, this.advertiseUrl, this.o.ttlMs, this.term !== null);
    } catch (err) {
      const message = `cannot reach PostgreSQL: ${describe(err)}`;
      if (this.database === 'ok') this.o.log.warn({ err: describe(err) }, 'the leader lease could not be read or renewed');
      this.database = message;
      this.lease = null;
      if (this.role === 'follower') this.setRole('unavailable', message);
      else if (this.role === 'unavailable') this.reason = message;
      return;
    }
    if (this.database !== 'ok') this.o.log.info({}, 'PostgreSQL answers again');
    this.database = 'ok';
    if (attempt.won) {
      this.lease = { holder: this.o.holder, term: attempt.term, url: this.advertiseUrl, live: true, expiresInMs: this.o.ttlMs };
      this.validUntil = attemptAt + this.o.ttlMs - SAFETY_MS;
      if (this.term === attempt.term && (this.role === 'leader' || this.role === 'starting')) return;
      if (this.term !== null) await this.stepDown(`the lease lapsed and was taken again under term ${attempt.term}`, 'follower');
      await this.becomeLeader(attempt.term);
      return;
    }
    this.lease = attempt.current;
    const l = attempt.current;
    const why = l && l.live ? `following ${l.holder} (term ${l.term}) at ${l.url}` : 'no live lease; trying to take it';
    if (this.role === 'leader' || this.role === 'starting') {
      await this.stepDown(`another replica holds the lease: ${l ? `${l.holder}, term ${l.term}` : 'none'}`, 'follower');
    }
    this.setRole('follower', why);
  }

  private async becomeLeader(term: number): Promise<void> {
    this.generation += 1;
    const generation = this.generation;
    this.term = term;
    this.setRole('starting', `won the lease (term ${term}); loading active rollouts`);
    this.o.log.info({ term, replica: this.o.holder, url: this.advertiseUrl }, 'won the leader lease; taking over the rollouts');
    const since = Date.now();
    const refresher = new LivenessRefresher(this.o.sql, since);
    let driver: RolloutDriver | null = null;
    const beforeTick = () => (driver ? refresher.refresh(driver) : Promise.resolve());
    driver = this.o.makeDriver(this.fencedStore({ holder: this.o.holder, term }), beforeTick);
    this.driver = driver;
    const started = driver.start().then(
      () => {
        if (this.generation !== generation || this.driver !== driver) return;
        this.setRole('leader', `holds the lease (term ${term})`);
        this.o.log.info({ term, replica: this.o.holder, ms: Date.now() - since }, 'leading: driving rollouts');
      },
      async (err: unknown) => {
        if (this.generation !== generation) return;
        this.o.log.error({ term, err: describe(err) }, 'could not load the rollouts after winning the lease');
        await this.stepDown(`could not start driving rollouts: ${describe(err)}`, 'unavailable');
        await releaseLease(this.o.sql, { holder: this.o.holder, term }).catch(() => {});
      },
    );
    // Wait a while (a lone replica leads once start() returns) but keep renewing on a long load.
    await Promise.race([started, new Promise((r) => setTimeout(r, this.o.renewMs).unref?.())]);
  }

  private async stepDown(reason: string, role: 'follower' | 'unavailable'): Promise<void> {
    const driver = this.driver;
    const wasLeading = this.term !== null;
    this.driver = null;
    this.term = null;
    this.generation += 1;
    if (wasLeading) {
      this.stoppedLeading = { at: Date.now(), reason };
      this.o.log.warn({ replica: this.o.holder, reason }, 'stopped leading; in-memory rollout state dropped');
      this.setRole(role, reason);
    }
    if (driver) await Promise.race([driver.stop(), new Promise((r) => setTimeout(r, 5000).unref?.())]);
  }

  private setRole(role: ReplicaRole, reason: string): void {
    if (role !== this.role) {
      this.since = Date.now();
      this.role = role;
      this.o.onRoleChange?.(role);
    }
    this.reason = reason;
  }
}

/** A store for a replica that is not leading: reads work, transitions are refused (503). */
export function followerStore(store: Store): Store {
  const refuse = () => Promise.reject(new UnavailableError('this replica is not the leader: the transition was not written; retry'));
  return { ...store, persistTransition: refuse, createRollout: refuse };
}

/**
 * The driver the routes use: the leader's while this replica leads, otherwise `idle` (never
 * started, over a follower store: previews and membership checks read the store, heartbeats only
 * note the host), and a host sighting goes to the leader through `onHostSeen`.
 */
export function replicaDriver(elector: Elector, idle: RolloutDriver, onHostSeen: (host: HostInfo) => void): RolloutDriver {
  return new Proxy(idle, {
    get(target, prop) {
      const leader = elector.current();
      if (!leader && prop === 'hostSeen') return async (host: HostInfo) => onHostSeen(host);
      const d = leader ?? target;
      const value: unknown = Reflect.get(d, prop, d);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(d) : value;
    },
  });
}

function describe(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) return describe(err.errors[0]);
  return err instanceof Error && err.message !== '' ? err.message : String(err);
}

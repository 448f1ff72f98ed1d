// Heartbeats without a database write each. Liveness (last_seen) is kept in memory and flushed
// to the hosts table in one statement per flush (every `flushMs`, default 1 s, and at shutdown);
// labels and facts are written only when they differ from what this process last knew of them;
// verified host credentials are cached (bounded, with a TTL) so a heartbeat is no database read
// either. `store` is the store everything else in the server uses: its host reads see the
// in-memory last_seen (merged with the rows), so status and silence stay right between flushes.
//
// With replicas, a host's heartbeat may reach any of them, and the leader reads hosts.last_seen
// for hosts it has not heard itself: the flush interval must stay well under one heartbeat
// (1 s against the default 5 s), so what the leader reads is at most flushMs + one round trip old.
import { createHash } from 'node:crypto';
import type { Instant, Labels } from '../core/types.ts';
import type { HostRow, Store } from '../store/store.ts';
import { Batcher } from './batch.ts';

export interface LivenessOptions {
  /** How often pending last_seen values are written (default 1000 ms). */
  readonly flushMs?: number;
  /** Most credentials kept verified in memory (default 200,000); the oldest go first. */
  readonly cacheMax?: number;
  /**
   * How long a verified credential is trusted before it is read again (default 60 s): a host
   * re-enrolled through another replica stops being accepted with its old credential here
   * within this time. A re-enrollment through this process invalidates at once.
   */
  readonly cacheTtlMs?: number;
  readonly now?: () => Instant;
  readonly log?: { warn(obj: Record<string, unknown>, msg: string): void };
}

interface CachedHost {
  readonly row: HostRow;
  readonly hash: string;
  readonly verifiedAt: Instant;
}

interface HostMeta {
  /** Labels as last written or read (null: unknown). Flat string maps: compared key by key. */
  labels: Labels | null;
  factsHash: string;
}

export interface LivenessStats {
  /** Flush statements run, and host rows they moved. */
  flushes: number;
  flushedRows: number;
  /** Heartbeats that wrote labels or facts (the rest wrote nothing). */
  detailWrites: number;
  authHits: number;
  authMisses: number;
}

export class HostLiveness {
  /** The store to use everywhere else in the server (host reads merged with memory). */
  readonly store: Store;
  readonly stats: LivenessStats = { flushes: 0, flushedRows: 0, detailWrites: 0, authHits: 0, authMisses: 0 };
  private readonly inner: Store;
  private readonly flushMs: number;
  private readonly cacheMax: number;
  private readonly cacheTtlMs: number;
  private readonly now: () => Instant;
  private readonly log: LivenessOptions['log'];
  /** last_seen not written yet. */
  private pending = new Map<string, Instant>();
  /** Newest last_seen this process knows of, written or not (for reads between flushes). */
  private readonly seen = new Map<string, Instant>();
  /** credential hash -> host; a Map keeps insertion order, so the first key is the oldest. */
  private readonly byCredential = new Map<string, CachedHost>();
  private readonly credentialOf = new Map<string, string>();
  private readonly meta = new Map<string, HostMeta>();
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;
  /** Credential reads of concurrent requests, one statement per batch. */
  private readonly lookups: Batcher<HostRow | null>;

  constructor(store: Store, opts: LivenessOptions = {}) {
    this.inner = store;
    this.flushMs = opts.flushMs ?? 1000;
    this.cacheMax = opts.cacheMax ?? 200_000;
    this.cacheTtlMs = opts.cacheTtlMs ?? 60_000;
    this.now = opts.now ?? Date.now;
    this.log = opts.log;
    this.store = this.decorate(store);
    this.lookups = new Batcher<HostRow | null>((hashes) => store.hostsByCredentialHashes(hashes), null);
  }

  /** Starts the flush loop. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      if (!this.flushing) void this.flush();
    }, this.flushMs);
    this.timer.unref?.();
  }

  /** Stops the loop and writes what is pending (a clean stop loses no liveness). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.flush();
  }

  /** The newest last_seen this process knows for `name` (undefined: none since it started). */
  lastSeen(name: string): Instant | undefined {
    return this.seen.get(name);
  }

  /** Writes pending last_seen values: one statement. On failure they stay pending for the next flush. */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing.then(() => this.flush());
    if (this.pending.size === 0) return Promise.resolve();
    const batch = this.pending;
    this.pending = new Map();
    const names = [...batch.keys()];
    const times = [...batch.values()];
    this.flushing = this.inner
      .recordLastSeen(names, times)
      .then((n) => {
        this.stats.flushes += 1;
        this.stats.flushedRows += n;
      })
      .catch((err: unknown) => {
        for (const [name, t] of batch) if ((this.pending.get(name) ?? 0) < t) this.pending.set(name, t);
        this.log?.warn({ hosts: batch.size, err: String(err) }, 'writing heartbeats failed; retrying at the next flush');
      })
      .finally(() => {
        this.flushing = null;
      });
    return this.flushing;
  }

  private decorate(inner: Store): Store {
    const merge = (row: HostRow): HostRow => this.withSeen(row);
    return {
      ...inner,
      migrate: () => inner.migrate(),
      close: () => inner.close(),
      enrollHost: async (host) => {
        const row = await inner.enrollHost(host);
        this.forget(row.name);
        this.meta.set(row.name, { labels: row.labels, factsHash: hashJson(row.facts) });
        return merge(row);
      },
      hostByCredentialHash: (hash) => this.authenticate(hash),
      // A reset or a rotation through this process: the cached credential goes at once (other
      // replicas drop theirs within cacheTtlMs; the long-poll re-checks the store itself).
      resetHostCredential: async (name, now) => {
        const done = await inner.resetHostCredential(name, now);
        this.forget(name);
        return done;
      },
      rotateHostCredential: async (rotation) => {
        const done = await inner.rotateHostCredential(rotation);
        this.forget(rotation.name);
        return done;
      },
      confirmHostCredential: async (name, hash) => {
        await inner.confirmHostCredential(name, hash);
        this.forget(name);
      },
      recordHeartbeat: (name, update) => this.heartbeat(name, update),
      listHosts: async (options) => (await inner.listHosts(options)).map(merge),
      // Pages filter on the stored last_seen (at most one flush behind) and show the newest.
      listHostsPage: async (query) => (await inner.listHostsPage(query)).map(merge),
    };
  }

  /**
   * The host a credential hash belongs to when it is in the cache and still good (verified within
   * cacheTtlMs, not a previous credential past its grace), without waiting: what authenticate()
   * answers from memory. undefined: not cached (authenticate() would read the store).
   */
  cachedHost(hash: string): HostRow | undefined {
    const cached = this.byCredential.get(hash);
    if (!cached) return undefined;
    const now = this.now();
    const graceOver = cached.row.previousValidUntil !== undefined && cached.row.previousValidUntil <= now;
    if (graceOver || now - cached.verifiedAt >= this.cacheTtlMs) return undefined;
    this.stats.authHits += 1;
    return this.withSeen(cached.row);
  }

  /** The row with the last heartbeat this process heard, when it is newer than the row's. */
  private withSeen(row: HostRow): HostRow {
    const t = this.seen.get(row.name);
    return t !== undefined && t > row.lastSeen ? { ...row, lastSeen: t } : row;
  }

  /** The host a credential hash belongs to, from memory when verified recently. */
  private async authenticate(hash: string): Promise<HostRow | null> {
    const hit = this.cachedHost(hash);
    if (hit) return hit;
    this.stats.authMisses += 1;
    const now = this.now();
    this.byCredential.delete(hash);
    const row = await this.lookups.load(hash); // the store's clock: previous credentials in their grace
    if (!row) return null;
    const previous = this.credentialOf.get(row.name);
    if (previous !== undefined && previous !== hash) this.byCredential.delete(previous);
    this.meta.set(row.name, { labels: row.labels, factsHash: hashJson(row.facts) });
    // Facts are not kept here (package lists can be large): only `allow`, which routes may need.
    const allow = row.facts['allow'];
    const slim: HostRow = { ...row, facts: allow !== undefined ? { allow } : {} };
    this.remember(hash, { row: slim, hash, verifiedAt: now });
    return this.withSeen(slim);
  }

  private remember(hash: string, entry: CachedHost): void {
    this.byCredential.set(hash, entry);
    this.credentialOf.set(entry.row.name, hash);
    while (this.byCredential.size > this.cacheMax) {
      const oldest = this.byCredential.keys().next().value as string;
      const gone = this.byCredential.get(oldest);
      this.byCredential.delete(oldest);
      if (gone && this.credentialOf.get(gone.row.name) === oldest) this.credentialOf.delete(gone.row.name);
    }
  }

  /** A host enrolled again: its old credential must not be accepted any more. */
  private forget(name: string): void {
    const hash = this.credentialOf.get(name);
    if (hash !== undefined) this.byCredential.delete(hash);
    this.credentialOf.delete(name);
  }

  /**
   * A heartbeat: last_seen into memory (written at the next flush); labels and facts written now,
   * and only when they differ from what this process knows of the host.
   */
  private async heartbeat(name: string, update: { now: Instant; labels?: Labels; facts?: Record<string, unknown> }): Promise<void> {
    if ((this.seen.get(name) ?? 0) < update.now) this.seen.set(name, update.now);
    if ((this.pending.get(name) ?? 0) < update.now) this.pending.set(name, update.now);
    const known = this.meta.get(name);
    let labels: Labels | undefined;
    let facts: Record<string, unknown> | undefined;
    let factsHash: string | undefined;
    if (update.labels !== undefined && !(known?.labels && sameLabels(known.labels, update.labels))) labels = update.labels;
    if (update.facts !== undefined) {
      factsHash = hashJson(update.facts);
      if (known?.factsHash !== factsHash) facts = update.facts;
    }
    if (labels === undefined && facts === undefined) return;
    this.stats.detailWrites += 1;
    await this.inner.recordHeartbeat(name, { now: update.now, ...(labels ? { labels } : {}), ...(facts ? { facts } : {}) });
    // What was not sent stays as known (unknown for a host not authenticated through this process).
    this.meta.set(name, { labels: labels ?? known?.labels ?? null, factsHash: factsHash ?? known?.factsHash ?? '' });
    // The cached row carries labels (a change of labels is the driver's hostSeen): keep it current.
    if (labels) {
      const hash = this.credentialOf.get(name);
      const cached = hash !== undefined ? this.byCredential.get(hash) : undefined;
      if (cached && hash !== undefined) this.byCredential.set(hash, { ...cached, row: { ...cached.row, labels } });
    }
  }
}

function sameLabels(a: Labels, b: Labels): boolean {
  let n = 0;
  for (const k in a) {
    if (a[k] !== b[k]) return false;
    n += 1;
  }
  for (const _ in b) n -= 1;
  return n === 0;
}

/** JSON with object keys sorted at every level: equal values give equal text whatever the key order (jsonb reorders keys). */
export function stableJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  const obj = value as Record<string, unknown>;
  return `{${Object.keys(obj)
    .sort()
    .filter((k) => obj[k] !== undefined)
    .map((k) => `${JSON.stringify(k)}:${stableJson(obj[k])}`)
    .join(',')}}`;
}

function hashJson(value: unknown): string {
  return createHash('sha1').update(stableJson(value)).digest('base64');
}

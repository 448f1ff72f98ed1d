// Wakes agents' long-polls when their assignments may have changed. Waiters are per host; a
// broadcast (a rollout changed state) wakes everyone, who then re-read their own assignments.
// Generations close the gap between reading the assignments and starting to wait: a change
// announced in between is seen by `wait`, which then returns at once.

/** What `wait` needs of an AbortSignal (the server passes a lighter one: see app.ts clientGone). */
export interface StopSignal {
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/** How long a host's assignments read from the store are reused while nothing was announced for it. */
export const ASSIGNMENTS_CACHE_MS = 60_000;
const ASSIGNMENTS_CACHE_MAX = 200_000;

export class AssignmentHub {
  /** A host's last assignments read, with the generation taken before the read. */
  private readonly cache = new Map<string, { generation: string; at: number; value: unknown }>();
  private readonly waiters = new Map<string, Set<() => void>>();
  private readonly hostGeneration = new Map<string, number>();
  private broadcastGeneration = 0;

  /** Take this before reading a host's assignments; pass it to `wait`. */
  generation(host: string): string {
    return `${this.broadcastGeneration}:${this.hostGeneration.get(host) ?? 0}`;
  }

  /**
   * Resolves true when woken (or when something changed since `since`), false after `ms` or when
   * the signal aborts.
   */
  wait(host: string, ms: number, signal?: StopSignal, since?: string): Promise<boolean> {
    if (since !== undefined && since !== this.generation(host)) return Promise.resolve(true);
    return new Promise((resolve) => {
      let set = this.waiters.get(host);
      if (!set) {
        set = new Set();
        this.waiters.set(host, set);
      }
      const done = (woken: boolean) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        const s = this.waiters.get(host);
        s?.delete(wake);
        if (s && s.size === 0) this.waiters.delete(host);
        resolve(woken);
      };
      const wake = () => done(true);
      const onAbort = () => done(false);
      const timer = setTimeout(() => done(false), ms);
      signal?.addEventListener('abort', onAbort, { once: true });
      set.add(wake);
    });
  }

  /**
   * What `remember` stored for the host under this generation, if younger than
   * ASSIGNMENTS_CACHE_MS: nothing was announced for the host since it was read. A held poll that
   * times out, and the next poll of an idle host, then cost no database read. The age bound heals
   * a change that was never announced (none is known; it bounds the harm of one).
   */
  cached<T>(host: string, generation: string, now = Date.now()): T | undefined {
    const entry = this.cache.get(host);
    if (!entry || entry.generation !== generation || now - entry.at >= ASSIGNMENTS_CACHE_MS) return undefined;
    return entry.value as T;
  }

  remember(host: string, generation: string, value: unknown, now = Date.now()): void {
    this.cache.delete(host); // re-inserted last: the Map's first key is the oldest
    this.cache.set(host, { generation, at: now, value });
    if (this.cache.size > ASSIGNMENTS_CACHE_MAX) this.cache.delete(this.cache.keys().next().value as string);
  }

  notify(hosts: readonly string[] | null): void {
    if (hosts === null) {
      this.broadcastGeneration++;
      for (const set of [...this.waiters.values()]) for (const wake of [...set]) wake();
      return;
    }
    for (const host of hosts) {
      this.hostGeneration.set(host, (this.hostGeneration.get(host) ?? 0) + 1);
      const set = this.waiters.get(host);
      if (set) for (const wake of [...set]) wake();
    }
  }

  /** Wakes every waiter (server shutting down). */
  releaseAll(): void {
    this.notify(null);
  }
}

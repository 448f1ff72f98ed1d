// Wakes agents' long-polls when their assignments may have changed. Waiters are per host; a
// broadcast (a rollout changed state) wakes everyone, who then re-read their own assignments.

export class AssignmentHub {
  private readonly waiters = new Map<string, Set<() => void>>();

  /** Resolves true when woken, false after `ms` or when the signal aborts. */
  wait(host: string, ms: number, signal?: AbortSignal): Promise<boolean> {
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

  notify(hosts: readonly string[] | null): void {
    if (hosts === null) {
      for (const set of [...this.waiters.values()]) for (const wake of [...set]) wake();
      return;
    }
    for (const host of hosts) {
      const set = this.waiters.get(host);
      if (set) for (const wake of [...set]) wake();
    }
  }

  /** Wakes every waiter (server shutting down). */
  releaseAll(): void {
    this.notify(null);
  }
}

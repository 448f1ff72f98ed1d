// Coalesces many concurrent single-key reads into one multi-key read: keys asked for in the same
// turn of the event loop (and while a read is running) go to the store together, up to `max` per
// statement. A thundering herd (every agent reconnecting after a server restart) then costs a few
// statements, not one per request queued on a pool of ten connections.
export class Batcher<V> {
  private waiting = new Map<string, { resolve: (v: V) => void; reject: (e: unknown) => void }[]>();
  private scheduled = false;
  private running = 0;

  constructor(
    private readonly read: (keys: string[]) => Promise<Map<string, V>>,
    private readonly missing: V,
    private readonly max = 1000,
    private readonly concurrency = 4,
  ) {}

  load(key: string): Promise<V> {
    return new Promise<V>((resolve, reject) => {
      const list = this.waiting.get(key);
      if (list) list.push({ resolve, reject });
      else this.waiting.set(key, [{ resolve, reject }]);
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.running >= this.concurrency) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.run();
    });
  }

  private run(): void {
    while (this.waiting.size > 0 && this.running < this.concurrency) {
      const batch = new Map<string, { resolve: (v: V) => void; reject: (e: unknown) => void }[]>();
      for (const [k, v] of this.waiting) {
        batch.set(k, v);
        this.waiting.delete(k);
        if (batch.size >= this.max) break;
      }
      this.running += 1;
      this.read([...batch.keys()]).then(
        (found) => {
          for (const [k, list] of batch) for (const w of list) w.resolve(found.get(k) ?? this.missing);
        },
        (err: unknown) => {
          for (const list of batch.values()) for (const w of list) w.reject(err);
        },
      ).finally(() => {
        this.running -= 1;
        if (this.waiting.size > 0) this.schedule();
      });
    }
  }
}

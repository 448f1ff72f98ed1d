// The simulator's event queue: a binary min-heap on (time, insertion order) kept in typed arrays,
// so a million pending events cost a few tens of MB and no per-event objects. Ties at the same
// instant come out in the order they were pushed, which keeps runs deterministic.

export interface QueuedEvent {
  time: number;
  kind: number;
  host: number;
  arg: number;
}

export class EventQueue {
  private times = new Float64Array(1024);
  private seqs = new Float64Array(1024);
  private kinds = new Uint8Array(1024);
  private hosts = new Int32Array(1024);
  private args = new Int32Array(1024);
  private count = 0;
  private seq = 0;
  /** Events popped so far (for the benchmark's events/second). */
  popped = 0;

  get size(): number {
    return this.count;
  }

  push(time: number, kind: number, host = -1, arg = 0): void {
    if (this.count === this.times.length) this.grow();
    let i = this.count++;
    const seq = this.seq++;
    // Sift up, moving parents down into the hole.
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(time, seq, this.times[p]!, this.seqs[p]!)) break;
      this.move(p, i);
      i = p;
    }
    this.set(i, time, seq, kind, host, arg);
  }

  peekTime(): number {
    return this.count === 0 ? Infinity : this.times[0]!;
  }

  /** Pops the earliest event into `out` (reused to avoid allocation); false when empty. */
  pop(out: QueuedEvent): boolean {
    if (this.count === 0) return false;
    out.time = this.times[0]!;
    out.kind = this.kinds[0]!;
    out.host = this.hosts[0]!;
    out.arg = this.args[0]!;
    this.popped++;
    const last = --this.count;
    if (last === 0) return true;
    const t = this.times[last]!;
    const s = this.seqs[last]!;
    const k = this.kinds[last]!;
    const h = this.hosts[last]!;
    const a = this.args[last]!;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= last) break;
      const r = l + 1;
      let c = l;
      if (r < last && this.less(this.times[r]!, this.seqs[r]!, this.times[l]!, this.seqs[l]!)) c = r;
      if (!this.less(this.times[c]!, this.seqs[c]!, t, s)) break;
      this.move(c, i);
      i = c;
    }
    this.set(i, t, s, k, h, a);
    return true;
  }

  private less(t1: number, s1: number, t2: number, s2: number): boolean {
    return t1 < t2 || (t1 === t2 && s1 < s2);
  }

  private move(from: number, to: number): void {
    this.times[to] = this.times[from]!;
    this.seqs[to] = this.seqs[from]!;
    this.kinds[to] = this.kinds[from]!;
    this.hosts[to] = this.hosts[from]!;
    this.args[to] = this.args[from]!;
  }

  private set(i: number, t: number, s: number, k: number, h: number, a: number): void {
    this.times[i] = t;
    this.seqs[i] = s;
    this.kinds[i] = k;
    this.hosts[i] = h;
    this.args[i] = a;
  }

  private grow(): void {
    const n = this.times.length * 2;
    const grow64 = (a: Float64Array) => {
      const b = new Float64Array(n);
      b.set(a);
      return b;
    };
    this.times = grow64(this.times);
    this.seqs = grow64(this.seqs);
    const k = new Uint8Array(n);
    k.set(this.kinds);
    this.kinds = k;
    const h = new Int32Array(n);
    h.set(this.hosts);
    this.hosts = h;
    const a = new Int32Array(n);
    a.set(this.args);
    this.args = a;
  }
}

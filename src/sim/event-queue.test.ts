import { describe, expect, it } from 'vitest';
import { EventQueue } from './event-queue.ts';
import type { QueuedEvent } from './event-queue.ts';
import { createPrng } from './prng.ts';

describe('EventQueue', () => {
  it('pops in time order, ties in push order, across growth', () => {
    const q = new EventQueue();
    const rng = createPrng(5);
    const pushed: { time: number; host: number }[] = [];
    for (let i = 0; i < 5000; i++) {
      const time = Math.floor(rng.next() * 100);
      q.push(time, 1, i, 0);
      pushed.push({ time, host: i });
    }
    const expected = [...pushed].sort((a, b) => a.time - b.time || a.host - b.host);
    const ev: QueuedEvent = { time: 0, kind: 0, host: 0, arg: 0 };
    const got: { time: number; host: number }[] = [];
    while (q.pop(ev)) got.push({ time: ev.time, host: ev.host });
    expect(got).toEqual(expected);
    expect(q.popped).toBe(5000);
  });
});

describe('createPrng', () => {
  it('is reproducible per seed and stream, and different across them', () => {
    const draw = (seed: number, stream = 0) => {
      const r = createPrng(seed, stream);
      return Array.from({ length: 5 }, () => r.next());
    };
    expect(draw(1)).toEqual(draw(1));
    expect(draw(1)).not.toEqual(draw(2));
    expect(draw(1, 0)).not.toEqual(draw(1, 1));
    expect(draw(1).every((x) => x >= 0 && x < 1)).toBe(true);
  });
});

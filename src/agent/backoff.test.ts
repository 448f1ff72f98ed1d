import { describe, expect, it } from 'vitest';
import { Backoff, backoffDelay, retry } from './backoff.ts';

const opts = { initialMs: 500, maxMs: 30_000 };

describe('backoffDelay', () => {
  it.each([
    [0, 500],
    [1, 1000],
    [3, 4000],
    [6, 30_000],
    [50, 30_000],
    [5000, 30_000],
  ])('attempt %i: ceiling %i ms, never more, never negative', (attempt, ceiling) => {
    expect(backoffDelay(attempt, opts, () => 0)).toBe(0);
    expect(backoffDelay(attempt, opts, () => 0.999999)).toBe(Math.floor(0.999999 * ceiling));
    expect(backoffDelay(attempt, opts, () => 0.5)).toBe(ceiling / 2);
  });

  it('spreads delays with the random source (full jitter)', () => {
    const seen = new Set([0.1, 0.4, 0.8].map((r) => backoffDelay(4, opts, () => r)));
    expect(seen.size).toBe(3);
  });
});

describe('Backoff', () => {
  it('grows after each failure and starts over after reset', () => {
    const b = new Backoff(opts, () => 1);
    expect([b.next(), b.next(), b.next()]).toEqual([500, 1000, 2000]);
    b.reset();
    expect(b.next()).toBe(500);
  });
});

describe('retry', () => {
  it('calls again after failures until it succeeds', async () => {
    let calls = 0;
    const errors: number[] = [];
    const value = await retry(
      async () => {
        calls += 1;
        if (calls < 3) throw new Error('down');
        return 'up';
      },
      { backoff: { initialMs: 1, maxMs: 2 }, signal: new AbortController().signal, onError: (_e, n) => errors.push(n) },
    );
    expect(value).toBe('up');
    expect(calls).toBe(3);
    expect(errors).toEqual([1, 2]);
  });

  it('gives up when aborted', async () => {
    const controller = new AbortController();
    const value = await retry(
      async () => {
        controller.abort();
        throw new Error('down');
      },
      { backoff: { initialMs: 1, maxMs: 2 }, signal: controller.signal },
    );
    expect(value).toBeUndefined();
  });
});

import { describe, expect, it } from 'vitest';
import { TokenBuckets } from './rate-limit.ts';

describe('TokenBuckets', () => {
  it('spends the burst, then asks to wait until a token is back', () => {
    let now = 0;
    const b = new TokenBuckets({ perSecond: 2, burst: 3 }, 100, () => now);
    expect([b.take('a'), b.take('a'), b.take('a')]).toEqual([0, 0, 0]);
    expect(b.take('a')).toBe(1); // 0.5 s at 2/s, rounded up to a whole second
    expect(b.take('b')).toBe(0); // per key
    now = 500;
    expect(b.take('a')).toBe(0);
    expect(b.retryAfter('a')).toBe(1);
    now = 10_000;
    expect(b.retryAfter('a')).toBe(0);
  });

  it('charge goes below zero (down to -burst): an address that keeps failing waits longer', () => {
    let now = 0;
    const b = new TokenBuckets({ perSecond: 1, burst: 2 }, 100, () => now);
    for (let i = 0; i < 10; i++) b.charge('x');
    expect(b.retryAfter('x')).toBe(3); // from -2 to 1 at 1/s
    now = 3000;
    expect(b.retryAfter('x')).toBe(0);
  });

  it('holds at most maxKeys keys, dropping the oldest; full buckets are not kept at all', () => {
    const b = new TokenBuckets({ perSecond: 0.001, burst: 1 }, 3, () => 0);
    for (const k of ['a', 'b', 'c', 'd']) b.take(k);
    expect(b.size).toBe(3);
    expect(b.take('a')).toBe(0); // 'a' was evicted: a fresh bucket
    expect(b.take('d')).toBeGreaterThan(0);
    const full = new TokenBuckets({ perSecond: 1, burst: 5 }, 3, () => 0);
    full.retryAfter('z');
    expect(full.size).toBe(0);
  });
});

describe('parseRateSpec', () => {
  it('reads N/DURATION[,burst=B] and off', async () => {
    const { parseRateSpec } = await import('./rate-spec.ts');
    expect(parseRateSpec('20/1m', 'x')).toEqual({ perSecond: 20 / 60, burst: 20 });
    expect(parseRateSpec('10/s,burst=50', 'x')).toEqual({ perSecond: 10, burst: 50 });
    expect(parseRateSpec('off', 'x')).toBeNull();
    for (const bad of ['', '20', '0/1m', '20/never', '20/1m,burst=0', 'x/1m']) expect(() => parseRateSpec(bad, '--limit-enroll')).toThrow(/--limit-enroll must be/);
  });
});

import { describe, expect, it } from 'vitest';
import { Batcher } from './batch.ts';

describe('Batcher', () => {
  it('answers concurrent loads with one read per batch, each with its own value (or the missing one)', async () => {
    const reads: string[][] = [];
    const b = new Batcher<string | null>(async (keys) => {
      reads.push(keys);
      return new Map(keys.filter((k) => k !== 'nobody').map((k) => [k, k.toUpperCase()]));
    }, null, 3);
    const got = await Promise.all(['a', 'b', 'a', 'nobody', 'c', 'd'].map((k) => b.load(k)));
    expect(got).toEqual(['A', 'B', 'A', null, 'C', 'D']);
    // 5 distinct keys, at most 3 a statement.
    expect(reads.map((r) => r.length)).toEqual([3, 2]);
  });

  it('a failed read fails the loads of its batch only', async () => {
    let n = 0;
    const b = new Batcher<number>(async (keys) => {
      n += 1;
      if (n === 1) throw new Error('down');
      return new Map(keys.map((k) => [k, 1]));
    }, 0);
    await expect(b.load('x')).rejects.toThrow('down');
    expect(await b.load('x')).toBe(1);
  });
});

import { describe, expect, it } from 'vitest';
import { repairOffset } from './repair-curve.ts';
import type { RepairSpec } from './scenario.ts';

const H = 3_600_000;
const D = 24 * H;

describe('repairOffset', () => {
  it('uniform: u times over, as before curves existed', () => {
    const uniform: RepairSpec = { after: 3 * H, over: 10 * D, curve: null };
    expect(repairOffset(uniform, 0)).toBe(0);
    expect(repairOffset(uniform, 0.25)).toBe(0.25 * 10 * D);
  });

  // From the first impairment: nothing until 3h, 50% by 1d, 90% by 3d, 99% by 10d.
  const curve: RepairSpec = {
    after: 3 * H,
    over: 10 * D - 3 * H,
    curve: [
      { by: 1 * D, share: 0.5 },
      { by: 3 * D, share: 0.9 },
      { by: 10 * D, share: 0.99 },
    ],
  };

  it.each([
    [0, 0],
    [0.25, 13.5 * H - 3 * H], // halfway from 3h to 1d
    [0.5, 1 * D - 3 * H],
    [0.7, 2 * D - 3 * H],
    [0.9, 3 * D - 3 * H],
    [0.945, 6.5 * D - 3 * H],
  ])('u = %s is repaired %s ms after repairs start (piecewise linear between the points)', (u, offset) => {
    expect(repairOffset(curve, u)).toBeCloseTo(offset, 3);
  });

  it('a host past the last share is not repaired within the run', () => {
    expect(repairOffset(curve, 0.99)).toBeNull();
    expect(repairOffset(curve, 0.999)).toBeNull();
  });

  it('draws the published shares: the share repaired by each point matches it', () => {
    const n = 100_000;
    const by = [0, 0, 0];
    for (let i = 0; i < n; i++) {
      const o = repairOffset(curve, (i + 0.5) / n);
      if (o === null) continue;
      curve.curve!.forEach((p, k) => {
        if (o + curve.after <= p.by) by[k]!++;
      });
    }
    expect(by.map((x) => x / n)).toEqual([0.5, 0.9, 0.99]);
  });
});

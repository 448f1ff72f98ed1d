// gcp-2025: after the kill switch, restarting tasks stampede their region's database. Without
// backoff the largest region recovers long after the small ones; jittered backoff closes the gap.
import { describe, expect, it } from 'vitest';
import { simulate } from '../src/sim/simulate.ts';
import type { RegionResult } from '../src/sim/simulate.ts';
import { builtin, withBackoff } from './sim-helpers.ts';

function recovery(regions: readonly RegionResult[]) {
  const minutes = (r: RegionResult) => Date.parse(r.recoveredAt!) / 60_000;
  const largest = [...regions].sort((a, b) => b.hosts - a.hosts)[0]!;
  const others = regions.filter((r) => r !== largest);
  return { gap: minutes(largest) - Math.max(...others.map(minutes)), largest };
}

describe('gcp-2025 restart storm', () => {
  const { scenario, plan } = builtin('gcp-2025');

  it('without backoff the largest region recovers markedly later (about 2h40 after the push)', () => {
    const u = simulate(withBackoff(scenario, 'none'), plan, { hosts: 10_000, seed: 1 }).runs.uncontrolled;
    const { gap, largest } = recovery(u.regions);
    expect(gap).toBeGreaterThan(60);
    const sincePush = (Date.parse(largest.recoveredAt!) - Date.parse(u.firstImpairedAt!)) / 60_000;
    expect(sincePush).toBeGreaterThan(120);
    expect(sincePush).toBeLessThan(200);
  });

  it('with jittered exponential backoff the gap closes', () => {
    const u = simulate(withBackoff(scenario, 'jittered'), plan, { hosts: 10_000, seed: 1 }).runs.uncontrolled;
    const { gap } = recovery(u.regions);
    expect(gap).toBeLessThan(15);
  });

  it('controlled, the config reaches only the canary before the checks stop it', () => {
    const c = simulate(scenario, plan, { hosts: 10_000, seed: 1 }).runs.controlled;
    expect(c.haltedAt).not.toBeNull();
    expect(c.peakImpaired).toBeLessThanOrEqual(c.rollout!.waves[0]!.hosts);
    expect(c.timeline.at(-1)!.impairedPct).toBe(0);
  });
});

// The cloudflare-2025 scenario against the timeline of Cloudflare's blog post "Cloudflare outage on
// November 18, 2025": the feature file, regenerated every five minutes while a ClickHouse
// permissions change rolled out from 11:05 UTC, made the network flap between failing (HTTP 5xx)
// and recovering from ~11:20, until every file was bad; generation stopped at 14:24, a known-good
// file at 14:30 brought core traffic back, the services left in a bad state were restarted and
// everything was restored by 17:06. Through a plan whose
// canary bakes across several versions, the first bad one is caught at the canary.
import { describe, expect, it } from 'vitest';
import { simulate } from '../src/sim/simulate.ts';
import type { TimelinePoint } from '../src/sim/simulate.ts';
import { builtin } from './sim-helpers.ts';

const at = (hhmm: string) => Date.parse(`2025-11-18T${hhmm}:00Z`);

/** Separate spells of failure (impaired from none) between two times. */
function failingSpells(timeline: readonly TimelinePoint[], from: string, to: string): number {
  let spells = 0;
  let failing = false;
  for (const p of timeline) {
    const t = Date.parse(p.t);
    if (t < at(from) || t > at(to)) continue;
    if (p.impairedPct > 0 && !failing) spells++;
    failing = p.impairedPct > 0;
  }
  return spells;
}

describe('cloudflare-2025 against the published timeline', () => {
  const { scenario, plan } = builtin('cloudflare-2025');
  const r = simulate(scenario, plan, { hosts: 4000, seed: 1 });
  const u = r.runs.uncontrolled;
  const point = (hhmm: string) => u.timeline.find((p) => Date.parse(p.t) === at(hhmm))!;

  it('nothing fails before the permissions change; the first bad file breaks the proxies at ~11:20', () => {
    expect(Date.parse(u.firstImpairedAt!)).toBeGreaterThanOrEqual(at('11:10'));
    expect(Date.parse(u.firstImpairedAt!)).toBeLessThan(at('11:30'));
    expect(u.timeline.filter((p) => Date.parse(p.t) < at('11:10')).every((p) => p.impairedPct === 0)).toBe(true);
  });

  it('flaps between failing and recovering every few five-minute runs, then stays failing', () => {
    expect(failingSpells(u.timeline, '11:10', '13:00')).toBeGreaterThanOrEqual(3);
    // Between two spells the network recovers fully (a good file everywhere).
    expect(u.timeline.some((p) => Date.parse(p.t) > Date.parse(u.firstImpairedAt!) && Date.parse(p.t) < at('13:00') && p.impairedPct === 0)).toBe(true);
    // Every node updated by 13:00: every file bad, the network failing until the known-good file.
    for (const hhmm of ['13:00', '13:37', '14:24', '14:30']) expect(point(hhmm).impairedPct, hhmm).toBe(100);
    expect(failingSpells(u.timeline, '13:00', '14:30')).toBe(1);
  });

  it('a failing proxy errors on a share of its requests: capacity lost is that share, no host is down or replaced', () => {
    expect(u.peakImpairedPct).toBe(100);
    expect(u.peakCapacityLostPct).toBe(75);
    expect(point('14:00').capacityLostPct).toBe(75);
    expect(u.terminated).toBe(0);
    for (const g of u.regions) expect(g.peakCapacityLostPct, g.name).toBe(75);
  });

  it('recovers from 14:30, when the known-good file is pushed: core traffic largely back by ~14:40', () => {
    expect(point('14:31').impairedPct).toBeGreaterThan(50);
    expect(point('14:40').capacityLostPct).toBeLessThan(10);
    expect(point('14:40').capacityLostPct).toBeGreaterThan(0);
    // Nothing breaks again: no file is generated after 14:24, and the last bad one came before.
    expect(Date.parse(u.lastImpairedAt!)).toBeLessThan(at('14:24'));
  });

  it('the services left in a bad state are restarted one by one: all restored by 17:06, not before ~17:00', () => {
    expect(point('16:00').impairedPct).toBeGreaterThan(0);
    expect(point('16:00').impairedPct).toBeLessThan(point('15:00').impairedPct);
    for (const g of u.regions) {
      expect(Date.parse(g.recoveredAt!), g.name).toBeGreaterThan(at('16:45'));
      expect(Date.parse(g.recoveredAt!), g.name).toBeLessThanOrEqual(at('17:06'));
    }
    expect(u.timeline.filter((p) => Date.parse(p.t) >= at('17:06')).every((p) => p.impairedPct === 0)).toBe(true);
  });

  it('through waves, a bad version reaches the canary during its bake, its check fails and the rollout rolls back at once', () => {
    const c = r.runs.controlled;
    expect(c.rollout?.state).toBe('rolled_back');
    expect(c.rollout?.reason).toMatch(/in wave canary .*check failed: http/);
    expect(Date.parse(c.haltedAt!) - Date.parse(c.firstImpairedAt!)).toBeLessThan(60_000);
    expect(Date.parse(c.haltedAt!)).toBeLessThan(at('11:30'));
    expect(c.hostsChanged).toBeLessThanOrEqual(7); // one proxy per data centre
    expect(c.peakCapacityLostPct).toBeLessThan(0.2);
    // Rolled back, the canary no longer follows the generator: nothing fails after.
    expect(c.timeline.filter((p) => Date.parse(p.t) > Date.parse(c.haltedAt!) + 5 * 60_000).every((p) => p.impairedPct === 0)).toBe(true);
  });
});

// The crowdstrike-2024 scenario against CrowdStrike's published timeline of 19 July 2024: the
// content went out at 04:09 UTC and crash-looped the Windows hosts that loaded it; the revert at
// 05:27 UTC stopped the spread and healed nothing; hands-on recovery was fast first (Sevco Security:
// 89% of affected systems by Friday night, 93% by Monday evening) with a long tail (CrowdStrike: over
// 97% of sensors online on 25 July, ~99% on 29 July 20:00 EDT). Through a plan, the canary's hosts
// go silent and the rollout stops at once.
import { describe, expect, it } from 'vitest';
import { simulate } from '../src/sim/simulate.ts';
import { builtin } from './sim-helpers.ts';

const at = (iso: string) => Date.parse(iso);

describe('crowdstrike-2024 against the published timeline', () => {
  const { scenario, plan } = builtin('crowdstrike-2024');
  const r = simulate(scenario, plan, { hosts: 4000, seed: 1 });
  const u = r.runs.uncontrolled;
  const impairedAt = (iso: string) => u.timeline.find((p) => p.t === new Date(at(iso)).toISOString())!.impairedPct;

  it('crashes hosts from 04:09, none after the 05:27 revert, and none is terminated (nothing could replace a host that boots)', () => {
    expect(Date.parse(u.firstImpairedAt!)).toBeGreaterThanOrEqual(at('2024-07-19T04:09:00Z'));
    expect(Date.parse(u.firstImpairedAt!)).toBeLessThan(at('2024-07-19T04:10:00Z'));
    expect(Date.parse(u.lastImpairedAt!)).toBeLessThan(at('2024-07-19T05:27:00Z'));
    // The revert spared the hosts that had not loaded it yet: a share, not the whole fleet.
    expect(u.hostsChanged).toBeGreaterThan(0.2 * r.hosts);
    expect(u.hostsChanged).toBeLessThan(0.7 * r.hosts);
    expect(u.terminated).toBe(0);
  });

  it('the revert heals nothing: the hosts that crashed are still down after it, until hands-on repair', () => {
    expect(impairedAt('2024-07-19T05:30:00Z')).toBeCloseTo(u.peakImpairedPct, 1); // the timeline rounds to 2 decimals
    expect(impairedAt('2024-07-19T07:00:00Z')).toBeCloseTo(u.peakImpairedPct, 1); // repair starts ~3 h in
  });

  it('recovers fast first, then a long tail, as published', () => {
    const crashed = u.peakImpairedPct;
    // Sevco Security, across its customers: 89% of affected systems fixed by Friday night, 93% by Monday evening.
    expect(impairedAt('2024-07-20T05:00:00Z')).toBeLessThan(0.15 * crashed);
    expect(impairedAt('2024-07-23T00:00:00Z')).toBeLessThan(0.09 * crashed);
    // CrowdStrike: over 97% of Windows sensors online as of 25 July; ~99% by 29 July 20:00 EDT.
    expect(impairedAt('2024-07-26T00:00:00Z')).toBeLessThanOrEqual(3);
    expect(impairedAt('2024-07-30T00:00:00Z')).toBeLessThanOrEqual(1);
    // The tail: hosts still down a week on, and past the last published figure.
    expect(impairedAt('2024-07-26T00:00:00Z')).toBeGreaterThan(0);
    expect(impairedAt('2024-07-31T00:00:00Z')).toBeGreaterThan(0);
  });

  it('through waves, the canary goes silent and the rollout stops within minutes, with a handful of hosts down', () => {
    const c = r.runs.controlled;
    expect(c.rollout?.state).toBe('rolled_back');
    expect(c.rollout?.reason).toMatch(/silent/);
    expect(Date.parse(c.haltedAt!)).toBeLessThan(at('2024-07-19T04:15:00Z'));
    expect(c.hostsChanged).toBeLessThanOrEqual(8);
    expect(c.terminated).toBe(0);
  });
});

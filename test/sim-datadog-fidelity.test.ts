// datadog-2023 at 20,000 hosts: the outcomes the incident report describes must come out of the
// modelled timers, mirrors, breakage and auto-healing, and the plan must contain them.
import { beforeAll, describe, expect, it } from 'vitest';
import { simulate } from '../src/sim/simulate.ts';
import type { SimResult } from '../src/sim/simulate.ts';
import { at, builtin, region } from './sim-helpers.ts';

let result: SimResult;
const loaded = builtin('datadog-2023');

beforeAll(() => {
  result = simulate(loaded.scenario, loaded.plan, { hosts: 20_000, seed: 1 });
});

describe('datadog-2023 uncontrolled', () => {
  it('impairment starts at 06:00 and every host that had the package is impaired by about 07:00', () => {
    const u = result.runs.uncontrolled;
    expect(u.firstImpairedAt! >= '2023-03-08T06:00:00Z').toBe(true);
    expect(u.firstImpairedAt! < '2023-03-08T06:05:00Z').toBe(true);
    expect(u.lastImpairedAt! < '2023-03-08T07:02:00Z').toBe(true);
    expect(u.impairedHosts).toBe(u.hostsChanged);
    // Most 22.04 hosts had downloaded it; 20.04 hosts never get it.
    expect(u.hostsChanged).toBeGreaterThan(20_000 * 0.8);
    expect(u.hostsChanged).toBeLessThan(20_000 * 0.92);
    expect(at(u.timeline, '2023-03-08T05:59:00.000Z').impairedPct).toBe(0);
  });

  it('terminates more than 8% of each AWS region per 10 minutes from 06:10 to 07:00, and 50-70% by 08:00', () => {
    for (const name of ['us-east-1', 'us-west-2']) {
      const r = region(result.runs.uncontrolled.regions, name);
      const windows = ['06:10', '06:20', '06:30', '06:40', '06:50', '07:00'].map((hm) => at(r.timeline, `2023-03-08T${hm}:00.000Z`).terminatedPct);
      for (let i = 1; i < windows.length; i++) expect(windows[i]! - windows[i - 1]!, `${name} window ${i}`).toBeGreaterThan(8);
      const by8 = at(r.timeline, '2023-03-08T08:00:00.000Z').terminatedPct;
      expect(by8).toBeGreaterThanOrEqual(50);
      expect(by8).toBeLessThanOrEqual(70);
    }
  });

  it('impairs Google Cloud and Azure hosts without terminating any', () => {
    for (const r of result.runs.uncontrolled.regions.filter((x) => x.provider !== 'aws')) {
      expect(r.peakImpairedPct, r.name).toBeGreaterThan(75);
      expect(r.terminatedPct, r.name).toBe(0);
    }
    expect(result.runs.uncontrolled.dataBearingLostPct).toBeGreaterThan(20);
  });
});

describe('datadog-2023 controlled (the scenario plan on the real engine)', () => {
  it('never impairs more hosts than the canary wave holds', () => {
    const c = result.runs.controlled;
    const canary = c.rollout!.waves[0]!;
    expect(canary.name).toBe('canary');
    expect(c.peakImpaired).toBeGreaterThan(0);
    expect(c.peakImpaired).toBeLessThanOrEqual(canary.hosts);
    expect(c.hostsChanged).toBeLessThanOrEqual(canary.hosts);
    expect(c.rollout!.waves.slice(1).every((w) => w.startedAt === null || w.state === 'skipped')).toBe(true);
  });

  it('halts within one check interval of the first failure', () => {
    const c = result.runs.controlled;
    expect(c.haltedAt).not.toBeNull();
    expect(Date.parse(c.haltedAt!) - Date.parse(c.firstImpairedAt!)).toBeLessThanOrEqual(loaded.plan.checkInterval);
    expect(c.rollout!.state).toBe('rolled_back');
  });

  it('terminates no host and loses no data-bearing host; every impaired host recovers', () => {
    const c = result.runs.controlled;
    expect(c.terminated).toBe(0);
    expect(c.dataBearingLost).toBe(0);
    expect(c.timeline.at(-1)!.impairedPct).toBe(0);
  });
});

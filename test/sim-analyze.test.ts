// plan analysis: worst case before a check can stop a bad change, time to finish, and warnings,
// on the example plans and on small hand-built fleets where every figure can be checked by hand.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parsePlan } from '../src/core/plan/parse-plan.ts';
import type { HostInfo } from '../src/core/types.ts';
import { analyzePlan } from '../src/sim/analyze-plan.ts';
import { fleetHostInfos, generateFleet } from '../src/sim/fleet.ts';
import { builtin } from './sim-helpers.ts';

const EXAMPLES = join(import.meta.dirname, '..', 'examples');

function hosts(spec: [region: string, provider: string, os: string, env: string, count: number][]): HostInfo[] {
  const out: HostInfo[] = [];
  for (const [region, provider, os, env, count] of spec) {
    for (let i = 0; i < count; i++) out.push({ name: `${region}-${env}-${String(i).padStart(3, '0')}`, labels: { region, provider, os, env, zone: `${region}a` } });
  }
  return out;
}

const FLEET = hosts([
  ['r1', 'aws', 'u22', 'staging', 10],
  ['r1', 'aws', 'u22', 'prod', 90],
  ['r2', 'gcp', 'u22', 'prod', 100],
  ['r3', 'gcp', 'u20', 'prod', 50],
]);

const plan = (body: string) => parsePlan(`name: t\nchange: { command: { apply: [x], rollback: [y] } }\n${body}`, 't.yaml');

describe('analyzePlan', () => {
  it('worst case with checks: the first wave up to its allowed failures plus what runs in parallel', () => {
    const a = analyzePlan(
      plan(`waves:
  - { name: canary, match: { env: staging }, parallel: 2, bake: 10m }
  - { name: prod, match: { env: prod }, each: region, bake: 1h }
checks: [{ ipRulesPreserved: {} }]
budget: { failedPerWave: 1, failedTotal: 5 }`),
      FLEET,
      { hostTime: 60_000 },
    );
    expect(a.worstCase.detection).toBe('checks');
    expect(a.worstCase.hosts).toBe(3); // 1 allowed failure + 2 in flight
    expect(a.worstCase.fleetPct).toBe(1.2);
    expect(a.worstCase.regions).toEqual([{ name: 'r1', provider: 'aws', hosts: 3, regionHosts: 100, pct: 3 }]);
    expect(a.worstCase.providersTouched).toEqual(['aws']);
    // canary: 5 batches of 2 + 10m; regions 90, 100, 50 hosts all at once: 1m + 1h each.
    expect(a.completion.ms).toBe(5 * 60_000 + 600_000 + 3 * (60_000 + 3_600_000));
    expect(a.warnings).toContain('the first wave ("canary") misses the stratum os=u22 x provider=gcp (100 targeted hosts)');
    expect(a.warnings).toContain('the first wave ("canary") misses the stratum os=u20 x provider=gcp (50 targeted hosts)');
    expect(a.warnings.some((w) => w.includes('no bake'))).toBe(false);
  });

  it('without checks only silence can halt: the worst case is every host in the waves', () => {
    const a = analyzePlan(plan(`waves:\n  - { name: all, bake: 0s }`), FLEET);
    expect(a.worstCase.detection).toBe('silence-only');
    expect(a.worstCase.hosts).toBe(250);
    expect(a.worstCase.regionsTouched).toBe(3);
    expect(a.warnings).toContain('the plan has no checks: only silence (a host that stops reporting) can halt it');
    expect(a.warnings).toContain('wave "all" spans every region (3) at once');
  });

  it('warns about a wave with no bake, a budget larger than its wave, and hosts in no wave', () => {
    const a = analyzePlan(
      plan(`waves:
  - { name: canary, match: { env: staging }, size: 2, bake: 0s }
  - { name: r1, match: { region: r1, env: prod }, bake: 1h }
checks: [{ tcp: { host: 10.0.0.1, port: 443 } }]
budget: { failedPerWave: 5, failedTotal: 10 }`),
      FLEET,
    );
    expect(a.warnings).toContain('wave "canary" has no bake: the next wave starts as soon as its hosts pass their first check');
    expect(a.warnings).toContain('wave "canary" may have 5 failed hosts but holds only 2: it can fail entirely without halting');
    expect(a.warnings).toContain('158 targeted hosts are in no wave and would never get the change');
    expect(a.warnings.some((w) => w.startsWith('no ipRulesPreserved'))).toBe(true);
    // The canary can fail entirely (2 <= 5), so exposure runs on into wave r1: all 90 at once.
    expect(a.worstCase.hosts).toBe(2 + 90);
  });

  it.each(readdirSync(EXAMPLES).filter((f) => f.endsWith('.yaml')))('analyses the example %s over the datadog-2023 fleet', (file) => {
    const p = parsePlan(readFileSync(join(EXAMPLES, file), 'utf8'), file);
    const { scenario } = builtin('datadog-2023');
    const fleet = fleetHostInfos(generateFleet(scenario, 2000, 1));
    const a = analyzePlan(p, fleet);
    expect(a.fleet.hosts).toBe(2000);
    expect(a.worstCase.hosts).toBeGreaterThan(0);
    expect(a.worstCase.hosts).toBeLessThanOrEqual(a.fleet.targeted);
    expect(a.waves.reduce((s, w) => s + w.hosts, 0)).toBeLessThanOrEqual(a.fleet.targeted);
    expect(a.completion.ms).toBeGreaterThan(0);
  });

  it('the datadog-2023 plan exposes only its canary, one host per provider', () => {
    const { scenario, plan: p } = builtin('datadog-2023');
    const a = analyzePlan(p, fleetHostInfos(generateFleet(scenario, 20_000, 1)));
    expect(a.worstCase.hosts).toBe(3);
    expect(a.worstCase.providersTouched).toEqual(['aws', 'azure', 'gcp']);
    expect(a.warnings.some((w) => w.includes('in no wave'))).toBe(false);
  });
});

describe('analyzePlan: warnings from issue 13', () => {
  const base = `checks: [{ ipRulesPreserved: {} }]
budget: { failedPerWave: 0, failedTotal: 0, silentAfter: 30s }
confirmWindow: 60s`;
  const warningsOf = (body: string, options: Parameters<typeof analyzePlan>[2] = {}) => analyzePlan(plan(body), FLEET, options).warnings;

  it('a canary over 5% of a stratum', () => {
    // 3 of the 100 os=u22 x provider=aws hosts is fine; 20 of them is not.
    const small = warningsOf(`waves:\n  - { name: canary, match: { env: staging }, size: 3, bake: 10m }\n  - { name: rest, bake: 1h }\n${base}`);
    expect(small.filter((w) => w.includes('a canary should be'))).toEqual([]);
    const big = warningsOf(`waves:\n  - { name: canary, match: { provider: aws }, size: 20, bake: 10m }\n  - { name: rest, bake: 1h }\n${base}`);
    expect(big).toContain('the first wave ("canary") takes 20% of the stratum os=u22 x provider=aws (20 of 100 hosts): a canary should be at most 5% of each stratum');
  });

  it('confirmWindow 0s', () => {
    const w = warningsOf(`waves:\n  - { name: all, bake: 1h }\n${base.replace('confirmWindow: 60s', 'confirmWindow: 0s')}`);
    expect(w).toContain('confirmWindow is 0s: commit-confirmed is off, so a host the change cuts off the network cannot roll itself back, and the server cannot reach it to do so');
  });

  it('onFailure: halt without a reason on its line', () => {
    const body = `waves:\n  - { name: all, bake: 1h }\n${base}\nonFailure: halt`;
    const halt = (w: string[]) => w.filter((x) => x.startsWith('onFailure: halt'));
    expect(halt(warningsOf(body, { source: body }))).toHaveLength(1);
    const withReason = `${body}   # keep the hosts for forensics`;
    expect(halt(warningsOf(withReason, { source: withReason }))).toEqual([]);
    expect(halt(warningsOf(`waves:\n  - { name: all, bake: 1h }\n${base}`, { source: '' }))).toEqual([]);
  });

  it('a silentAfter (or confirm window) as long as a provider\'s auto-healing delay', () => {
    const body = `waves:\n  - { name: all, bake: 1h }\n${base.replace('silentAfter: 30s', 'silentAfter: 10m')}`;
    const w = warningsOf(body, { autoHealing: [{ provider: 'aws', after: 300_000 }] });
    expect(w).toContain("silentAfter (10m) is not shorter than aws's auto-healing delay (5m): a host the change cuts off is replaced (local data lost) before the rollout counts it silent");
    expect(warningsOf(`waves:\n  - { name: all, bake: 1h }\n${base}`, { autoHealing: [{ provider: 'aws', after: 300_000 }] }).filter((x) => x.includes('auto-healing'))).toEqual([]);
  });

  it('none of them on the datadog plan over its own fleet', () => {
    const { scenario, plan: p } = builtin('datadog-2023');
    const fleet = fleetHostInfos(generateFleet(scenario, 20_000, 1));
    const source = readFileSync(join(import.meta.dirname, '..', 'scenarios', 'plans', 'datadog-2023.yaml'), 'utf8');
    const w = analyzePlan(p, fleet, { source, autoHealing: [{ provider: 'aws', after: 300_000 }] }).warnings;
    expect(w).toEqual(['wave "staging" spans every region (5) at once']);
  });
});

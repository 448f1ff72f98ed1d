// Partial degradation: the requestErrors effect makes a broken host fail a share of its requests
// (breaks.errorShare). Such a host is impaired (the impaired-host figures count it, as before), and
// the capacity-lost figures count it for that share only. It stays reachable: no status check fails,
// so no auto-healer replaces it, and only a check that sends it requests (http, command) sees it.
import { describe, expect, it } from 'vitest';
import { parsePlan } from '../src/core/plan/parse-plan.ts';
import { parseScenario } from '../src/sim/parse-scenario.ts';
import { simulate } from '../src/sim/simulate.ts';
import { renderSimText } from '../src/sim/format-text.ts';
import { at } from './sim-helpers.ts';

const scenario = (effects: string, errorShare = '') =>
  parseScenario(
    `name: errors
start: 2025-11-18T10:00:00Z
duration: 6h
fleet:
  hosts: 400
  labels:
    proxy: { fl2: 75%, fl: 25% }
  providers:
    - name: edge
      regions:
        - { name: lhr, share: 50%, zones: [a] }
        - { name: iad, share: 50%, zones: [a] }
change:
  name: feature file
  breaks: { match: { proxy: fl2 }, effects: [${effects}]${errorShare} }
spread:
  replicate: { at: 2025-11-18T11:00:00Z, within: 10m }
remediation:
  edge: { replace: { failedFor: 5m } }
plan:
  file: plans/errors.yaml
  startAt: 2025-11-18T10:30:00Z
`,
    'errors.yaml',
  );

const plan = (check: string) =>
  parsePlan(
    `name: errors-plan
change:
  file: { path: /etc/bot/features.json, content: "{}", mode: "0644" }
waves:
  - { name: canary, size: 4, bake: 30m }
  - { name: rest, bake: 30m }
checks:
  - ${check}
budget: { failedPerWave: 0, failedTotal: 0, silentAfter: 2m }
onFailure: rollback
`,
    'errors-plan.yaml',
  );

const HTTP = 'http: { url: "http://127.0.0.1/health" }';
const TCP = 'tcp: { host: 127.0.0.1, port: 443 }';

describe('requestErrors: a broken host fails a share of its requests', () => {
  const r = simulate(scenario('requestErrors', ', errorShare: 40%'), plan(HTTP), { seed: 1 });
  const u = r.runs.uncontrolled;

  it('counts every broken host as impaired, and 40% of each as capacity lost', () => {
    expect(u.hostsChanged).toBe(400);
    expect(u.impairedHosts).toBeGreaterThan(250); // the fl2 hosts, ~75%
    expect(u.impairedHosts).toBeLessThan(350);
    expect(u.peakImpaired).toBe(u.impairedHosts);
    expect(u.peakCapacityLostPct).toBeCloseTo(u.peakImpairedPct * 0.4, 2);
    const p = at(u.timeline, '2025-11-18T12:00:00.000Z');
    expect(p.capacityLostPct).toBeCloseTo(p.impairedPct * 0.4, 1);
    for (const g of u.regions) {
      expect(g.peakCapacityLostPct).toBeCloseTo(g.peakImpairedPct * 0.4, 2);
      expect(g.peakCapacityLostPct).toBeGreaterThan(0);
    }
  });

  it('the host stays reachable: its status checks pass, so auto-healing replaces none', () => {
    expect(u.terminated).toBe(0);
  });

  it('an http check sees the errors: the canary fails and the rollout rolls back', () => {
    const c = r.runs.controlled;
    expect(c.rollout!.state).toBe('rolled_back');
    expect(c.rollout!.reason).toMatch(/check failed: http .* failed/);
    expect(c.hostsChanged).toBeLessThanOrEqual(4);
  });

  it('a tcp check does not: the rollout completes with hosts failing requests', () => {
    const c = simulate(scenario('requestErrors', ', errorShare: 40%'), plan(TCP), { seed: 1 }).runs.controlled;
    expect(c.rollout!.state).toBe('completed');
    expect(c.peakCapacityLostPct).toBeGreaterThan(25);
  });

  it('without errorShare every request fails: capacity lost equals impaired', () => {
    const all = simulate(scenario('requestErrors'), plan(HTTP), { seed: 1 }).runs.uncontrolled;
    expect(all.peakCapacityLostPct).toBe(all.peakImpairedPct);
  });

  it('with an effect that takes the whole service out too, the host loses all its capacity', () => {
    const both = simulate(scenario('requestErrors, podEgress', ', errorShare: 40%'), plan(HTTP), { seed: 1 }).runs.uncontrolled;
    expect(both.peakCapacityLostPct).toBe(both.peakImpairedPct);
  });

  it('the text output shows peak capacity lost, per run and per region', () => {
    const text = renderSimText(r);
    expect(text).toMatch(new RegExp(`peak capacity lost\\s+${u.peakCapacityLostPct}%`));
    expect(text).toContain('peak capacity lost uncontrolled/controlled');
    expect(text).toContain(`${u.regions[0]!.peakCapacityLostPct}% / `);
  });
});

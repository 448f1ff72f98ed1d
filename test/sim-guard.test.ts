// The remediation guard in the simulator: datadog-2023 replays the morning a third time with the
// guard (src/core/remediation/guard.ts, the same decision the server makes) in front of AWS Auto
// Scaling. The change still bypasses Sluice; the guard caps the terminations, so the data survives.
import { describe, expect, it } from 'vitest';
import { DEFAULT_REMEDIATION_POLICY } from '../src/core/remediation/guard.ts';
import { parseScenario } from '../src/sim/parse-scenario.ts';
import { renderReportHtml } from '../src/sim/report-html.ts';
import { simulate } from '../src/sim/simulate.ts';
import { builtin, region } from './sim-helpers.ts';

describe('the remediation guard in the simulator', () => {
  const { scenario, plan } = builtin('datadog-2023');
  const r = simulate(scenario, plan, { hosts: 20_000, seed: 1 });
  const u = r.runs.uncontrolled;
  const g = r.runs.guarded!;

  it('datadog-2023 declares the guard for AWS with its default budget', () => {
    expect(scenario.guard).toEqual({ providers: ['aws'], policy: DEFAULT_REMEDIATION_POLICY, retryEvery: 300_000 });
  });

  it('leaves the uncontrolled run as it happened (about 60% of each AWS region terminated)', () => {
    expect(region(u.regions, 'us-east-1').terminatedPct).toBeGreaterThan(55);
    expect(u.dataBearingLostPct).toBeGreaterThan(25);
  });

  it('caps AWS terminations at the guard\'s region share (10%), and data-bearing losses near its 2%', () => {
    for (const name of ['us-east-1', 'us-west-2']) {
      const t = region(g.regions, name).terminatedPct;
      expect(t).toBeGreaterThan(0); // the first failures, alone, are allowed
      expect(t).toBeLessThanOrEqual(DEFAULT_REMEDIATION_POLICY.scopes[1]!.maxShare * 100);
    }
    expect(g.dataBearingLostPct).toBeLessThan(2);
    expect(g.hostsChanged).toBe(u.hostsChanged); // the same spread: only auto-healing differs
    expect(g.guard!.deniedHosts).toBeGreaterThan(5000);
    expect(g.guard!.lastDenial).toMatch(/^mass failure in /);
    // The kept hosts stay impaired until the operators reboot them (disks intact): a higher peak.
    expect(g.peakImpairedPct).toBeGreaterThan(u.peakImpairedPct);
  });

  it('the report shows both, with the headline comparison first', () => {
    const html = renderReportHtml(r);
    expect(html.indexOf('class="headline"')).toBeLessThan(html.indexOf('<section>'));
    expect(html).toContain('uncontrolled + guard');
    expect(html).toContain('with the remediation guard in front of auto-healing');
    expect(html).toContain(scenario.description);
  });

  it('a scenario without a guard has no guarded run; scopes and providers can be set', () => {
    const { scenario: kops } = builtin('kops-2025');
    expect(simulate(kops, builtin('kops-2025').plan, { hosts: 500, seed: 1 }).runs.guarded).toBeUndefined();
    const src = `name: g
start: 2023-03-08T05:00:00Z
duration: 6h
fleet:
  hosts: 1000
  providers:
    - name: aws
      regions:
        - { name: r1, share: 100%, zones: [a, b] }
change:
  name: x
  breaks: { effects: [hostConnectivity] }
spread:
  replicate: { at: 2023-03-08T06:00:00Z, within: 30m }
remediation:
  aws: { replace: { failedFor: 5m } }
guard:
  providers: [aws]
  scopes:
    - { label: region, maxShare: 30% }
plan:
  file: plans/datadog-2023.yaml
`;
    const s = parseScenario(src, 'g.yaml');
    const res = simulate(s, plan, { seed: 1 }).runs.guarded!;
    expect(res.terminatedPct).toBeGreaterThan(10); // more than the default 10% of a region would allow
    expect(res.terminatedPct).toBeLessThanOrEqual(30);
  });
});

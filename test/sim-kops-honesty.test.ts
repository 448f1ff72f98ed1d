// kops-2025: pods lose their network but hosts stay reachable. A plan whose only check pings the
// host cannot see it and rolls on; the one checking ipRulesPreserved halts at the canary.
import { describe, expect, it } from 'vitest';
import { simulate } from '../src/sim/simulate.ts';
import { builtin } from './sim-helpers.ts';

describe('kops-2025', () => {
  it('a tcp-only plan does not halt, and the breakage reaches the fleet', () => {
    const { scenario, plan } = builtin('kops-2025', 'kops-2025-tcp-only');
    const c = simulate(scenario, plan, { hosts: 3000, seed: 1 }).runs.controlled;
    expect(c.haltedAt).toBeNull();
    expect(c.rollout!.state).toBe('completed');
    expect(c.peakImpairedPct).toBeGreaterThan(50);
    // Hosts stay reachable: status checks stay green, nothing is replaced.
    expect(c.terminated).toBe(0);
  });

  it('the plan with ipRulesPreserved halts at the canary', () => {
    const { scenario, plan } = builtin('kops-2025');
    const r = simulate(scenario, plan, { hosts: 3000, seed: 1 });
    const c = r.runs.controlled;
    expect(c.haltedAt).not.toBeNull();
    expect(c.rollout!.reason).toContain('ipRulesPreserved');
    expect(c.peakImpaired).toBeLessThanOrEqual(c.rollout!.waves[0]!.hosts);
    // Uncontrolled, the same breakage goes everywhere and auto-healing never fires.
    expect(r.runs.uncontrolled.peakImpairedPct).toBeGreaterThan(80);
    expect(r.runs.uncontrolled.terminated).toBe(0);
  });
});

import { describe, expect, it } from 'vitest';
import { ValidationError } from '../errors.ts';
import { DEFAULT_REMEDIATION_POLICY, decideRemediation, isDataBearing, scopeLimit, scopesOf, type RemediationInput } from './guard.ts';
import { parseRemediationPolicy } from './policy.ts';

const base: RemediationInput = { host: 'h1', known: true, dataBearing: false, inRollout: null, freeze: null, override: null, counts: [] };
const zone = (size: number, affected: number, maxShare = 0.2) => ({ scope: 'zone=a', size, affected, maxShare });
const fleet = (size: number, affected: number, maxShare = 0.1) => ({ scope: 'fleet', size, affected, maxShare });

describe('the remediation guard decision', () => {
  it('a scope may have its share affected, and always one host', () => {
    expect(scopeLimit(10, 0.2)).toBe(2);
    expect(scopeLimit(3, 0.2)).toBe(1); // a host failing alone in a small zone
    expect(scopeLimit(100, 0.1)).toBe(10);
    expect(scopeLimit(30, 0.1)).toBe(3); // no float drift: 30 * 0.1 is 3, not 2.999...
    expect(scopeLimit(0, 0.1)).toBe(1);
  });

  it('allows a host failing alone', () => {
    const d = decideRemediation({ ...base, counts: [zone(10, 1), fleet(30, 1)] });
    expect(d).toMatchObject({ allow: true, scope: null });
    expect(d.reason).toBe('within budget: 1 of 30 in fleet affected (limit 3)');
  });

  it('denies in a mass failure, naming the narrowest scope over its budget', () => {
    // 3 of a 10-host zone unhealthy (30%), over 20%: the short circuit.
    const d = decideRemediation({ ...base, counts: [zone(10, 3), fleet(30, 3)] });
    expect(d).toMatchObject({ allow: false, scope: 'zone=a', affected: 3, limit: 2 });
    expect(d.reason).toMatch(/^mass failure in zone=a: 3 of 10 hosts are unhealthy or were remediated within the window, over the limit of 2 \(20%\)/);
    // The zone is fine, the fleet is not (many zones a little broken at once).
    expect(decideRemediation({ ...base, counts: [zone(10, 2), fleet(30, 4)] })).toMatchObject({ allow: false, scope: 'fleet', limit: 3 });
  });

  it('the exact limit is allowed, one more is not', () => {
    expect(decideRemediation({ ...base, counts: [zone(10, 2)] }).allow).toBe(true);
    expect(decideRemediation({ ...base, counts: [zone(10, 3)] }).allow).toBe(false);
  });

  it('denies an unknown host, a host Sluice is changing, and during a freeze; an override wins over budgets and the freeze', () => {
    expect(decideRemediation({ ...base, known: false }).reason).toMatch(/no host named h1 is enrolled/);
    const inRollout = decideRemediation({ ...base, inRollout: { id: 'r_1', action: 'apply' }, counts: [zone(10, 1)] });
    expect(inRollout).toMatchObject({ allow: false });
    expect(inRollout.reason).toMatch(/in rollout r_1 \(apply\): Sluice rolls it back itself/);
    expect(decideRemediation({ ...base, freeze: { reason: 'sales weekend' } }).reason).toMatch(/frozen \(sales weekend\)/);
    const override = { id: '7', scope: 'zone=a', by: 'alice', reason: 'AZ lost power' };
    const d = decideRemediation({ ...base, override, freeze: { reason: 'x' }, counts: [zone(10, 9)] });
    expect(d).toMatchObject({ allow: true });
    expect(d.reason).toBe('allowed by override 7 on zone=a (alice: AZ lost power)');
  });

  it('scopes follow the policy, narrowest first; a host without a label has no such scope; data-bearing shares are stricter', () => {
    const labels = { zone: 'a', region: 'eu', data: 'local' };
    expect(isDataBearing(labels, DEFAULT_REMEDIATION_POLICY)).toBe(true);
    expect(isDataBearing({ zone: 'a' }, DEFAULT_REMEDIATION_POLICY)).toBe(false);
    expect(scopesOf(labels, DEFAULT_REMEDIATION_POLICY, true)).toEqual([
      { scope: 'zone=a', labels: { zone: 'a' }, maxShare: 0.05 },
      { scope: 'region=eu', labels: { region: 'eu' }, maxShare: 0.02 },
      { scope: 'fleet', labels: null, maxShare: 0.02 },
    ]);
    expect(scopesOf({ zone: 'a' }, DEFAULT_REMEDIATION_POLICY, false).map((s) => [s.scope, s.maxShare])).toEqual([
      ['zone=a', 0.2],
      ['fleet', 0.1],
    ]);
  });
});

describe('--remediation-policy files', () => {
  it('reads shares as numbers or percentages, keeps defaults for what is left out', () => {
    const p = parseRemediationPolicy('window: 30m\ndataLabel: storage=local-ssd\nscopes:\n  - { label: zone, maxShare: 25%, dataMaxShare: 0.1 }\n  - { label: fleet, maxShare: 5% }\n', 'p.yaml');
    expect(p).toEqual({
      windowMs: 30 * 60_000,
      dataLabel: { key: 'storage', value: 'local-ssd' },
      scopes: [
        { label: 'zone', maxShare: 0.25, dataMaxShare: 0.1 },
        { label: null, maxShare: 0.05, dataMaxShare: 0.05 },
      ],
    });
    expect(parseRemediationPolicy('', 'empty.yaml')).toEqual(DEFAULT_REMEDIATION_POLICY);
  });

  it('refuses what it cannot read exactly, naming the place', () => {
    const bad: Array<[string, RegExp]> = [
      ['windw: 10m\n', /unknown key "windw"/],
      ['window: soon\n', /window must be a duration/],
      ['scopes: []\n', /list of 1 to 20 scopes/],
      ['scopes:\n  - { label: zone, maxShare: 120% }\n', /scopes\[0\]\.maxShare must be a share/],
      ['scopes:\n  - { label: zone, max: 1 }\n', /scopes\[0\]: unknown key "max"/],
      ['dataLabel: local\n', /dataLabel must be KEY=VALUE/],
      ['[1, 2]\n', /a mapping/],
      ['a: [\n', /not YAML/],
    ];
    for (const [text, why] of bad) {
      expect(() => parseRemediationPolicy(text, 'p.yaml'), text).toThrow(ValidationError);
      expect(() => parseRemediationPolicy(text, 'p.yaml'), text).toThrow(why);
    }
  });
});

import { describe, expect, it } from 'vitest';
import { describeRoute, describeRule, diffInvariants, routeAddArgv, ruleAddArgv, ruleKey } from './invariants.ts';

// Real `ip -d -j rule` output of a Cilium-style host.
const CILIUM_RULES = [
  { priority: 9, src: 'all', fwmark: '0x200', fwmask: '0xf00', table: '2004', protocol: 'unspec', family: 'inet' },
  { priority: 100, src: 'all', table: 'local', protocol: 'unspec', family: 'inet' },
  { priority: 111, src: '10.231.0.10', table: '11', protocol: 'unspec', family: 'inet' },
  { priority: 120, src: '10.9.0.0', srclen: 16, dst: '10.8.0.0', dstlen: 24, iif: 'lo', table: 'main', protocol: 'unspec', family: 'inet' },
  { priority: 32766, src: 'all', table: 'main', protocol: 'kernel', family: 'inet' },
  { priority: 32767, src: 'all', table: 'default', protocol: 'kernel', family: 'inet' },
];

describe('rules', () => {
  it('describes rules the way ip prints them', () => {
    expect(CILIUM_RULES.slice(0, 4).map(describeRule)).toEqual([
      '9: from all fwmark 0x200/0xf00 lookup 2004',
      '100: from all lookup local',
      '111: from 10.231.0.10 lookup 11',
      '120: from 10.9.0.0/16 to 10.8.0.0/24 iif lo lookup main',
    ]);
  });

  it('finds exactly the vanished rules, whatever the order', () => {
    const after = [CILIUM_RULES[5]!, CILIUM_RULES[4]!];
    const diff = diffInvariants({ takenAt: 0, rules: CILIUM_RULES, routes: [] }, { takenAt: 1, rules: after, routes: [] });
    expect(diff.vanishedRules.map((r) => r['priority'])).toEqual([9, 100, 111, 120]);
  });

  it('tells apart rules that differ only in a selector or table', () => {
    expect(ruleKey({ priority: 111, src: '10.0.0.1', table: '11' })).not.toBe(ruleKey({ priority: 111, src: '10.0.0.2', table: '11' }));
    expect(ruleKey({ priority: 111, src: 'all', table: '11' })).not.toBe(ruleKey({ priority: 111, src: 'all', table: '12' }));
    expect(ruleKey({ priority: 9, fwmark: '0x200', fwmask: '0xf00' })).not.toBe(ruleKey({ priority: 9, fwmark: '0x200', fwmask: '0xff0' }));
  });

  it('builds ip rule add argv from the JSON fields', () => {
    expect(ruleAddArgv(CILIUM_RULES[0]!)).toEqual(['ip', '-4', 'rule', 'add', 'priority', '9', 'fwmark', '0x200/0xf00', 'lookup', '2004']);
    expect(ruleAddArgv(CILIUM_RULES[3]!)).toEqual(['ip', '-4', 'rule', 'add', 'priority', '120', 'from', '10.9.0.0/16', 'to', '10.8.0.0/24', 'iif', 'lo', 'lookup', 'main']);
    expect(ruleAddArgv({ priority: 130, not: null, src: 'all', action: 'unreachable' })).toEqual(['ip', '-4', 'rule', 'add', 'priority', '130', 'not', 'unreachable']);
  });

  it('refuses fields that could smuggle options or words into ip', () => {
    expect(() => ruleAddArgv({ priority: 5, src: 'all', iif: '-force', table: 'main' })).toThrow(/invalid iif/);
    expect(() => ruleAddArgv({ priority: 5, src: '1.2.3.4 table 7', table: 'main' })).toThrow(/invalid src/);
    expect(() => ruleAddArgv({ priority: '5; reboot', table: 'main' })).toThrow(/invalid priority/);
    expect(() => ruleAddArgv({ priority: 5, table: 'main lookup 2' })).toThrow(/invalid table/);
    expect(() => ruleAddArgv({ table: 'main' })).toThrow(/no priority/);
  });
});

describe('routes', () => {
  it('describes and rebuilds routes', () => {
    const r = { dst: 'default', gateway: '10.231.0.1', dev: 'eth0', table: '11', protocol: 'boot', scope: 'global', flags: [], family: 'inet' };
    expect(describeRoute(r)).toBe('table 11: default via 10.231.0.1 dev eth0');
    expect(routeAddArgv(r)).toEqual(['ip', '-4', 'route', 'add', 'default', 'table', '11', 'via', '10.231.0.1', 'dev', 'eth0', 'proto', 'boot', 'scope', 'global']);
    const local = { type: 'local', dst: 'default', dev: 'lo', table: '2004', protocol: 'boot', scope: 'host', flags: [], family: 'inet' };
    expect(routeAddArgv(local)).toEqual(['ip', '-4', 'route', 'add', 'local', 'default', 'table', '2004', 'dev', 'lo', 'proto', 'boot', 'scope', 'host']);
  });

  it('refuses odd route fields', () => {
    expect(() => routeAddArgv({ dst: '10.0.0.0/8 via 1.1.1.1', table: 'main' })).toThrow(/invalid dst/);
    expect(() => routeAddArgv({ dst: '10.0.0.0/33', table: 'main' })).toThrow(/invalid dst/);
    expect(() => routeAddArgv({ dst: 'default', gateway: 'fe80::1', table: 'main' })).toThrow(/invalid gateway/);
    expect(() => routeAddArgv({ type: 'evil', dst: 'default' })).toThrow(/unknown type/);
  });

  it('compares routes per table', () => {
    const a = { dst: '10.0.0.0/24', dev: 'eth0', table: '11' };
    const b = { dst: '10.0.0.0/24', dev: 'eth0', table: 'main' };
    const diff = diffInvariants({ takenAt: 0, rules: [], routes: [a, b] }, { takenAt: 1, rules: [], routes: [b] });
    expect(diff.vanishedRoutes).toEqual([a]);
  });
});

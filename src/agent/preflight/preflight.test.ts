import { describe, expect, it } from 'vitest';
import { hostFindings, riskyScriptLines, scriptFindings } from './preflight.ts';

const networkd = (rules: boolean) => ({ manageForeignRoutingPolicyRules: rules, manageForeignRoutes: false, files: [] });
const rules = [
  { priority: 9, src: 'all', fwmark: '0x200', fwmask: '0xf00', table: '2004', protocol: 'unspec' },
  { priority: 100, src: 'all', table: 'local', protocol: 'unspec' },
  { priority: 111, src: '10.0.0.5', table: '11', protocol: 'unspec' },
  { priority: 200, src: 'all', table: '5', protocol: 'kernel' },
  { priority: 32766, src: 'all', table: 'main', protocol: 'kernel' },
  { priority: 32767, src: 'all', table: 'default', protocol: 'kernel' },
];

describe('hostFindings', () => {
  it('flags the Datadog condition with the number of rules at risk', () => {
    const f = hostFindings({ networkd: networkd(true), routing: { takenAt: 0, rules, routes: [] } });
    expect(f).toHaveLength(1);
    expect(f[0]?.message).toMatch(/^would lose 3 routing-policy rules if systemd-networkd restarts/);
    expect(f[0]?.evidence).toEqual(['9: from all fwmark 0x200/0xf00 lookup 2004', '100: from all lookup local', '111: from 10.0.0.5 lookup 11']);
  });

  it('does not flag when networkd leaves foreign rules alone, or when there are none', () => {
    expect(hostFindings({ networkd: networkd(false), routing: { takenAt: 0, rules, routes: [] } })).toEqual([]);
    expect(hostFindings({ networkd: networkd(true), routing: { takenAt: 0, rules: rules.slice(3), routes: [] } })).toEqual([]);
  });
});

describe('riskyScriptLines', () => {
  it('finds restarts of networking units and rule deletions', () => {
    const script = `#!/bin/sh
set -e
# systemctl restart systemd-networkd (a comment does not count)
if [ -d /run/systemd/system ]; then
  systemctl try-restart systemd-networkd.service || true
fi
deb-systemd-invoke restart systemd-networkd.service
invoke-rc.d networking restart
ip -4 rule del priority "$prio"
ip rule flush
ip $fam rule del priority "$p"
systemctl restart nginx
iptables -F
`;
    expect(riskyScriptLines(script)).toEqual([
      'systemctl try-restart systemd-networkd.service || true',
      'deb-systemd-invoke restart systemd-networkd.service',
      'invoke-rc.d networking restart',
      'ip -4 rule del priority "$prio"',
      'ip rule flush',
      'ip $fam rule del priority "$p"',
    ]);
  });

  it('names the package and version', () => {
    const f = scriptFindings([
      { package: 'systemd', version: '249.11-0ubuntu3.7', scripts: { postinst: 'systemctl restart systemd-networkd\n' } },
      { package: 'nginx', version: '1', scripts: { postinst: 'systemctl restart nginx\n' } },
    ]);
    expect(f.map((x) => x.package)).toEqual(['systemd']);
    expect(f[0]?.message).toContain('systemd=249.11-0ubuntu3.7');
  });
});

import { describe, expect, it } from 'vitest';
import { parseOsRelease } from './os-release.ts';
import { parseDpkgQuery } from './dpkg-packages.ts';
import { parseDeb822Sources, parseOneLineSources } from './apt-sources.ts';
import { aptConfPartIsRead, parseAptConf, periodicEnabled } from './apt-conf.ts';
import { effectiveNetworkdForeign, parseSystemdBoolean } from './networkd-conf.ts';
import { factsDigest, parseSystemdVersion } from './facts.ts';
import type { Facts } from './facts.ts';

describe('parseOsRelease', () => {
  it('reads quoted and unquoted values', () => {
    const os = parseOsRelease('PRETTY_NAME="Ubuntu 22.04.2 LTS"\nNAME="Ubuntu"\nVERSION_ID="22.04"\nID=ubuntu\n# comment\nVERSION_CODENAME=jammy\n');
    expect(os).toEqual({ id: 'ubuntu', versionId: '22.04', versionCodename: 'jammy', prettyName: 'Ubuntu 22.04.2 LTS' });
  });
});

describe('parseDpkgQuery', () => {
  it('keeps installed and half-done packages, holds, and skips removed ones', () => {
    const text = [
      'systemd\t249.11-0ubuntu3.6\tii \tinstall ok installed',
      'libc6:amd64\t2.35-0ubuntu3\thi \thold ok installed',
      'sluice-brokenpkg\t1\tiF \tinstall ok half-configured',
      'oldpkg\t1.0\trc \tdeinstall ok config-files',
      '',
    ].join('\n');
    const inv = parseDpkgQuery(text);
    expect(inv.packages).toEqual({ systemd: '249.11-0ubuntu3.6', 'libc6:amd64': '2.35-0ubuntu3', 'sluice-brokenpkg': '1' });
    expect(inv.held).toEqual(['libc6:amd64']);
    expect(inv.unfinished).toEqual({ 'sluice-brokenpkg': 'half-configured' });
  });
});

describe('apt sources', () => {
  it('parses one-line entries with options and skips comments', () => {
    const s = parseOneLineSources(
      '# main\ndeb [arch=amd64 signed-by=/usr/share/keyrings/x.gpg] http://archive.ubuntu.com/ubuntu jammy main restricted\n#deb http://x y z\ndeb-src http://archive.ubuntu.com/ubuntu jammy-security main\n',
      '/etc/apt/sources.list',
    );
    expect(s).toEqual([
      { file: '/etc/apt/sources.list', type: 'deb', uri: 'http://archive.ubuntu.com/ubuntu', suite: 'jammy', components: ['main', 'restricted'], options: { arch: 'amd64', 'signed-by': '/usr/share/keyrings/x.gpg' } },
      { file: '/etc/apt/sources.list', type: 'deb-src', uri: 'http://archive.ubuntu.com/ubuntu', suite: 'jammy-security', components: ['main'], options: {} },
    ]);
  });

  it('parses deb822 stanzas, one source per type x URI x suite, skipping disabled ones', () => {
    const text = `Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://example.invalid/x
Suites: stable
Components: main
Enabled: no
`;
    const s = parseDeb822Sources(text, '/etc/apt/sources.list.d/debian.sources');
    expect(s.map((x) => `${x.type} ${x.uri} ${x.suite}`)).toEqual([
      'deb http://deb.debian.org/debian bookworm',
      'deb http://deb.debian.org/debian bookworm-updates',
    ]);
    expect(s[0]?.options['signed-by']).toBe('/usr/share/keyrings/debian-archive-keyring.gpg');
  });
});

describe('parseAptConf', () => {
  it('reads flat and nested assignments, last wins, comments ignored', () => {
    const values = parseAptConf(`// comment
APT::Periodic::Update-Package-Lists "1";
APT::Periodic::Unattended-Upgrade "1";
/* block
APT::Periodic::Unattended-Upgrade "7"; */
# hash comment
APT {
  Periodic {
    Unattended-Upgrade "0";
  };
};
Unattended-Upgrade::Allowed-Origins { "\${distro_id}:\${distro_codename}-security"; };
`);
    expect(values.get('apt::periodic::unattended-upgrade')).toBe('0');
    expect(values.get('apt::periodic::update-package-lists')).toBe('1');
    expect(values.get('unattended-upgrade::allowed-origins')).toBe('${distro_id}:${distro_codename}-security');
  });

  it('knows which apt.conf.d names apt reads and what counts as on', () => {
    expect(aptConfPartIsRead('20auto-upgrades')).toBe(true);
    expect(aptConfPartIsRead('50unattended-upgrades.conf')).toBe(true);
    expect(aptConfPartIsRead('20auto-upgrades.dpkg-old')).toBe(false);
    expect(aptConfPartIsRead('20auto-upgrades~')).toBe(false);
    expect(aptConfPartIsRead('20auto.upgrades')).toBe(false);
    expect(periodicEnabled('1')).toBe(true);
    expect(periodicEnabled('always')).toBe(true);
    expect(periodicEnabled('0')).toBe(false);
    expect(periodicEnabled(null)).toBe(false);
  });
});

describe('networkd foreign settings', () => {
  it('defaults to yes, and drop-ins override in order', () => {
    expect(effectiveNetworkdForeign([])).toMatchObject({ manageForeignRoutingPolicyRules: true, manageForeignRoutes: true });
    const eff = effectiveNetworkdForeign([
      { file: '/etc/systemd/networkd.conf', text: '[Network]\n#ManageForeignRoutingPolicyRules=yes\nManageForeignRoutes=no\n' },
      { file: '/usr/lib/systemd/networkd.conf.d/10-a.conf', text: '[Network]\nManageForeignRoutingPolicyRules=no\n' },
      { file: '/etc/systemd/networkd.conf.d/20-b.conf', text: '[DHCPv4]\nManageForeignRoutes=yes\n[Network]\nManageForeignRoutingPolicyRules=yes\n' },
    ]);
    expect(eff.manageForeignRoutingPolicyRules).toBe(true);
    expect(eff.manageForeignRoutes).toBe(false); // the [DHCPv4] line does not count
    expect(parseSystemdBoolean('off')).toBe(false);
    expect(parseSystemdBoolean('maybe')).toBeNull();
  });
});

describe('facts digest', () => {
  const base: Facts = {
    os: null, kernel: '6.1', systemdVersion: 252, packages: { a: '1' }, heldPackages: [], unfinishedPackages: {}, aptSources: [],
    unattendedUpgrades: { setting: null, settingFile: null, timer: { enabled: true, masked: false, active: null }, canRun: false },
    networkd: { manageForeignRoutingPolicyRules: true, manageForeignRoutes: true, files: [] },
    routing: { takenAt: 1, rules: [{ priority: 0 }], routes: [] }, hazards: [],
  };
  it('ignores the snapshot time and key order but not content', () => {
    expect(factsDigest({ ...base, routing: { takenAt: 999, rules: [{ priority: 0 }], routes: [] } })).toBe(factsDigest(base));
    expect(factsDigest({ ...base, packages: { a: '2' } })).not.toBe(factsDigest(base));
    expect(parseSystemdVersion('systemd 252 (252.38-1~deb12u1)\n+PAM +AUDIT')).toBe(252);
  });
});

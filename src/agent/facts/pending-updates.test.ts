import { describe, expect, it } from 'vitest';
import { isSecurityOrigin, parseAptSimulation, readPendingUpdates } from './pending-updates.ts';
import type { ArgvRunner } from './argv-runner.ts';

// Real `apt-get -s dist-upgrade` output: Ubuntu 22.04 on the Datadog morning, and Debian 12.
const UBUNTU = `Reading package lists...
Building dependency tree...
Reading state information...
Calculating upgrade...
The following packages will be upgraded:
  libsystemd0 systemd tzdata
3 upgraded, 1 newly installed, 0 to remove and 0 not upgraded.
Inst libsystemd0 [249.11-0ubuntu3.6] (249.11-0ubuntu3.7 Ubuntu:22.04/jammy-updates, Ubuntu:22.04/jammy-security [amd64]) []
Inst systemd [249.11-0ubuntu3.6] (249.11-0ubuntu3.7 Ubuntu:22.04/jammy-updates, Ubuntu:22.04/jammy-security [amd64])
Inst tzdata [2022g-0ubuntu0.22.04.1] (2023c-0ubuntu0.22.04.0 Ubuntu:22.04/jammy-updates [all])
Inst linux-image-5.15.0-67-generic (5.15.0-67.74 Ubuntu:22.04/jammy-updates [amd64])
Conf libsystemd0 (249.11-0ubuntu3.7 Ubuntu:22.04/jammy-updates, Ubuntu:22.04/jammy-security [amd64])
Conf systemd (249.11-0ubuntu3.7 Ubuntu:22.04/jammy-updates, Ubuntu:22.04/jammy-security [amd64])
`;

const DEBIAN = `Inst base-files [12.4+deb12u11] (12.4+deb12u15 Debian:12.15/oldstable [amd64])
Inst libgcrypt20-dev [1.10.1-3] (1.10.1-3+deb12u1 Debian:12.15/oldstable, Debian-Security:12/oldstable-security [amd64]) []
Inst libc6:i386 [2.36-9+deb12u9] (2.36-9+deb12u10 Debian:12.15/oldstable, Debian-Security:12/oldstable-security [i386])
`;

describe('parseAptSimulation', () => {
  it('lists upgrades with installed and candidate versions, security when a security archive offers it', () => {
    expect(parseAptSimulation(UBUNTU)).toEqual([
      { package: 'libsystemd0', installed: '249.11-0ubuntu3.6', candidate: '249.11-0ubuntu3.7', security: true, origins: ['Ubuntu:22.04/jammy-updates', 'Ubuntu:22.04/jammy-security'] },
      { package: 'systemd', installed: '249.11-0ubuntu3.6', candidate: '249.11-0ubuntu3.7', security: true, origins: ['Ubuntu:22.04/jammy-updates', 'Ubuntu:22.04/jammy-security'] },
      { package: 'tzdata', installed: '2022g-0ubuntu0.22.04.1', candidate: '2023c-0ubuntu0.22.04.0', security: false, origins: ['Ubuntu:22.04/jammy-updates'] },
    ]);
  });

  it('reads Debian security origins and foreign-architecture packages', () => {
    const updates = parseAptSimulation(DEBIAN);
    expect(updates.map((u) => [u.package, u.security])).toEqual([
      ['base-files', false],
      ['libc6:i386', true],
      ['libgcrypt20-dev', true],
    ]);
  });

  it('finds nothing in output without upgrades', () => {
    expect(parseAptSimulation('Reading package lists...\n0 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.\n')).toEqual([]);
  });

  it.each([
    ['Ubuntu:22.04/jammy-security', true],
    ['Debian-Security:12/stable-security', true],
    ['Ubuntu:22.04/jammy-updates', false],
    ['Debian:12.15/oldstable', false],
    ['MyCorp:1/securityish', false],
  ])('isSecurityOrigin(%s) = %s', (origin, want) => {
    expect(isSecurityOrigin(origin)).toBe(want);
  });
});

describe('readPendingUpdates', () => {
  it('simulates with apt-get -s (never a real upgrade) and reports a failure instead of throwing', async () => {
    const calls: string[][] = [];
    const ok: ArgvRunner = async (argv) => {
      calls.push([...argv]);
      return { exitCode: 0, signal: null, stdout: UBUNTU, stderr: '', timedOut: false, truncated: false, error: null };
    };
    const fact = await readPendingUpdates('/', ok, () => 42);
    expect(calls[0]?.slice(0, 2)).toEqual(['apt-get', '-s']);
    expect(fact.checkedAt).toBe(42);
    expect(fact.updates.filter((u) => u.security).map((u) => u.package)).toEqual(['libsystemd0', 'systemd']);

    const failing: ArgvRunner = async () =>
      ({ exitCode: 100, signal: null, stdout: '', stderr: 'E: Could not open lock file', timedOut: false, truncated: false, error: null });
    const bad = await readPendingUpdates('/', failing, () => 43);
    expect(bad.updates).toEqual([]);
    expect(bad.error).toContain('Could not open lock file');
  });
});

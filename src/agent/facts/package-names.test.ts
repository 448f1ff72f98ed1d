import { describe, expect, it } from 'vitest';
import { parseDpkgQuery } from './dpkg-packages.ts';
import { canonicalPackageName } from './package-names.ts';
import { parseAptSimulation } from './pending-updates.ts';

describe('canonical package names (Multi-Arch)', () => {
  it('bare for native and all packages, name:arch for foreign ones', () => {
    expect(canonicalPackageName('libssl3:amd64', 'amd64')).toBe('libssl3');
    expect(canonicalPackageName('libssl3:i386', 'amd64')).toBe('libssl3:i386');
    expect(canonicalPackageName('tzdata:all', 'amd64')).toBe('tzdata');
    expect(canonicalPackageName('libssl3', 'amd64')).toBe('libssl3');
    expect(canonicalPackageName('libssl3:amd64', null)).toBe('libssl3:amd64');
  });

  it('facts and pending updates name the same package the same way', () => {
    const inv = parseDpkgQuery('libssl3:amd64\t3.0.2-0ubuntu1.10\tii \tinstall ok installed\nlibssl3:i386\t3.0.2-0ubuntu1.10\thi \thold ok installed\nbash\t5.1\tii \tinstall ok installed\n', 'amd64');
    expect(inv.packages).toEqual({ libssl3: '3.0.2-0ubuntu1.10', 'libssl3:i386': '3.0.2-0ubuntu1.10', bash: '5.1' });
    expect(inv.held).toEqual(['libssl3:i386']);
    const updates = parseAptSimulation(
      'Inst libssl3 [3.0.2-0ubuntu1.10] (3.0.2-0ubuntu1.12 Ubuntu:22.04/jammy-security [amd64])\n' +
        'Inst libssl3:i386 [3.0.2-0ubuntu1.10] (3.0.2-0ubuntu1.12 Ubuntu:22.04/jammy-security [i386])\n',
      'amd64',
    );
    expect(updates.map((u) => u.package)).toEqual(['libssl3', 'libssl3:i386']);
    for (const u of updates) expect(inv.packages[u.package]).toBe(u.installed);
  });
});

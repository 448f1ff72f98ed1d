import { describe, expect, it } from 'vitest';
import { detectDrift } from './drift.ts';
import type { UnattendedUpgradesFacts } from '../facts/facts.ts';

const off: UnattendedUpgradesFacts = { setting: '0', settingFile: null, timer: { enabled: true, masked: false, active: null }, canRun: false };
const rule100 = { priority: 100, src: 'all', table: 'local', family: 'inet' };
const routing = (rules: Record<string, unknown>[]) => ({ takenAt: 0, rules, routes: [] });

describe('detectDrift', () => {
  it('reports a package that changed with no Sluice step, with the time from dpkg.log', () => {
    const ev = detectDrift(
      { packages: { systemd: '249.11-0ubuntu3.6' }, routing: null },
      { packages: { systemd: '249.11-0ubuntu3.7' }, routing: null, unattendedUpgrades: off },
      ['2023-03-08 06:00:12 upgrade systemd:amd64 249.11-0ubuntu3.6 249.11-0ubuntu3.7', '2023-03-08 06:00:13 status installed systemd:amd64 249.11-0ubuntu3.7'],
      [],
    );
    expect(ev).toEqual([
      expect.objectContaining({ kind: 'package-changed', package: 'systemd', from: '249.11-0ubuntu3.6', to: '249.11-0ubuntu3.7', at: '2023-03-08 06:00:12' }),
    ]);
  });

  it('does not report a change made by a running apt step', () => {
    const ev = detectDrift(
      { packages: { systemd: '1' }, routing: null },
      { packages: { systemd: '2' }, routing: null, unattendedUpgrades: off },
      ['2023-03-08 06:00:12 upgrade systemd:amd64 1 2'],
      [{ rolloutId: 'r1', change: { kind: 'apt', install: { systemd: '2' }, remove: [], timeout: 1000 } }],
    );
    expect(ev).toEqual([]);
  });

  it('reports a change and its undo seen only in dpkg.log', () => {
    const ev = detectDrift({ packages: { curl: '1' }, routing: null }, { packages: { curl: '1' }, routing: null, unattendedUpgrades: off }, [
      '2024-01-01 06:00:00 upgrade curl:amd64 1 2',
      '2024-01-01 06:05:00 upgrade curl:amd64 2 1',
    ], []);
    expect(ev.map((e) => e.kind)).toEqual(['package-changed']);
  });

  it('reports unattended-upgrades able to run', () => {
    const on = { ...off, setting: '1', settingFile: '/etc/apt/apt.conf.d/20auto-upgrades', canRun: true };
    const ev = detectDrift(null, { packages: {}, routing: null, unattendedUpgrades: on }, [], []);
    expect(ev[0]?.kind).toBe('unattended-upgrades-enabled');
    expect(ev[0]?.message).toContain('20auto-upgrades');
  });

  it('reports vanished rules only while no change is running', () => {
    const prev = { packages: {}, routing: routing([rule100]) };
    const cur = { packages: {}, routing: routing([]), unattendedUpgrades: off };
    expect(detectDrift(prev, cur, [], []).map((e) => e.message)).toEqual([
      '1 routing-policy rule(s) vanished while no change was running: 100: from all lookup local',
    ]);
    expect(detectDrift(prev, cur, [], [{ rolloutId: 'r', change: { kind: 'command', apply: ['true'], timeout: 1 } }])).toEqual([]);
  });
});

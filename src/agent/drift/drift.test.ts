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

  it("excuses Sluice's own change by its window and exact versions, not by a running step", () => {
    const at = (t: string) => new Date(t).getTime(); // local time, as dpkg writes it
    const window = { startedAt: at('2023-03-08T06:00:10'), finishedAt: at('2023-03-08T06:00:14'), packages: { systemd: { from: '1', to: '2' } } };
    const sluice = { windows: [window], since: at('2023-03-08T06:00:00'), nativeArch: 'amd64' };
    const prev = { packages: { systemd: '1' }, routing: null };
    const cur = { packages: { systemd: '2' }, routing: null, unattendedUpgrades: off };
    expect(detectDrift(prev, cur, ['2023-03-08 06:00:12 upgrade systemd:amd64 1 2'], [], sluice)).toEqual([]);
    // The database alone (no dpkg.log line) is explained by the window too.
    expect(detectDrift(prev, cur, [], [], sluice)).toEqual([]);
    // A running apt step no longer excuses anything.
    const running = [{ rolloutId: 'r1', change: { kind: 'apt' as const, install: { systemd: '2' }, remove: [], timeout: 1000 } }];
    expect(detectDrift(prev, cur, ['2023-03-08 06:00:12 upgrade systemd:amd64 1 2'], running).map((e) => e.package)).toEqual(['systemd']);
  });

  it('a manual upgrade in the same second as a Sluice rollback, the other way, is drift', () => {
    const at = (t: string) => new Date(t).getTime();
    const rollback = { startedAt: at('2023-03-08T06:00:10'), finishedAt: at('2023-03-08T06:00:12'), packages: { systemd: { from: '2', to: '1' } } };
    const sluice = { windows: [rollback], since: at('2023-03-08T06:00:00'), nativeArch: 'amd64' };
    const ev = detectDrift(
      { packages: { systemd: '2' }, routing: null },
      { packages: { systemd: '2' }, routing: null, unattendedUpgrades: off },
      ['2023-03-08 06:00:11 upgrade systemd:amd64 2 1', '2023-03-08 06:00:12 upgrade systemd:amd64 1 2', '2023-03-08 06:00:30 upgrade curl:amd64 7 8'],
      [],
      sluice,
    );
    expect(ev.map((e) => [e.package, e.from, e.to, e.at])).toEqual([
      ['systemd', '1', '2', '2023-03-08 06:00:12'],
      ['curl', '7', '8', '2023-03-08 06:00:30'],
    ]);
    // Just after the window, even the same versions are someone else's.
    const later = detectDrift({ packages: { systemd: '2' }, routing: null }, { packages: { systemd: '2' }, routing: null, unattendedUpgrades: off }, ['2023-03-08 06:00:13 upgrade systemd:amd64 2 1'], [], sluice);
    expect(later.map((e) => e.package)).toEqual(['systemd']);
  });

  it('names foreign-architecture packages name:arch and native ones bare', () => {
    const ev = detectDrift({ packages: {}, routing: null }, { packages: {}, routing: null, unattendedUpgrades: off }, [
      '2024-01-01 06:00:00 upgrade libssl3:amd64 1 2',
      '2024-01-01 06:00:01 upgrade libssl3:i386 1 2',
    ], [], { windows: [], since: null, nativeArch: 'amd64' });
    expect(ev.map((e) => e.package)).toEqual(['libssl3', 'libssl3:i386']);
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

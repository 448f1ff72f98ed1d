import { describe, expect, it } from 'vitest';
import { driftRound, keyOf } from './drift-guard.ts';
import type { DriftFacts, DriftInventory, DriftRoundInput } from './drift-guard.ts';
import type { RunningStep } from './drift/drift.ts';

const UU_OFF: DriftFacts['unattendedUpgrades'] = {
  setting: null,
  settingFile: null,
  timer: { enabled: false, masked: false, active: null },
  canRun: false,
};
const UU_ON: DriftFacts['unattendedUpgrades'] = { ...UU_OFF, setting: '1', settingFile: '/etc/apt/apt.conf.d/20auto-upgrades', canRun: true };

const RULE_100 = { priority: 100, src: 'all', table: 'local', family: 'inet' };
const RULE_111 = { priority: 111, src: '10.0.1.0/24', table: '11', family: 'inet' };

function facts(packages: Record<string, string>, extra: Partial<DriftFacts> = {}): DriftFacts {
  return { packages, routing: null, unattendedUpgrades: UU_OFF, ...extra };
}

function inventory(packages: Record<string, string>, rules: Record<string, unknown>[] | null = null): DriftInventory {
  return { packages, routing: rules === null ? null : { takenAt: 1, rules, routes: [] }, takenAt: 1 };
}

let n = 0;
function round(over: Partial<DriftRoundInput>) {
  return driftRound({
    previous: null,
    open: new Set(),
    current: facts({}),
    dpkgLogLines: [],
    runningSteps: [],
    now: 5000,
    newId: () => `id-${++n}`,
    ...over,
  });
}

const aptStep = (pkg: string): RunningStep => ({ rolloutId: 'r1', change: { kind: 'apt', install: { [pkg]: '2' }, remove: [], timeout: 60_000 } });

describe('driftRound', () => {
  it('reports a package changed with no Sluice step, with dpkg time, and keeps it open', () => {
    const r = round({
      previous: inventory({ systemd: '249.11-0ubuntu3.6' }),
      current: facts({ systemd: '249.11-0ubuntu3.7' }),
      dpkgLogLines: ['2023-03-08 06:00:12 upgrade systemd:amd64 249.11-0ubuntu3.6 249.11-0ubuntu3.7'],
    });
    expect(r.events).toHaveLength(1);
    expect(r.events[0]).toMatchObject({
      kind: 'package-changed',
      subject: 'systemd',
      open: true,
      at: 5000,
      details: { package: 'systemd', from: '249.11-0ubuntu3.6', to: '249.11-0ubuntu3.7', dpkgAt: '2023-03-08 06:00:12' },
    });
    expect(r.open.has(keyOf('package-changed', 'systemd'))).toBe(true);
    expect(r.inventory.packages).toEqual({ systemd: '249.11-0ubuntu3.7' });
  });

  it("does not count a Sluice apt step's own change as drift, and resolves drift of the package it manages", () => {
    const window = { startedAt: 2000, finishedAt: 3000, packages: { systemd: { from: '1', to: '2' } } };
    const r = round({
      previous: inventory({ systemd: '1' }),
      open: new Set([keyOf('package-changed', 'systemd')]),
      current: facts({ systemd: '2' }),
      attribution: { windows: [window], since: 1, nativeArch: 'amd64', localTime: (ms) => `t${ms}` },
      dpkgLogLines: [],
    });
    expect(r.events).toEqual([]);
    expect(r.resolved).toEqual([{ kind: 'package-changed', subject: 'systemd', at: 5000 }]);
    expect(r.open.size).toBe(0);
  });

  it('a manual change right after a Sluice step is reported, stays open, and is news even if reported before', () => {
    const rollback = { startedAt: 2000, finishedAt: 3000, packages: { systemd: { from: '2', to: '1' } } };
    const r = round({
      previous: inventory({ systemd: '2' }),
      open: new Set([keyOf('package-changed', 'systemd')]),
      current: facts({ systemd: '2' }),
      reported: { systemd: '2' }, // an earlier manual upgrade to 2 was reported
      dpkgLogLines: ['2026-01-01 06:00:03 upgrade systemd:amd64 2 1', '2026-01-01 06:00:04 upgrade systemd:amd64 1 2'],
      attribution: {
        windows: [rollback],
        since: 1,
        nativeArch: 'amd64',
        localTime: (ms) => (ms === 2000 ? '2026-01-01 06:00:02' : '2026-01-01 06:00:03'),
      },
    });
    expect(r.events.map((e) => [e.subject, e.details?.from, e.details?.to])).toEqual([['systemd', '1', '2']]);
    expect(r.resolved).toEqual([]);
    expect(r.open.has(keyOf('package-changed', 'systemd'))).toBe(true);
  });

  it('a change seen only in dpkg.log (installed and undone between two rounds) is still reported', () => {
    const r = round({ previous: inventory({ curl: '7' }), current: facts({ curl: '7' }), dpkgLogLines: ['2026-01-01 06:12:00 upgrade curl:amd64 7 8', '2026-01-01 06:13:00 upgrade curl:amd64 8 7'] });
    expect(r.events.map((e) => e.subject)).toEqual(['curl']);
  });

  it('reports a condition once, then resolves it when it no longer holds', () => {
    const first = round({ current: facts({}, { unattendedUpgrades: UU_ON }) });
    expect(first.events.map((e) => e.kind)).toEqual(['unattended-upgrades-enabled']);
    const again = round({ open: first.open, previous: first.inventory, current: facts({}, { unattendedUpgrades: UU_ON }) });
    expect(again.events).toEqual([]);
    expect(again.resolved).toEqual([]);
    const gone = round({ open: again.open, previous: again.inventory, current: facts({}, { unattendedUpgrades: UU_OFF }), now: 7000 });
    expect(gone.events).toEqual([]);
    expect(gone.resolved).toEqual([{ kind: 'unattended-upgrades-enabled', subject: 'apt', at: 7000 }]);
    expect(gone.open.size).toBe(0);
  });

  it('keeps the last good routing snapshot while rules are missing, and resolves when they are back', () => {
    const good = inventory({}, [RULE_100, RULE_111]);
    const broken = { takenAt: 2, rules: [RULE_100], routes: [] };
    const r = round({ previous: good, current: facts({}, { routing: broken }) });
    expect(r.vanished).toBe(true);
    expect(r.events.map((e) => [e.kind, e.subject])).toEqual([['rules-vanished', 'rules']]);
    expect(r.inventory.routing?.rules).toEqual([RULE_100, RULE_111]);

    // still missing: no second event
    const still = round({ previous: r.inventory, open: r.open, current: facts({}, { routing: broken }) });
    expect(still.events).toEqual([]);
    // a running change may touch routing: nothing is judged, nothing resolved
    const during = round({ previous: r.inventory, open: r.open, current: facts({}, { routing: broken }), runningSteps: [aptStep('x')] });
    expect(during.resolved).toEqual([]);
    expect(during.open.has(keyOf('rules-vanished', 'rules'))).toBe(true);

    const back = round({ previous: r.inventory, open: r.open, current: facts({}, { routing: { takenAt: 3, rules: [RULE_100, RULE_111], routes: [] } }) });
    expect(back.resolved.map((x) => x.kind)).toEqual(['rules-vanished']);
    expect(back.vanished).toBe(false);
  });

  it('reports one change once when dpkg.log shows it a round before the database (or after)', () => {
    const line = '2026-01-02 06:12:00 upgrade curl:amd64 7 8';
    const logFirst = round({ previous: inventory({ curl: '7' }), current: facts({ curl: '7' }), dpkgLogLines: [line] });
    expect(logFirst.events.map((e) => e.subject)).toEqual(['curl']);
    const dbNext = round({ previous: logFirst.inventory, current: facts({ curl: '8' }), reported: logFirst.reported });
    expect(dbNext.events).toEqual([]);

    const dbFirst = round({ previous: inventory({ curl: '7' }), current: facts({ curl: '8' }) });
    expect(dbFirst.events).toHaveLength(1);
    const logNext = round({ previous: dbFirst.inventory, current: facts({ curl: '8' }), dpkgLogLines: [line], reported: dbFirst.reported });
    expect(logNext.events).toEqual([]);
    // a later, different change of the same package is news again
    const later = round({ previous: logNext.inventory, current: facts({ curl: '9' }), reported: logNext.reported });
    expect(later.events.map((e) => e.details?.to)).toEqual(['9']);
  });

  it('reports no package drift on the first round (no inventory yet)', () => {
    expect(round({ current: facts({ systemd: '1' }) }).events).toEqual([]);
  });
});

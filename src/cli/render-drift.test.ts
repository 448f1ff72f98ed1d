import { describe, expect, it } from 'vitest';
import { checkPlan } from '../core/plan/parse-plan.ts';
import { renderDrift, renderUpdates, updatesJson } from './render-drift.ts';
import type { DriftView, UpdatesView } from './render-drift.ts';
import { parseMatchFlag } from './updates-command.ts';
import { buildUpdatesPlan } from './updates-plan.ts';

const NOW = Date.UTC(2026, 0, 2, 12, 0, 0);

const DRIFT: DriftView = {
  summary: { hosts: 2, hostsWithDrift: 1, open: { 'unattended-upgrades-enabled': 1, 'package-changed': 1 }, hostsByKind: { 'unattended-upgrades-enabled': 1, 'package-changed': 1 } },
  hosts: [
    { name: 'db-1', policy: 'enforce', open: [], lastEventAt: NOW - 3_600_000 },
    {
      name: 'web-1',
      policy: 'report',
      open: [
        { kind: 'unattended-upgrades-enabled', subject: 'apt', message: 'unattended-upgrades can run', at: NOW - 60_000, receivedAt: NOW - 60_000 },
        { kind: 'package-changed', subject: 'systemd', message: 'systemd changed with no Sluice step: 1 -> 2', at: NOW - 30_000, receivedAt: NOW - 30_000 },
      ],
      lastEventAt: NOW - 30_000,
    },
  ],
  events: [
    { host: 'web-1', kind: 'package-changed', subject: 'systemd', message: 'systemd changed with no Sluice step: 1 -> 2', at: NOW - 30_000, receivedAt: NOW - 30_000, resolvedAt: null },
    { host: 'db-1', kind: 'enforced', subject: 'apt', message: 'enforce: masked apt-daily-upgrade.timer', at: NOW - 3_600_000, receivedAt: NOW - 3_600_000, resolvedAt: NOW - 3_600_000 },
  ],
};

function host(name: string, labels: Record<string, string>, installed?: Record<string, string | null>): UpdatesView['hosts'][number] {
  return { name, labels, checkedAt: NOW, error: null, pending: 1, security: 1, ...(installed ? { installed } : {}) };
}

const UPDATES: UpdatesView = {
  updates: [
    { package: 'systemd', candidate: '249.11-0ubuntu3.7', security: true, hosts: [{ name: 'web-1', installed: '249.11-0ubuntu3.6' }, { name: 'web-2', installed: '249.11-0ubuntu3.6' }] },
    { package: 'systemd', candidate: '252.22-1~deb12u1', security: true, hosts: [{ name: 'db-1', installed: '252.19-1~deb12u1' }] },
  ],
  hosts: [
    host('web-1', { os: 'ubuntu-22.04', zone: 'a' }, { systemd: '249.11-0ubuntu3.6' }),
    host('web-2', { os: 'ubuntu-22.04', zone: 'b' }, { systemd: '249.11-0ubuntu3.6' }),
    host('db-1', { os: 'debian-12', zone: 'a' }, { systemd: '252.19-1~deb12u1' }),
  ],
};

describe('renderDrift', () => {
  it('shows the fleet summary, hosts with most drift first, and recent events', () => {
    const text = renderDrift(DRIFT, { now: NOW, color: false });
    expect(text).toContain('Fleet: 2 hosts, 1 with open drift');
    expect(text).toMatch(/unattended-upgrades-enabled\s+1 host \(1 open event\)/);
    const lines = text.split('\n');
    const web = lines.findIndex((l) => l.startsWith('web-1'));
    const db = lines.findIndex((l) => l.startsWith('db-1'));
    expect(web).toBeGreaterThan(0);
    expect(web).toBeLessThan(db);
    expect(lines[web]).toMatch(/web-1\s+report\s+2\s+unattended-upgrades-enabled, package-changed systemd/);
    expect(text).toMatch(/web-1\s+package-changed\s+open\s+systemd changed/);
    expect(text).toMatch(/db-1\s+enforced\s+closed/);
  });
});

describe('updates', () => {
  it('lists packages with their candidate, host count and installed versions', () => {
    const text = renderUpdates(UPDATES, { color: false });
    expect(text).toMatch(/systemd\s+249\.11-0ubuntu3\.7\s+2\s+249\.11-0ubuntu3\.6\s+web-1,web-2/);
    expect(updatesJson(UPDATES)).toEqual(UPDATES.updates);
  });

  it('plans one kind of host: a valid staged plan with the candidate versions', () => {
    const plan = buildUpdatesPlan(UPDATES, { name: 'jammy', match: parseMatchFlag('os=ubuntu-22.04'), now: NOW });
    expect(plan.packages).toEqual({ systemd: '249.11-0ubuntu3.7' });
    expect(plan.hosts).toEqual(['web-1', 'web-2']);
    const { plan: parsed, problems } = checkPlan(plan.yaml, 'p.yaml');
    expect(problems).toEqual([]);
    expect(parsed?.change).toEqual({ kind: 'apt', install: { systemd: '249.11-0ubuntu3.7' }, remove: [], timeout: 900_000 });
    expect(parsed?.hosts.match).toEqual({ os: 'ubuntu-22.04' });
    expect(plan.yaml).toContain('#   systemd 249.11-0ubuntu3.7: pending on web-1, web-2');
  });

  it('refuses a package with different candidates on the targeted hosts, naming them', () => {
    expect(() => buildUpdatesPlan(UPDATES, { name: 'all', match: {}, now: NOW })).toThrow(
      /systemd has different candidate versions on the targeted hosts \(249\.11-0ubuntu3\.7 on web-1, web-2; 252\.22-1~deb12u1 on db-1\)/,
    );
  });

  it('refuses to install a package newly on a targeted host that does not have it', () => {
    const view: UpdatesView = { ...UPDATES, hosts: [...UPDATES.hosts, host('web-3', { os: 'ubuntu-22.04' }, { systemd: null })] };
    expect(() => buildUpdatesPlan(view, { name: 'jammy', match: { os: 'ubuntu-22.04' }, now: NOW })).toThrow(/systemd is not installed on web-3/);
  });

  it('warns about targeted hosts that report no pending updates', () => {
    const view: UpdatesView = { ...UPDATES, hosts: [...UPDATES.hosts, { ...host('web-9', { os: 'ubuntu-22.04' }), checkedAt: null }] };
    const plan = buildUpdatesPlan(view, { name: 'jammy', match: { os: 'ubuntu-22.04' }, now: NOW });
    expect(plan.warnings.join('\n')).toContain('web-9');
  });

  it('fails when nothing is pending, and refuses bad names and selectors', () => {
    expect(() => buildUpdatesPlan(UPDATES, { name: 'x', match: { os: 'centos' }, now: NOW })).toThrow(/nothing to plan/);
    expect(() => buildUpdatesPlan(UPDATES, { name: 'bad name', match: {}, now: NOW })).toThrow(/--name/);
    expect(() => parseMatchFlag('os')).toThrow(/label=value/);
  });
});

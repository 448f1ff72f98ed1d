import { describe, expect, it } from 'vitest';
import type { HostView } from './api-client.ts';
import { formatLabels, hostsJson, renderHostsTable } from './render-hosts.ts';

const now = Date.UTC(2025, 0, 1, 12, 0, 0);
const hosts: HostView[] = [
  { name: 'web-10', labels: { zone: 'b', env: 'prod' }, status: 'offline', lastSeen: now - 3 * 3_600_000, facts: { kernel: '6.1.0' } },
  { name: 'db-1', labels: {}, status: 'online', lastSeen: now - 3_000, facts: {} },
];

describe('hostsJson', () => {
  it('has exactly name, labels, status, lastSeen as ISO-8601, and facts', () => {
    expect(hostsJson(hosts)).toEqual([
      { name: 'web-10', labels: { zone: 'b', env: 'prod' }, status: 'offline', lastSeen: '2025-01-01T09:00:00.000Z', facts: { kernel: '6.1.0' } },
      { name: 'db-1', labels: {}, status: 'online', lastSeen: '2025-01-01T11:59:57.000Z', facts: {} },
    ]);
  });
});

describe('renderHostsTable', () => {
  it('aligns columns, sorts by name, shows relative times and sorted labels', () => {
    expect(renderHostsTable(hosts, { now, color: false })).toBe(
      [
        'NAME    STATUS   LAST-SEEN  LABELS',
        'db-1    online   3s ago',
        'web-10  offline  3h ago     env=prod,zone=b',
        '',
      ].join('\n'),
    );
  });

  it('keeps columns aligned when colours are on', () => {
    const lines = renderHostsTable(hosts, { now, color: true }).split('\n');
    expect(lines[1]).toContain('\x1b[32monline\x1b[39m');
    // The colour codes add no visible width: LAST-SEEN starts at the same column on every line.
    const visible = lines.map((l) => l.replace(/\x1b\[[0-9;]*m/g, ''));
    expect(visible[1]?.indexOf('3s ago')).toBe(visible[0]?.indexOf('LAST-SEEN'));
    expect(visible[2]?.indexOf('3h ago')).toBe(visible[0]?.indexOf('LAST-SEEN'));
  });

  it('says how to enroll a host when there is none', () => {
    expect(renderHostsTable([], { now, color: false })).toMatch(/No hosts enrolled yet.*sluice agent/);
  });

  it.each([
    [{}, ''],
    [{ b: '2', a: '1' }, 'a=1,b=2'],
  ])('formatLabels(%j) = %j', (labels, expected) => {
    expect(formatLabels(labels)).toBe(expected);
  });
});

describe('renderHostsTable with host-provided text', () => {
  it('prints names and labels without terminal control sequences', () => {
    const nasty: HostView[] = [{ name: 'h\x1b[2J1', labels: { role: 'a\x1b]0;title\x07b\rc' }, status: 'online', lastSeen: now, facts: {} }];
    const out = renderHostsTable(nasty, { now, color: false });
    expect(out).toContain('h1');
    expect(out).toContain('role=abc');
    expect(out).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/);
  });
});

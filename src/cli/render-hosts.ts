// `sluice hosts`: the fleet as an aligned table, or as the stable JSON shape scripts rely on.
import type { HostView } from './api-client.ts';
import { createPaint, styleForState } from './render-style.ts';
import { renderTable } from './render-table.ts';
import { formatAgo, toIso } from './render-time.ts';
import { stripTerminalControlsDeep } from '../core/text.ts';

export interface HostJson {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly status: string;
  readonly lastSeen: string | null;
  /** What the agent last reported: OS, kernel, packages, apt state, networkd settings, routing. */
  readonly facts: Record<string, unknown>;
}

/**
 * DESIGN.md's `hosts --json` shape `[{name, labels, status, lastSeen}]` (lastSeen as ISO-8601),
 * plus the host's `facts`.
 */
export function hostsJson(hosts: readonly HostView[]): HostJson[] {
  return hosts.map((h) => ({ name: h.name, labels: { ...h.labels }, status: h.status, lastSeen: toIso(h.lastSeen), facts: h.facts }));
}

export function formatLabels(labels: Readonly<Record<string, string>>): string {
  return Object.keys(labels)
    .sort()
    .map((key) => `${key}=${labels[key] ?? ''}`)
    .join(',');
}

export function renderHostsTable(raw: readonly HostView[], options: { now: number; color: boolean }): string {
  // Names, labels and status come from hosts (and a server of another version): print them inert.
  const hosts = stripTerminalControlsDeep(raw.map((h) => ({ ...h, facts: {} })));
  if (hosts.length === 0) return 'No hosts enrolled yet. Start an agent: sluice agent --server URL --token ENROLL_TOKEN\n';
  const paint = createPaint(options.color);
  const sorted = [...hosts].sort((a, b) => a.name.localeCompare(b.name));
  return renderTable([
    ['NAME', 'STATUS', 'LAST-SEEN', 'LABELS'].map((h) => paint('bold', h)),
    ...sorted.map((h) => [h.name, paint(styleForState(h.status), h.status), formatAgo(h.lastSeen, options.now), formatLabels(h.labels)]),
  ]);
}

// `sluice hosts` over a large fleet: counts by status, and per value of one label (--by), instead
// of one line per host.
import type { HostsSummaryView } from './api-client.ts';
import { formatLabels } from './render-hosts.ts';
import { createPaint } from './render-style.ts';
import { renderTable } from './render-table.ts';
import { stripTerminalControlsDeep } from '../core/text.ts';

export interface HostsSummaryOptions {
  readonly color: boolean;
  readonly labels: Readonly<Record<string, string>>;
  /** Why counts are shown instead of hosts (null: asked for with --by). */
  readonly over: number | null;
}

export function renderHostsSummary(raw: HostsSummaryView, options: HostsSummaryOptions): string {
  const summary = stripTerminalControlsDeep(raw); // label values come from hosts
  const paint = createPaint(options.color);
  const filter = Object.keys(options.labels).length > 0 ? ` with ${formatLabels(options.labels)}` : '';
  const lines = [
    `${summary.total} host${summary.total === 1 ? '' : 's'}${filter}: ${paint('green', `${summary.online} online`)}, ${paint(summary.offline > 0 ? 'red' : undefined, `${summary.offline} offline`)}`,
  ];
  let out = `${lines.join('\n')}\n`;
  if (summary.by) {
    const key = summary.by.key;
    out += `\n${renderTable([
      [key.toUpperCase(), 'HOSTS', 'ONLINE', 'OFFLINE'].map((h) => paint('bold', h)),
      ...summary.by.values.map((v) => [v.value ?? paint('dim', `(no ${key})`), String(v.total), String(v.online), v.offline > 0 ? paint('red', String(v.offline)) : '0']),
    ])}`;
    if (summary.by.truncated) out += paint('dim', `(only the ${summary.by.values.length} largest groups)\n`);
  }
  if (options.over !== null) {
    out += `\n${paint('dim', `Over ${options.over} hosts: counts only. List them with --all; narrow with --label KEY=VALUE, --status offline; count by a label with --by zone.`)}\n`;
  }
  return out;
}

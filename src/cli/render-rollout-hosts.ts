// `rollout status --hosts / --state / --wave`: a rollout's host steps as one aligned table (the
// pages fetched from GET /v1/rollouts/:id/hosts), and the large-rollout JSON filled from them.
import type { RolloutHostView, RolloutView } from './api-client.ts';
import { createPaint, styleForState } from './render-style.ts';
import { renderTable } from './render-table.ts';
import { formatAgo } from './render-time.ts';
import { stripTerminalControlsDeep } from '../core/text.ts';

export function renderRolloutHostsTable(raw: readonly RolloutHostView[], options: { now: number; color: boolean; filtered: boolean }): string {
  // Names and messages are host output: print them inert.
  const hosts = stripTerminalControlsDeep(raw);
  if (hosts.length === 0) return options.filtered ? 'No host of this rollout matches.\n' : 'No hosts in this rollout yet.\n';
  const paint = createPaint(options.color);
  return renderTable([
    ['WAVE', 'HOST', 'STATE', 'UPDATED', 'MESSAGE'].map((h) => paint('bold', h)),
    ...hosts.map((h) => [h.wave ?? String(h.waveIndex), h.name, paint(styleForState(h.state), h.state), formatAgo(h.updatedAt, options.now), oneLine(h.message)]),
  ]);
}

/** The view with every wave's hosts taken from the pages (a large rollout's view leaves them out). */
export function withPagedHosts(view: RolloutView, hosts: readonly RolloutHostView[]): RolloutView {
  const byWave = new Map<number, RolloutHostView[]>();
  for (const h of hosts) {
    let list = byWave.get(h.waveIndex);
    if (!list) byWave.set(h.waveIndex, (list = []));
    list.push(h);
  }
  return {
    ...view,
    waves: view.waves.map((w, i) => ({
      ...w,
      hosts: (byWave.get(w.index ?? i) ?? []).map((h) => ({ name: h.name, state: h.state, message: h.message, updatedAt: h.updatedAt })),
    })),
  };
}

function oneLine(message: string | null): string {
  if (message === null) return '';
  const line = message.replace(/\s+/g, ' ').trim();
  return line.length > 120 ? `${line.slice(0, 117)}...` : line;
}

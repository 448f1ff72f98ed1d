// `sluice rollout status` and `rollout list`: a rollout as terminal text (header, one line per wave
// with a progress bar and counts, the failed hosts with their messages) and as stable JSON.
import type { HostStepView, RolloutSummary, RolloutView, WaveView } from './api-client.ts';
import { createPaint, styleForState } from './render-style.ts';
import type { Paint } from './render-style.ts';
import { renderTable } from './render-table.ts';
import { formatAgo, formatDuration, toIso } from './render-time.ts';
import { stripTerminalControlsDeep } from '../core/text.ts';

export interface RenderOptions {
  readonly now: number;
  readonly color: boolean;
}

export interface RolloutStatusJson {
  readonly id: string;
  readonly name: string;
  readonly state: string;
  readonly reason: string | null;
  readonly createdAt: string | null;
  readonly updatedAt: string | null;
  readonly waves: { name: string; state: string; hosts: { name: string; state: string; message: string | null }[] }[];
  /** Hosts that reverted the change by themselves (commit-confirmed): not a plain success. */
  readonly revertedHosts: number;
  /** Targeted hosts left out as ineligible (offline, or cannot run the plan). */
  readonly skippedHosts: number;
  /** Set while the server holds the rollout because it suspects itself. */
  readonly heldReason: string | null;
  /** Why a running rollout does not move on (window, freeze, fleet-wide limits); null: it is not waiting. */
  readonly waiting: string | null;
  /** Hosts whose rollback failed or is not confirmed yet. */
  readonly unconfirmedRollbacks: number;
}

/** DESIGN.md's `rollout status --json`: `{id, name, state, waves: [{name, state, hosts: [{name, state}]}]}` plus a few fields. */
export function rolloutStatusJson(view: RolloutView): RolloutStatusJson {
  return {
    id: view.id,
    name: view.name,
    state: view.state,
    reason: view.reason,
    createdAt: toIso(view.createdAt),
    updatedAt: toIso(view.updatedAt),
    waves: view.waves.map((w) => ({
      name: w.name,
      state: w.state,
      hosts: w.hosts.map((h) => ({ name: h.name, state: h.state, message: h.message })),
    })),
    revertedHosts: view.revertedHosts ?? 0,
    skippedHosts: view.skippedHosts ?? 0,
    heldReason: view.heldReason ?? null,
    waiting: view.waiting ?? null,
    unconfirmedRollbacks: view.unconfirmedRollbacks ?? 0,
  };
}

/** What a watcher compares to decide whether anything worth printing again has changed. */
export function rolloutSignature(view: RolloutView): string {
  const { updatedAt: _ignored, ...rest } = rolloutStatusJson(view);
  // A large rollout's waves carry counts and no hosts: their counts are what changes.
  return JSON.stringify({ ...rest, pendingWaves: view.pendingWaves, counts: view.waves.map((w) => w.counts ?? null) });
}

// Host step states in the order counts are shown; `pending` hosts were never assigned yet.
const COUNTED: readonly (readonly [string, string])[] = [
  ['applying', 'applying'],
  ['verifying', 'verifying'],
  ['failed', 'failed'],
  ['silent', 'silent'],
  ['rolling_back', 'rolling back'],
  ['rolled_back', 'rolled back'],
  ['skipped', 'skipped'],
  ['pending', 'waiting'],
];

export function countHostStates(hosts: readonly HostStepView[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const host of hosts) counts.set(host.state, (counts.get(host.state) ?? 0) + 1);
  return counts;
}

/** A wave's steps by state, and how many there are: from the hosts, or from counts alone. */
export interface StateTally {
  readonly counts: ReadonlyMap<string, number>;
  readonly total: number;
}

function tallyOf(hosts: readonly HostStepView[] | StateTally): StateTally {
  if (!Array.isArray(hosts)) return hosts as StateTally;
  const list = hosts as readonly HostStepView[];
  return { counts: countHostStates(list), total: list.length };
}

/** The wave's counts as the server sent them (every wave of a large rollout), else from its hosts. */
export function waveTally(wave: Pick<WaveView, 'hosts' | 'counts'>): StateTally {
  if (wave.counts === undefined) return tallyOf(wave.hosts);
  const counts = new Map<string, number>();
  let total = 0;
  for (const [state, n] of Object.entries(wave.counts)) {
    if (n > 0) counts.set(state, n);
    total += n;
  }
  return { counts, total };
}

export function formatWaveCounts(hosts: readonly HostStepView[] | StateTally, paint: Paint = createPaint(false)): string {
  const { counts, total } = tallyOf(hosts);
  if (total === 0) return 'no hosts';
  const parts = [paint(styleForState('healthy'), `${counts.get('healthy') ?? 0}/${total} healthy`)];
  for (const [state, label] of COUNTED) {
    const n = counts.get(state) ?? 0;
    if (n > 0) parts.push(paint(styleForState(state), `${n} ${label}`));
  }
  const known = new Set(['healthy', ...COUNTED.map(([state]) => state)]);
  for (const [state, n] of counts) if (!known.has(state)) parts.push(`${n} ${state}`);
  return parts.join(', ');
}

export const BAR_WIDTH = 20;

/** `[####xx--------------]`: healthy hosts as `#`, failed or silent ones as `x`, the rest `-`. */
export function renderProgressBar(hosts: readonly HostStepView[] | StateTally, paint: Paint = createPaint(false), width = BAR_WIDTH): string {
  const { counts, total } = tallyOf(hosts);
  if (total === 0) return `[${'-'.repeat(width)}]`;
  const healthy = counts.get('healthy') ?? 0;
  const bad = (counts.get('failed') ?? 0) + (counts.get('silent') ?? 0);
  // A single failed host among thousands must still show, so any non-zero count gets a cell.
  const badCells = bad > 0 ? Math.max(1, Math.round((bad / total) * width)) : 0;
  let goodCells = healthy > 0 ? Math.max(1, Math.round((healthy / total) * width)) : 0;
  if (healthy + bad === total) goodCells = width - badCells;
  // Only a wave with no host left in progress gets a full bar.
  else if (goodCells + badCells >= width) goodCells = Math.max(0, width - badCells - 1);
  const rest = width - goodCells - badCells;
  return `[${paint('green', '#'.repeat(goodCells))}${paint('red', 'x'.repeat(badCells))}${'-'.repeat(rest)}]`;
}

function waveNote(wave: WaveView, view: RolloutView, now: number): string {
  if (wave.state === 'baking' && wave.bakeEndsAt !== null) {
    const left = wave.bakeEndsAt - now;
    return left > 0 ? `bake ${formatDuration(left)} left` : 'bake ending';
  }
  if (wave.state === 'awaiting_approval') return `waiting for approval: sluice rollout approve ${view.id}`;
  const approval = (view.approvals ?? []).find((a) => a.wave === wave.name && a.by !== null);
  if (approval) return `approved by ${approval.by}`;
  return '';
}

/** Over this many hosts in a rollout, `rollout status` shows counts and a few failed hosts per wave, not all of them. */
export const SUMMARY_OVER = 50;
/** Failed hosts named per wave in the summary of a large rollout. */
export const FAILED_SHOWN = 10;

/** Failed and silent hosts, and rolled-back hosts that carry the reason they failed. */
function failedHostLines(wave: WaveView, paint: Paint, limit: number, id: string): string[] {
  const hasMessage = (h: WaveView['hosts'][number]) => h.message !== null && h.message !== '';
  const failed = wave.hosts.filter((h) => h.state === 'failed' || h.state === 'silent' || (h.state === 'rolled_back' && hasMessage(h)));
  const lines = failed.slice(0, limit).map((h) => `      ${paint('red', 'x')} ${h.name} ${paint('red', h.state)}${hasMessage(h) ? `: ${h.message}` : ''}`);
  // The wave's own counts say how many failed, even when only a few hosts were fetched.
  const tally = waveTally(wave);
  const bad = Math.max(failed.length, (tally.counts.get('failed') ?? 0) + (tally.counts.get('silent') ?? 0));
  if (bad > lines.length) {
    lines.push(paint('dim', `      and ${bad - lines.length} more: sluice rollout status ${id} --state failed,silent --wave ${wave.name}`));
  }
  return lines;
}

export function renderRolloutStatus(raw: RolloutView, options: RenderOptions): string {
  const view = stripTerminalControlsDeep(raw); // host messages are host output: print them inert
  const paint = createPaint(options.color);
  const lines: string[] = [];
  lines.push(`${paint('bold', view.name)}  ${paint('dim', view.id)}  ${paint(styleForState(view.state), view.state)}`);
  if (view.reason !== null && view.reason !== '') lines.push(`reason: ${view.reason}`);
  if ((view.revertedHosts ?? 0) > 0) lines.push(paint('red', `${view.revertedHosts} host${view.revertedHosts === 1 ? '' : 's'} reverted the change by themselves (commit-confirmed): not a success`));
  if ((view.skippedHosts ?? 0) > 0) lines.push(`${view.skippedHosts} host${view.skippedHosts === 1 ? '' : 's'} skipped as ineligible (offline, or cannot run the plan)`);
  if (view.heldReason) lines.push(paint('yellow', `held by the server: ${view.heldReason}`));
  if (view.waiting) lines.push(paint('yellow', view.waiting));
  if ((view.unconfirmedRollbacks ?? 0) > 0) lines.push(paint('red', `${view.unconfirmedRollbacks} host${view.unconfirmedRollbacks === 1 ? '' : 's'} not confirmed rolled back: sluice rollout rollback ${view.id} asks them again`));
  const by = view.startedBy ? ` by ${view.startedBy}` : '';
  lines.push(paint('dim', `created ${formatAgo(view.createdAt, options.now)}${by}, updated ${formatAgo(view.updatedAt, options.now)}`));
  lines.push('');

  const waveRows = view.waves.map((w) => [
    `  ${w.name}`,
    paint(styleForState(w.state), w.state),
    renderProgressBar(waveTally(w), paint),
    formatWaveCounts(waveTally(w), paint),
    paint('dim', waveNote(w, view, options.now)),
  ]);
  const pendingRows = view.pendingWaves.map((name) => [`  ${name}`, paint('dim', 'not started'), '', '', '']);
  if (waveRows.length + pendingRows.length === 0) {
    lines.push('  no waves yet');
  } else {
    const rendered = renderTable([...waveRows, ...pendingRows]).split('\n');
    const total = view.hostsTotal ?? view.waves.reduce((n, w) => n + waveTally(w).total, 0);
    const limit = total > SUMMARY_OVER ? FAILED_SHOWN : Number.POSITIVE_INFINITY;
    view.waves.forEach((wave, i) => {
      lines.push(rendered[i] ?? '');
      lines.push(...failedHostLines(wave, paint, limit, view.id));
    });
    lines.push(...rendered.slice(view.waves.length, view.waves.length + pendingRows.length));
    if (total > SUMMARY_OVER) {
      lines.push('', paint('dim', `${total} hosts: counts per wave. Every host: sluice rollout status ${view.id} --hosts (or --state STATE, --wave WAVE)`));
    }
  }
  return lines.join('\n') + '\n';
}

export function rolloutListJson(rollouts: readonly RolloutSummary[]): {
  id: string;
  name: string;
  state: string;
  reason: string | null;
  createdAt: string | null;
  updatedAt: string | null;
}[] {
  return rollouts.map((r) => ({
    id: r.id,
    name: r.name,
    state: r.state,
    reason: r.reason,
    createdAt: toIso(r.createdAt),
    updatedAt: toIso(r.updatedAt),
  }));
}

export function renderRolloutList(raw: readonly RolloutSummary[], options: RenderOptions): string {
  const rollouts = stripTerminalControlsDeep(raw); // reasons quote host output
  if (rollouts.length === 0) return 'No rollouts yet. Start one: sluice rollout start PLAN.yaml\n';
  const paint = createPaint(options.color);
  return renderTable([
    ['ID', 'NAME', 'STATE', 'CREATED', 'REASON'].map((h) => paint('bold', h)),
    ...rollouts.map((r) => [r.id, r.name, paint(styleForState(r.state), r.state), formatAgo(r.createdAt, options.now), r.reason ?? '']),
  ]);
}

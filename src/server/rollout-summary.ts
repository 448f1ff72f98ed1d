// A rollout seen at fleet scale: counts by wave and state come from one aggregate query, and the
// per-host steps are embedded in GET /v1/rollouts/:id only while the rollout is small. Beyond
// EMBED_STEPS_MAX the view carries counts only and points at the paged list
// (GET /v1/rollouts/:id/hosts), so a 100,000-host rollout is never one giant answer.
import { STEP_STATES } from '../core/types.ts';
import type { StepStatus } from '../core/types.ts';
import type { RolloutHeader, StepCountRow, Store, StoredRollout } from '../store/store.ts';

/** Rollouts with at most this many steps embed them in GET /v1/rollouts/:id. */
export const EMBED_STEPS_MAX = 1000;

export type StepCounts = Record<StepStatus, number>;

export interface CountedRollout {
  readonly header: RolloutHeader;
  readonly counts: readonly StepCountRow[];
  readonly total: number;
}

function emptyCounts(): StepCounts {
  return Object.fromEntries(STEP_STATES.map((s) => [s, 0])) as StepCounts;
}

export async function countRollout(store: Store, id: string): Promise<CountedRollout | null> {
  const header = await store.loadRolloutHeader(id);
  if (!header) return null;
  const counts = await store.countSteps(id);
  return { header, counts, total: counts.reduce((n, c) => n + c.count, 0) };
}

/**
 * What GET /v1/rollouts/:id renders: the stored rollout with its steps when there are at most
 * EMBED_STEPS_MAX of them, with none otherwise (the counts say how many there are).
 */
export async function loadRolloutForView(store: Store, id: string): Promise<{ stored: StoredRollout; counted: CountedRollout } | null> {
  const counted = await countRollout(store, id);
  if (!counted) return null;
  const steps = counted.total <= EMBED_STEPS_MAX ? await store.listStepsPage(id, { limit: EMBED_STEPS_MAX }) : [];
  return { stored: { ...counted.header, planSource: '', steps }, counted };
}

function countsByWave(counted: CountedRollout): { perWave: Map<number, StepCounts>; all: StepCounts; unconfirmed: number } {
  const perWave = new Map<number, StepCounts>();
  const all = emptyCounts();
  let unconfirmed = 0;
  for (const row of counted.counts) {
    let wave = perWave.get(row.waveIndex);
    if (!wave) perWave.set(row.waveIndex, (wave = emptyCounts()));
    wave[row.state] = (wave[row.state] ?? 0) + row.count;
    all[row.state] = (all[row.state] ?? 0) + row.count;
    unconfirmed += row.unconfirmedRollbacks;
  }
  return { perWave, all, unconfirmed };
}

/**
 * Adds counts to a rollout view (operator-routes' rolloutView): per wave `hostCount` and
 * `counts`, and at the top `hostsTotal`, `counts` and `hostsIncluded` (false: the waves' `hosts`
 * are left out; page through GET /v1/rollouts/:id/hosts).
 */
export function withStepCounts(view: Record<string, unknown>, counted: CountedRollout): Record<string, unknown> {
  const { perWave, all, unconfirmed } = countsByWave(counted);
  const included = counted.total <= EMBED_STEPS_MAX;
  const waves = Array.isArray(view.waves) ? (view.waves as Record<string, unknown>[]) : [];
  return {
    ...view,
    hostsTotal: counted.total,
    hostsIncluded: included,
    counts: all,
    unconfirmedRollbacks: unconfirmed,
    waves: waves.map((w, i) => {
      const index = counted.header.waves[i]?.index ?? i;
      const counts = perWave.get(index) ?? emptyCounts();
      return { ...w, index, hostCount: sum(counts), counts };
    }),
  };
}

/** GET /v1/rollouts/:id/summary: a counted view (withStepCounts) without any host. */
export function summaryOfView(view: Record<string, unknown>): Record<string, unknown> {
  const { hostsIncluded: _included, waves, ...rest } = view;
  return {
    ...rest,
    waves: (Array.isArray(waves) ? (waves as Record<string, unknown>[]) : []).map(({ hosts: _hosts, ...wave }) => wave),
  };
}

function sum(counts: StepCounts): number {
  return Object.values(counts).reduce((n, c) => n + c, 0);
}

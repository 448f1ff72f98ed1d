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

/** GET /v1/rollouts/:id/summary: the rollout, and per wave its counts by step state; no hosts. */
export function rolloutSummaryView(counted: CountedRollout): Record<string, unknown> {
  const { rollout, plan, waves } = counted.header;
  const { perWave, all, unconfirmed } = countsByWave(counted);
  const notStarted = rollout.state === 'running' || rollout.state === 'paused' || rollout.state === 'pending' || rollout.state === 'queued';
  return {
    id: rollout.id,
    name: rollout.name,
    state: rollout.state,
    reason: rollout.reason,
    createdAt: rollout.createdAt,
    updatedAt: rollout.updatedAt,
    failedTotal: rollout.failedTotal,
    revertedHosts: rollout.revertedHosts ?? 0,
    skippedHosts: rollout.skippedHosts ?? 0,
    heldReason: rollout.heldReason ?? null,
    unconfirmedRollbacks: unconfirmed,
    hostsTotal: counted.total,
    counts: all,
    waves: waves.map((w) => {
      const counts = perWave.get(w.index) ?? emptyCounts();
      const bake = plan.waves[w.specIndex]?.bake ?? 0;
      return {
        index: w.index,
        name: w.name,
        state: w.state,
        startedAt: w.startedAt,
        bakeStartedAt: w.bakeStartedAt,
        bakeEndsAt: w.bakeStartedAt === null ? null : w.bakeStartedAt + bake,
        finishedAt: w.finishedAt,
        failed: w.failed,
        hostCount: sum(counts),
        counts,
      };
    }),
    pendingWaves: notStarted ? plan.waves.slice(rollout.nextSpec).map((w) => w.name) : [],
  };
}

function sum(counts: StepCounts): number {
  return Object.values(counts).reduce((n, c) => n + c, 0);
}

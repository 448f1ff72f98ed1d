// The cases test/sim-pinned.test.ts holds the simulator to: built-in scenarios and plans, several
// seeds, at small scale, plus a good change (breaks nothing) that goes through every wave of the
// datadog plan. Their figures were recorded before the simulator was optimised (the heartbeat-free
// silence model): an optimisation must not change any of them.
import { createHash } from 'node:crypto';
import type { Plan } from '../src/core/types.ts';
import type { Scenario } from '../src/sim/scenario.ts';
import type { SimResult, TimelinePoint } from '../src/sim/simulate.ts';
import { withHarmlessChange } from '../src/sim/variants.ts';

export interface PinnedCase {
  readonly id: string;
  readonly scenario: string;
  readonly plan?: string;
  readonly hosts: number;
  readonly seed: number;
  /** The same change, fixed: it breaks no host, so the plan goes through every wave. */
  readonly good?: boolean;
  /** Plan variants that make hosts go silent: only the tcp check (no invariant check, so a cut-off
   * host does not roll back at once), and a budget that lets 40% of each wave fail. */
  readonly tcpOnly?: boolean;
  readonly lenient?: boolean;
  /** Only Azure hosts break (so waves go on with some failures). */
  readonly azureOnly?: boolean;
}

export const PINNED_CASES: readonly PinnedCase[] = [
  { id: 'datadog-s1', scenario: 'datadog-2023', hosts: 3000, seed: 1 },
  { id: 'datadog-s7', scenario: 'datadog-2023', hosts: 3000, seed: 7 },
  { id: 'datadog-good-s1', scenario: 'datadog-2023', hosts: 600, seed: 1, good: true },
  { id: 'datadog-good-s3', scenario: 'datadog-2023', hosts: 400, seed: 3, good: true },
  { id: 'datadog-tcp-s1', scenario: 'datadog-2023', hosts: 3000, seed: 1, tcpOnly: true },
  { id: 'datadog-tcp-lenient-s2', scenario: 'datadog-2023', hosts: 1500, seed: 2, tcpOnly: true, lenient: true },
  { id: 'datadog-lenient-s4', scenario: 'datadog-2023', hosts: 1500, seed: 4, lenient: true },
  { id: 'datadog-azure-tcp-lenient-s1', scenario: 'datadog-2023', hosts: 800, seed: 1, tcpOnly: true, lenient: true, azureOnly: true },
  { id: 'datadog-azure-tcp-lenient-s3', scenario: 'datadog-2023', hosts: 600, seed: 3, tcpOnly: true, lenient: true, azureOnly: true },
  { id: 'datadog-azure-lenient-s6', scenario: 'datadog-2023', hosts: 500, seed: 6, lenient: true, azureOnly: true },
  { id: 'kops-s1', scenario: 'kops-2025', hosts: 2000, seed: 1 },
  { id: 'kops-tcp-s2', scenario: 'kops-2025', plan: 'kops-2025-tcp-only', hosts: 600, seed: 2 },
  { id: 'heroku-s1', scenario: 'heroku-2025', hosts: 2000, seed: 1 },
  { id: 'heroku-s5', scenario: 'heroku-2025', hosts: 1000, seed: 5 },
  { id: 'gcp-s1', scenario: 'gcp-2025', hosts: 2000, seed: 1 },
  { id: 'gcp-s9', scenario: 'gcp-2025', hosts: 700, seed: 9 },
];


export function variantScenario(c: PinnedCase, s: Scenario): Scenario {
  if (c.good) return withHarmlessChange(s);
  if (c.azureOnly) return { ...s, change: { ...s.change, breaks: { ...s.change.breaks, match: { provider: 'azure' } } } };
  return s;
}

/**
 * A timeline point as it was when the figures were recorded: the peak since the point before and
 * capacity lost came later (each is tested on its own).
 */
const recordedPoint = ({ t, impairedPct, terminatedPct }: TimelinePoint) => ({ t, impairedPct, terminatedPct });

/** What is pinned: every figure but the event counts (which the optimisation is meant to cut) and the capacity-lost figures added since. */
export function pinnedView(r: SimResult) {
  const run = (x: SimResult['runs']['uncontrolled']) => {
    const { events: _events, peakCapacityLostPct: _lost, timeline: points, regions: all, ...figures } = x;
    const timeline = points.map(recordedPoint);
    const regions = all.map(({ peakCapacityLostPct: _l, timeline: t, ...region }) => ({ ...region, timeline: t.map(recordedPoint) }));
    const digest = createHash('sha256')
      .update(JSON.stringify({ timeline, regions }))
      .digest('hex')
      .slice(0, 16);
    return { ...figures, timelinesDigest: digest };
  };
  return { uncontrolled: run(r.runs.uncontrolled), controlled: run(r.runs.controlled) };
}

export function variantPlan(c: PinnedCase, plan: Plan): Plan {
  let p = plan;
  if (c.tcpOnly) p = { ...p, checks: p.checks.filter((k) => k.kind === 'tcp') };
  if (c.lenient) p = { ...p, budget: { ...p.budget, failedPerWave: { percent: 40 }, failedTotal: { percent: 40 } } };
  return p;
}

export type Loader = (name: string, plan?: string) => { scenario: Scenario; plan: Plan };

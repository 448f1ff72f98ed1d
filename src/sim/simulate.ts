// The incident-rehearsal simulator (`sluice sim run`): a discrete-event simulation of a fleet
// that runs a scenario twice on one seed, as it happened (uncontrolled) and through a plan driven
// by the real rollout engine (controlled), and reports both. Pure: no clock, no I/O, seeded random.
import type { Plan } from '../core/types.ts';
import { generateFleet } from './fleet.ts';
import type { Fleet } from './fleet.ts';
import { runControlled } from './run-controlled.ts';
import type { WaveSummary } from './run-controlled.ts';
import { runUncontrolled } from './run-uncontrolled.ts';
import type { Scenario } from './scenario.ts';
import { MINUTE } from './world.ts';
import type { World } from './world.ts';

export interface TimelinePoint {
  t: string;
  /** Impaired at the instant `t`. */
  impairedPct: number;
  terminatedPct: number;
  /** The most impaired at once since the point before (up to and including `t`): impairments shorter than a minute show here. */
  peakImpairedPct: number;
  /** Share of the capacity lost at that instant: impaired hosts, each counted for the share of its requests that fail. */
  capacityLostPct: number;
}

export interface RegionResult {
  name: string;
  provider: string;
  hosts: number;
  peakImpairedPct: number;
  peakCapacityLostPct: number;
  terminatedPct: number;
  /** When the region last went back to no impaired host (null: never impaired, or still impaired at the end). */
  recoveredAt: string | null;
  timeline: TimelinePoint[];
}

export interface RolloutResult {
  plan: string;
  state: string;
  reason: string | null;
  firstFailureAt: string | null;
  waves: { name: string; state: string; hosts: number; failed: number; startedAt: string | null; finishedAt: string | null }[];
}

export interface RunResult {
  hostsChanged: number;
  impairedHosts: number;
  peakImpaired: number;
  peakImpairedPct: number;
  /** Most capacity lost at the same instant, % of the fleet's (equal to peakImpairedPct unless hosts fail only a share of their requests). */
  peakCapacityLostPct: number;
  terminated: number;
  terminatedPct: number;
  dataBearingLost: number;
  dataBearingLostPct: number;
  firstImpairedAt: string | null;
  lastImpairedAt: string | null;
  haltedAt: string | null;
  events: number;
  rollout: RolloutResult | null;
  /** The guarded run only: what the remediation guard answered the auto-healers. */
  guard?: { asked: number; denied: number; deniedHosts: number; lastDenial: string | null };
  timeline: TimelinePoint[];
  regions: RegionResult[];
}

export interface SimResult {
  scenario: string;
  /** The scenario's description (one line for people). */
  description?: string;
  seed: number;
  hosts: number;
  start: string;
  end: string;
  /** `guarded` when the scenario has a remediation guard: as it happened, with the guard in front of auto-healing. */
  runs: { uncontrolled: RunResult; guarded?: RunResult; controlled: RunResult };
}

export interface SimOptions {
  readonly hosts?: number;
  readonly seed: number;
}

const iso = (t: number | null): string | null => (t === null || Number.isNaN(t) ? null : new Date(t).toISOString());
const pct = (part: number, whole: number, digits = 3): number => {
  if (whole === 0) return 0;
  const f = 10 ** digits;
  return Math.round((part / whole) * 100 * f) / f;
};

function summarise(world: World, fleet: Fleet, events: number, haltedAt: number | null, rollout: RolloutResult | null): RunResult {
  const regions = fleet.regions;
  const r = regions.length;
  const start = world.scenario.start;
  const times: string[] = Array.from({ length: world.sampleCount }, (_, i) => new Date(start + i * MINUTE).toISOString());
  const lost = world.capacityLostShare;
  const point = (t: string, impaired: number, terminated: number, peak: number, hosts: number): TimelinePoint => ({
    t,
    impairedPct: pct(impaired, hosts, 2),
    terminatedPct: pct(terminated, hosts, 2),
    peakImpairedPct: pct(peak, hosts, 2),
    capacityLostPct: pct(impaired * lost, hosts, 2),
  });
  const timeline: TimelinePoint[] = times.map((t, i) => {
    let imp = 0;
    let term = 0;
    for (let j = 0; j < r; j++) {
      imp += world.sampleImpaired[i * r + j]!;
      term += world.sampleTerminated[i * r + j]!;
    }
    return point(t, imp, term, world.sampleFleetPeakImpaired[i]!, fleet.size);
  });
  let bearing = 0;
  for (let h = 0; h < fleet.size; h++) bearing += fleet.dataBearing[h]!;
  return {
    hostsChanged: world.hostsChanged,
    impairedHosts: world.everImpaired,
    peakImpaired: world.peakImpaired,
    peakImpairedPct: pct(world.peakImpaired, fleet.size),
    peakCapacityLostPct: pct(world.peakImpaired * lost, fleet.size),
    terminated: world.terminated,
    terminatedPct: pct(world.terminated, fleet.size),
    dataBearingLost: world.dataBearingLost,
    dataBearingLostPct: pct(world.dataBearingLost, bearing),
    firstImpairedAt: iso(world.firstImpairedAt),
    lastImpairedAt: iso(world.lastImpairedAt),
    haltedAt: iso(haltedAt),
    events,
    rollout,
    timeline,
    regions: regions.map((region, j) => ({
      name: region.name,
      provider: region.provider,
      hosts: region.hosts,
      peakImpairedPct: pct(world.regionPeak[j]!, region.hosts),
      peakCapacityLostPct: pct(world.regionPeak[j]! * lost, region.hosts),
      terminatedPct: pct(world.regionTerminated[j]!, region.hosts),
      recoveredAt: world.regionPeak[j]! > 0 ? iso(world.regionRecoveredAt[j]!) : null,
      timeline: times.map((t, i) => point(t, world.sampleImpaired[i * r + j]!, world.sampleTerminated[i * r + j]!, world.samplePeakImpaired[i * r + j]!, region.hosts)),
    })),
  };
}

function waveResult(w: WaveSummary): RolloutResult['waves'][number] {
  return { name: w.name, state: w.state, hosts: w.hosts, failed: w.failed, startedAt: iso(w.startedAt), finishedAt: iso(w.finishedAt) };
}

/** Runs both variants of the scenario on the same seed and fleet. */
export function simulate(scenario: Scenario, plan: Plan, options: SimOptions): SimResult {
  const hosts = options.hosts ?? scenario.fleet.hosts;
  const fleet = generateFleet(scenario, hosts, options.seed);
  // Each run is summarised as soon as it ends, so its world (per-host arrays) is gone before the next.
  const uncontrolled = (() => {
    const u = runUncontrolled(scenario, fleet, options.seed);
    return summarise(u.world, fleet, u.events, null, null);
  })();
  const guarded = (() => {
    if (!scenario.guard) return null;
    const g = runUncontrolled(scenario, fleet, options.seed, true);
    const guard = { asked: g.world.guardAsked, denied: g.world.guardDenied, deniedHosts: g.world.guardDeniedHosts, lastDenial: g.world.guardLastDenial };
    return { ...summarise(g.world, fleet, g.events, null, null), guard };
  })();
  const c = runControlled(scenario, fleet, plan, options.seed);
  return {
    scenario: scenario.name,
    ...(scenario.description ? { description: scenario.description } : {}),
    seed: options.seed,
    hosts,
    start: new Date(scenario.start).toISOString(),
    end: new Date(scenario.start + scenario.duration).toISOString(),
    runs: {
      uncontrolled,
      ...(guarded ? { guarded } : {}),
      controlled: summarise(c.world, fleet, c.events, c.haltedAt, {
        plan: plan.name,
        state: c.rolloutState,
        reason: c.reason,
        firstFailureAt: iso(c.firstFailureAt),
        waves: c.waves.map(waveResult),
      }),
    },
  };
}

// Shared by the simulator suites: load a built-in scenario and read its timelines.
import { join } from 'node:path';
import { BUILTIN_SCENARIOS_DIR, loadScenario } from '../src/sim/load-scenario.ts';
import type { Scenario } from '../src/sim/scenario.ts';
import type { RegionResult, TimelinePoint } from '../src/sim/simulate.ts';

export const planPath = (name: string) => join(BUILTIN_SCENARIOS_DIR, 'plans', `${name}.yaml`);

export function builtin(name: string, plan?: string) {
  return loadScenario(name, plan === undefined ? undefined : planPath(plan));
}

export function at(timeline: readonly TimelinePoint[], iso: string): TimelinePoint {
  const p = timeline.find((x) => x.t === iso);
  if (!p) throw new Error(`no timeline point at ${iso}`);
  return p;
}

export function region(regions: readonly RegionResult[], name: string): RegionResult {
  const r = regions.find((x) => x.name === name);
  if (!r) throw new Error(`no region ${name}`);
  return r;
}

export function withBackoff(s: Scenario, backoff: 'none' | 'jittered'): Scenario {
  return { ...s, recovery: { ...s.recovery, restart: { ...s.recovery.restart, backoff } } };
}

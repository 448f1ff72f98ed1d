// Fleet: which hosts a plan targets and how a wave spec turns into concrete waves (`each`
// sub-waves, `size`, `spread` strata). Pure and deterministic: the engine, plan analysis and the
// simulator all expand waves here, so a preview shows exactly what a rollout will do.
import type { HostInfo, Plan, Quantity, WaveSpec } from '../types.ts';
import { labelValue, matchesSelector } from './select.ts';

export interface ExpandedWave {
  readonly name: string;
  readonly specIndex: number;
  /** A nested step's wave: its leaf in the spec's step tree (leafSpecs order). */
  readonly leaf?: number;
  /** Sorted by name (code-unit order): the order the engine assigns them in. */
  readonly hosts: string[];
}

/** An expanded wave plus what the engine logs about it. */
export interface ExpandedWaveDetail extends ExpandedWave {
  /** The size `size` asked for; hosts.length is larger when `spread` needed one host per stratum. */
  readonly requested: number;
  /** Distinct strata of the `spread` labels among the candidates (0 without spread). */
  readonly strata: number;
}

// Float noise must not turn 10% of 30 into 3.0000000000000004 and round it up to 4.
const EPSILON = 1e-9;

/**
 * A count, or a percentage of `pool`. 'ceil' (sizes, parallelism): rounded up and at least 1 when
 * the pool is not empty. 'floor' (failure budgets): rounded down, so 10% of 5 hosts allows 0.
 * Counts are returned as given: callers clamp where a count larger than the pool is meaningless.
 */
export function resolveQuantity(q: Quantity, pool: number, mode: 'ceil' | 'floor'): number {
  if ('count' in q) return q.count;
  const exact = (pool * q.percent) / 100;
  if (mode === 'floor') return Math.max(0, Math.floor(exact + EPSILON));
  if (pool <= 0) return 0;
  return Math.max(1, Math.ceil(exact - EPSILON));
}

export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Expands one wave spec over the candidates (targeted hosts no earlier wave took). Filters by
 * spec.match itself, so passing unfiltered candidates is fine.
 */
export function expandWaveSpec(spec: WaveSpec, specIndex: number, candidates: readonly HostInfo[]): ExpandedWave[] {
  return expandWaveSpecDetailed(spec, specIndex, candidates).map(({ name, hosts, leaf }) => ({ name, specIndex, hosts, ...(leaf === undefined ? {} : { leaf }) }));
}

/**
 * The leaves of a wave spec's step tree, depth first: what each nested step's waves run as (its
 * own size, parallel, each, limit, bake, approve; the spec's window). A spec without steps is its
 * own only leaf.
 */
export function leafSpecs(spec: WaveSpec): WaveSpec[] {
  if (!spec.steps) return [spec];
  const out: WaveSpec[] = [];
  for (const step of spec.steps) {
    out.push(...leafSpecs({ ...step, ...(spec.window === undefined ? {} : { window: spec.window }) }));
  }
  return out;
}

function countLeaves(spec: WaveSpec): number {
  return spec.steps ? spec.steps.reduce((n, s) => n + countLeaves(s), 0) : 1;
}

/** Groups of `pool` by the value of `key`, smallest first (ties by value), at most `limit`; hosts without it are left out. */
function groupsBy(pool: readonly HostInfo[], key: string, limit: number | undefined): [string, HostInfo[]][] {
  const groups = new Map<string, HostInfo[]>();
  for (const h of pool) {
    const value = labelValue(h.labels, key);
    if (value === undefined) continue;
    const group = groups.get(value);
    if (group) group.push(h);
    else groups.set(value, [h]);
  }
  const ordered = [...groups.entries()].sort((a, b) => a[1].length - b[1].length || compareStrings(a[0], b[0]));
  return limit === undefined ? ordered : ordered.slice(0, Math.max(0, limit));
}

/**
 * A spec with steps: for each value of its `each` (smallest first; all its hosts without `each`),
 * its steps in order, each over the hosts of that value earlier steps did not take. Waves are
 * named PATH/VALUE/STEP[/VALUE...]; `leaf0` numbers the first leaf of this spec's tree.
 */
function expandSteps(spec: WaveSpec & { steps: readonly WaveSpec[] }, specIndex: number, pool: readonly HostInfo[], prefix: string, leaf0: number): ExpandedWaveDetail[] {
  const groups: [string | null, readonly HostInfo[]][] = spec.each === undefined ? [[null, pool]] : groupsBy(pool, spec.each, spec.limit);
  const out: ExpandedWaveDetail[] = [];
  for (const [value, group] of groups) {
    const base = value === null ? prefix : `${prefix}/${value}`;
    let remaining = group;
    let leaf = leaf0;
    for (const step of spec.steps) {
      const stepPool = remaining.filter((h) => step.match === undefined || matchesSelector(h.labels, step.match));
      const waves = step.steps
        ? expandSteps(step as WaveSpec & { steps: readonly WaveSpec[] }, specIndex, stepPool, `${base}/${step.name}`, leaf)
        : expandWaveSpecDetailed({ ...step, match: {} }, specIndex, stepPool).map((w) => ({ ...w, name: `${base}/${w.name}`, leaf }));
      leaf += countLeaves(step);
      const taken = new Set(waves.flatMap((w) => w.hosts));
      remaining = remaining.filter((h) => !taken.has(h.name));
      out.push(...waves);
    }
  }
  return out;
}

export function expandWaveSpecDetailed(
  spec: WaveSpec,
  specIndex: number,
  candidates: readonly HostInfo[],
): ExpandedWaveDetail[] {
  const pool = candidates.filter((h) => spec.match === undefined || matchesSelector(h.labels, spec.match));
  pool.sort((a, b) => compareStrings(a.name, b.name));
  if (spec.steps) return expandSteps(spec as WaveSpec & { steps: readonly WaveSpec[] }, specIndex, pool, spec.name, 0);
  if (spec.each === undefined) {
    if (pool.length === 0) return [];
    return [{ name: spec.name, specIndex, ...selectHosts(pool, spec) }];
  }
  // Hosts without the `each` label are not in this wave: a later wave may take them.
  const ordered = groupsBy(pool, spec.each, spec.limit);
  return ordered.map(([value, group]) => ({ name: `${spec.name}/${value}`, specIndex, ...selectHosts(group, spec) }));
}

/** `pool` is sorted by name and not empty. */
function selectHosts(pool: readonly HostInfo[], spec: WaveSpec): { hosts: string[]; requested: number; strata: number } {
  const requested =
    spec.size === undefined ? pool.length : Math.min(pool.length, Math.max(1, resolveQuantity(spec.size, pool.length, 'ceil')));
  const spread = spec.spread ?? [];
  if (spread.length === 0) return { hosts: pool.slice(0, requested).map((h) => h.name), requested, strata: 0 };
  // One host per stratum first (the first by name in it), then fill by name. When there are more
  // strata than `size`, the wave grows: covering every stratum is the point of `spread`. Since
  // every stratum is taken, their order never decides membership.
  const chosen = new Set<string>();
  const seen = new Set<string>();
  for (const h of pool) {
    const key = JSON.stringify(spread.map((k) => labelValue(h.labels, k) ?? null));
    if (seen.has(key)) continue;
    seen.add(key);
    chosen.add(h.name);
  }
  for (const h of pool) {
    if (chosen.size >= requested) break;
    chosen.add(h.name);
  }
  return { hosts: pool.filter((h) => chosen.has(h.name)).map((h) => h.name), requested, strata: seen.size };
}

/** Every spec expanded in order as if all hosts are present at start (previews, analysis, simulator). */
export function previewWaves(plan: Plan, hosts: readonly HostInfo[]): ExpandedWave[] {
  let remaining = hosts.filter((h) => matchesSelector(h.labels, plan.hosts.match));
  const out: ExpandedWave[] = [];
  plan.waves.forEach((spec, specIndex) => {
    const waves = expandWaveSpec(spec, specIndex, remaining);
    if (waves.length === 0) return;
    const taken = new Set<string>();
    for (const w of waves) for (const h of w.hosts) taken.add(h);
    remaining = remaining.filter((h) => !taken.has(h.name));
    out.push(...waves);
  });
  return out;
}

// Builds the simulated fleet from a scenario: host names, shared label objects (one per distinct
// label combination, so 100,000 hosts cost a few thousand objects) and compact per-host columns.
import type { HostInfo, Labels } from '../core/types.ts';
import { createPrng } from './prng.ts';
import type { LabelMix, ProviderSpec, RegionSpec, Scenario } from './scenario.ts';

export interface FleetRegion {
  readonly name: string;
  readonly provider: string;
  readonly providerIndex: number;
  readonly spec: RegionSpec;
  readonly hosts: number;
}

export interface Fleet {
  readonly size: number;
  readonly names: readonly string[];
  readonly labels: readonly Labels[];
  readonly regionOf: Uint16Array;
  readonly dataBearing: Uint8Array;
  readonly regions: readonly FleetRegion[];
  readonly providers: readonly ProviderSpec[];
  /** The host with this name (names are `<region>-<index>`), without a map of every name. */
  readonly indexOf: (name: string) => number | undefined;
}

/** Splits `total` by `shares` with the largest-remainder method, so the parts always add up. */
export function apportion(total: number, shares: readonly number[]): number[] {
  const sum = shares.reduce((a, b) => a + b, 0) || 1;
  const exact = shares.map((s) => (total * s) / sum);
  const parts = exact.map(Math.floor);
  let left = total - parts.reduce((a, b) => a + b, 0);
  const order = exact.map((x, i) => ({ i, frac: x - Math.floor(x) })).sort((a, b) => b.frac - a.frac || a.i - b.i);
  for (const { i } of order) {
    if (left <= 0) break;
    parts[i]!++;
    left--;
  }
  return parts;
}

function drawIndex(mix: LabelMix, u: number): number {
  let acc = 0;
  for (let i = 0; i < mix.values.length; i++) {
    acc += mix.values[i]!.share;
    if (u < acc) return i;
  }
  return mix.values.length - 1;
}

export function generateFleet(scenario: Scenario, hosts: number, seed: number): Fleet {
  const rng = createPrng(seed, 1);
  const clusterRng = createPrng(seed, 5);
  const perCluster = new Set(scenario.fleet.perCluster ?? []);
  const regionSpecs = scenario.fleet.providers.flatMap((p, pi) => p.regions.map((spec) => ({ spec, provider: p, pi })));
  const counts = apportion(hosts, regionSpecs.map((r) => r.spec.share));
  const names: string[] = new Array(hosts);
  const labels: Labels[] = new Array(hosts);
  const regionOf = new Uint16Array(hosts);
  const dataBearing = new Uint8Array(hosts);
  const regions: FleetRegion[] = [];
  const regionStart = new Map<string, number>();
  let h = 0;
  regionSpecs.forEach(({ spec, provider, pi }, ri) => {
    const n = counts[ri]!;
    regions.push({ name: spec.name, provider: provider.name, providerIndex: pi, spec, hosts: n });
    regionStart.set(spec.name, h);
    // Later levels override earlier ones for the same key: fleet < provider < region.
    const mixes = new Map<string, LabelMix>();
    for (const m of [...scenario.fleet.labels, ...provider.labels, ...spec.labels]) mixes.set(m.key, m);
    const mixList = [...mixes.values()];
    // One label object per distinct combination of drawn values, found by a mixed-radix number
    // (the draws happen in the same order as always: mixes, zone, cluster, data).
    const radix = [...mixList.map((m) => m.values.length), spec.zones.length, spec.clusters, 2];
    const exactKeys = radix.reduce((a, b) => a * b, 1) < 2 ** 52;
    const perClusterMixes = mixList.flatMap((m, k) => (perCluster.has(m.key) && m.values.length > 1 ? [k] : []));
    const clusterPicks: number[][] = mixList.map(() => []);
    const interned = new Map<number | string, Labels>();
    const picks = new Array<number>(radix.length);
    const width = String(Math.max(n - 1, 0)).length;
    const prefix = `${spec.name}-`;
    for (let i = 0; i < n; i++, h++) {
      for (let k = 0; k < mixList.length; k++) {
        const m = mixList[k]!;
        picks[k] = m.values.length === 1 ? 0 : drawIndex(m, rng.next());
      }
      picks[mixList.length] = rng.int(spec.zones.length);
      picks[mixList.length + 1] = rng.int(spec.clusters);
      // Per-cluster labels: the cluster's own draw (made once, from its own stream) overrides the host's.
      for (const k of perClusterMixes) {
        const c = picks[mixList.length + 1]!;
        let v = clusterPicks[k]![c];
        if (v === undefined) clusterPicks[k]![c] = v = drawIndex(mixList[k]!, clusterRng.next());
        picks[k] = v;
      }
      const bearing = rng.next() < scenario.fleet.dataBearing;
      picks[mixList.length + 2] = bearing ? 1 : 0;
      dataBearing[h] = bearing ? 1 : 0;
      let key: number | string = 0;
      if (exactKeys) for (let k = 0; k < radix.length; k++) key = key * radix[k]! + picks[k]!;
      else key = picks.join(',');
      let shared = interned.get(key);
      if (!shared) {
        const out: Record<string, string> = {};
        for (let k = 0; k < mixList.length; k++) out[mixList[k]!.key] = mixList[k]!.values[picks[k]!]!.value;
        out['provider'] = provider.name;
        out['region'] = spec.name;
        out['zone'] = spec.zones[picks[mixList.length]!]!;
        out['cluster'] = `${spec.name}-c${picks[mixList.length + 1]! + 1}`;
        out['data'] = bearing ? 'local' : 'none';
        shared = Object.freeze(out);
        interned.set(key, shared);
      }
      labels[h] = shared;
      names[h] = prefix + String(i).padStart(width, '0');
      regionOf[h] = ri;
    }
  });
  const indexOf = (name: string): number | undefined => {
    const dash = name.lastIndexOf('-');
    const start = dash < 0 ? undefined : regionStart.get(name.slice(0, dash));
    if (start === undefined) return undefined;
    const i = start + Number(name.slice(dash + 1));
    return names[i] === name ? i : undefined;
  };
  return { size: hosts, names, labels, regionOf, dataBearing, regions, providers: scenario.fleet.providers, indexOf };
}

/** Simulated agents allow every kind: the simulator studies blast radius, not allow-lists. */
const SIM_ALLOW: readonly string[] = ['command', 'apt', 'file', 'command-check'];

export function fleetHostInfos(fleet: Fleet): HostInfo[] {
  const out: HostInfo[] = new Array(fleet.size);
  for (let i = 0; i < fleet.size; i++) out[i] = { name: fleet.names[i]!, labels: fleet.labels[i]!, allow: SIM_ALLOW };
  return out;
}

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

function draw(mix: LabelMix, u: number): string {
  let acc = 0;
  for (const v of mix.values) {
    acc += v.share;
    if (u < acc) return v.value;
  }
  return mix.values[mix.values.length - 1]!.value;
}

export function generateFleet(scenario: Scenario, hosts: number, seed: number): Fleet {
  const rng = createPrng(seed, 1);
  const regionSpecs = scenario.fleet.providers.flatMap((p, pi) => p.regions.map((spec) => ({ spec, provider: p, pi })));
  const counts = apportion(hosts, regionSpecs.map((r) => r.spec.share));
  const names: string[] = new Array(hosts);
  const labels: Labels[] = new Array(hosts);
  const regionOf = new Uint16Array(hosts);
  const dataBearing = new Uint8Array(hosts);
  const interned = new Map<string, Labels>();
  const regions: FleetRegion[] = [];
  let h = 0;
  regionSpecs.forEach(({ spec, provider, pi }, ri) => {
    const n = counts[ri]!;
    regions.push({ name: spec.name, provider: provider.name, providerIndex: pi, spec, hosts: n });
    // Later levels override earlier ones for the same key: fleet < provider < region.
    const mixes = new Map<string, LabelMix>();
    for (const m of [...scenario.fleet.labels, ...provider.labels, ...spec.labels]) mixes.set(m.key, m);
    const mixList = [...mixes.values()];
    const width = String(Math.max(n - 1, 0)).length;
    for (let i = 0; i < n; i++, h++) {
      const out: Record<string, string> = {};
      for (const m of mixList) out[m.key] = m.values.length === 1 ? m.values[0]!.value : draw(m, rng.next());
      out['provider'] = provider.name;
      out['region'] = spec.name;
      out['zone'] = spec.zones[rng.int(spec.zones.length)]!;
      out['cluster'] = `${spec.name}-c${rng.int(spec.clusters) + 1}`;
      const bearing = rng.next() < scenario.fleet.dataBearing;
      out['data'] = bearing ? 'local' : 'none';
      dataBearing[h] = bearing ? 1 : 0;
      const key = Object.keys(out)
        .sort()
        .map((k) => `${k}=${out[k]}`)
        .join('\u0000');
      let shared = interned.get(key);
      if (!shared) {
        shared = Object.freeze(out);
        interned.set(key, shared);
      }
      labels[h] = shared;
      names[h] = `${spec.name}-${String(i).padStart(width, '0')}`;
      regionOf[h] = ri;
    }
  });
  return { size: hosts, names, labels, regionOf, dataBearing, regions, providers: scenario.fleet.providers };
}

/** Simulated agents allow every kind: the simulator studies blast radius, not allow-lists. */
const SIM_ALLOW: readonly string[] = ['command', 'apt', 'file', 'command-check'];

export function fleetHostInfos(fleet: Fleet): HostInfo[] {
  const out: HostInfo[] = new Array(fleet.size);
  for (let i = 0; i < fleet.size; i++) out[i] = { name: fleet.names[i]!, labels: fleet.labels[i]!, allow: SIM_ALLOW };
  return out;
}

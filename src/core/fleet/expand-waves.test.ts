import { describe, expect, it } from 'vitest';
import type { HostInfo, Quantity, WaveSpec } from '../types.ts';
import { expandWaveSpec, leafSpecs, previewWaves, resolveQuantity } from './expand-waves.ts';
import { host, makePlan, wave } from '../rollout/test-fixtures.ts';

function fleet(n: number, labels: (i: number) => Record<string, string> = () => ({})): HostInfo[] {
  return Array.from({ length: n }, (_, i) => host(`h${String(i).padStart(3, '0')}`, labels(i)));
}

describe('resolveQuantity', () => {
  const cases: Array<[Quantity, number, 'ceil' | 'floor', number]> = [
    [{ count: 3 }, 10, 'ceil', 3],
    [{ count: 3 }, 10, 'floor', 3],
    [{ percent: 25 }, 10, 'ceil', 3],
    [{ percent: 25 }, 10, 'floor', 2],
    [{ percent: 10 }, 30, 'ceil', 3], // 0.1 * 30 is 3.0000000000000004 in floats
    [{ percent: 1 }, 5, 'ceil', 1], // at least 1 when the pool is not empty
    [{ percent: 1 }, 0, 'ceil', 0],
    [{ percent: 10 }, 5, 'floor', 0], // budgets round down
    [{ percent: 0 }, 100, 'floor', 0],
    [{ percent: 100 }, 7, 'ceil', 7],
  ];
  for (const [q, pool, mode, want] of cases) {
    it(`${JSON.stringify(q)} of ${pool} (${mode}) = ${want}`, () => expect(resolveQuantity(q, pool, mode)).toBe(want));
  }
});

describe('expandWaveSpec', () => {
  const zones = ['a', 'a', 'a', 'b', 'c', 'c']; // a: 3 hosts, b: 1, c: 2
  const cases: Array<{ name: string; spec: WaveSpec; hosts: HostInfo[]; want: Array<[string, string[]]> }> = [
    {
      name: 'no size takes every candidate, sorted by name',
      spec: wave('all'),
      hosts: [host('c'), host('a'), host('b')],
      want: [['all', ['a', 'b', 'c']]],
    },
    {
      name: 'size count takes the first hosts by name',
      spec: wave('w', { size: { count: 2 } }),
      hosts: fleet(5).reverse(),
      want: [['w', ['h000', 'h001']]],
    },
    {
      name: 'size percent rounds up',
      spec: wave('w', { size: { percent: 10 } }),
      hosts: fleet(25),
      want: [['w', ['h000', 'h001', 'h002']]],
    },
    {
      name: 'size percent takes at least one host',
      spec: wave('w', { size: { percent: 1 } }),
      hosts: fleet(5),
      want: [['w', ['h000']]],
    },
    {
      name: 'size larger than the candidates takes them all',
      spec: wave('w', { size: { count: 50 } }),
      hosts: fleet(3),
      want: [['w', ['h000', 'h001', 'h002']]],
    },
    {
      name: 'match filters candidates',
      spec: wave('w', { match: { env: ['staging', 'experimental'] } }),
      hosts: fleet(6, (i) => ({ env: ['prod', 'staging', 'experimental'][i % 3] ?? '' })),
      want: [['w', ['h001', 'h002', 'h004', 'h005']]],
    },
    {
      name: 'spread takes one host per stratum, then fills by name',
      spec: wave('w', { size: { count: 3 }, spread: ['provider'] }),
      hosts: fleet(6, (i) => ({ provider: i < 4 ? 'aws' : i === 4 ? 'gcp' : 'azure' })),
      want: [['w', ['h000', 'h004', 'h005']]],
    },
    {
      name: 'spread fills by name when strata are fewer than size',
      spec: wave('w', { size: { count: 3 }, spread: ['provider'] }),
      hosts: fleet(6, (i) => ({ provider: i < 5 ? 'aws' : 'gcp' })),
      want: [['w', ['h000', 'h001', 'h005']]],
    },
    {
      name: 'spread grows the wave to one host per stratum (os x provider)',
      spec: wave('w', { size: { count: 1 }, spread: ['os', 'provider'] }),
      hosts: fleet(8, (i) => ({ os: i % 2 ? 'u22' : 'u24', provider: i < 4 ? 'aws' : 'gcp' })),
      want: [['w', ['h000', 'h001', 'h004', 'h005']]],
    },
    {
      name: 'spread counts hosts without a spread label as their own stratum',
      spec: wave('w', { size: { count: 1 }, spread: ['provider'] }),
      hosts: [host('x', { provider: 'aws' }), host('y'), host('z', { provider: 'aws' })],
      want: [['w', ['x', 'y']]],
    },
    {
      name: 'each orders groups smallest first, ties alphabetically',
      spec: wave('zone', { each: 'zone' }),
      hosts: fleet(6, (i) => ({ zone: zones[i] ?? '' })).concat(host('z1', { zone: 'd' }), host('z2', { zone: 'd' })),
      want: [
        ['zone/b', ['h003']],
        ['zone/c', ['h004', 'h005']],
        ['zone/d', ['z1', 'z2']],
        ['zone/a', ['h000', 'h001', 'h002']],
      ],
    },
    {
      name: 'each with limit keeps the first groups',
      spec: wave('zone', { each: 'zone', limit: 1 }),
      hosts: fleet(6, (i) => ({ zone: zones[i] ?? '' })),
      want: [['zone/b', ['h003']]],
    },
    {
      name: 'each leaves hosts without the label out',
      spec: wave('zone', { each: 'zone' }),
      hosts: [host('a1', { zone: 'a' }), host('nolabel'), host('a2', { zone: 'a' })],
      want: [['zone/a', ['a1', 'a2']]],
    },
    {
      name: 'each applies size per group (percent of the group)',
      spec: wave('zone', { each: 'zone', size: { percent: 50 } }),
      hosts: fleet(6, (i) => ({ zone: zones[i] ?? '' })),
      want: [
        ['zone/b', ['h003']],
        ['zone/c', ['h004']],
        ['zone/a', ['h000', 'h001']],
      ],
    },
    {
      name: 'a spec selecting no host gives no wave',
      spec: wave('w', { match: { env: 'nowhere' } }),
      hosts: fleet(3),
      want: [],
    },
    {
      name: 'each over hosts that all lack the label gives no wave',
      spec: wave('w', { each: 'zone' }),
      hosts: fleet(3),
      want: [],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = expandWaveSpec(c.spec, 4, c.hosts);
      expect(got.map((w) => [w.name, w.hosts])).toEqual(c.want);
      for (const w of got) expect(w.specIndex).toBe(4);
    });
  }

  it('is deterministic whatever the candidate order', () => {
    const hosts = fleet(40, (i) => ({ zone: `z${i % 4}`, provider: i % 3 ? 'aws' : 'gcp' }));
    const spec = wave('w', { each: 'zone', size: { count: 2 }, spread: ['provider'] });
    const shuffled = [...hosts].sort((a, b) => ((a.name.charCodeAt(3) * 7) % 11) - ((b.name.charCodeAt(3) * 7) % 11));
    expect(expandWaveSpec(spec, 0, shuffled)).toEqual(expandWaveSpec(spec, 0, hosts));
  });
});

describe('previewWaves', () => {
  it('targets plan.hosts.match and never gives a host to two waves', () => {
    const plan = makePlan({
      hosts: { match: { os: 'ubuntu' } },
      waves: [
        wave('canary', { size: { count: 1 }, spread: ['env'] }),
        wave('staging', { match: { env: 'staging' } }),
        wave('prod', { each: 'zone' }),
        wave('leftovers'),
        wave('nothing-left'),
      ],
    });
    const hosts = [
      host('s1', { os: 'ubuntu', env: 'staging', zone: 'a' }),
      host('s2', { os: 'ubuntu', env: 'staging', zone: 'a' }),
      host('p1', { os: 'ubuntu', env: 'prod', zone: 'a' }),
      host('p2', { os: 'ubuntu', env: 'prod', zone: 'b' }),
      host('p3', { os: 'ubuntu', env: 'prod', zone: 'b' }),
      host('p4', { os: 'ubuntu', env: 'prod' }),
      host('win', { os: 'windows', env: 'prod', zone: 'a' }),
    ];
    expect(previewWaves(plan, hosts)).toEqual([
      { name: 'canary', specIndex: 0, hosts: ['p1', 's1'] },
      { name: 'staging', specIndex: 1, hosts: ['s2'] },
      { name: 'prod/b', specIndex: 2, hosts: ['p2', 'p3'] },
      { name: 'leftovers', specIndex: 3, hosts: ['p4'] },
    ]);
  });
});

describe('nested steps (region by region, zone by zone, then the rest)', () => {
  // Two regions: r1 has zones a (3 hosts) and b (2); r2 has zones c (1), d (2), e (2). One host has no region.
  const hosts = [
    host('r1-a1', { region: 'r1', zone: 'a' }), host('r1-a2', { region: 'r1', zone: 'a' }), host('r1-a3', { region: 'r1', zone: 'a' }),
    host('r1-b1', { region: 'r1', zone: 'b' }), host('r1-b2', { region: 'r1', zone: 'b' }),
    host('r2-c1', { region: 'r2', zone: 'c' }),
    host('r2-d1', { region: 'r2', zone: 'd' }), host('r2-d2', { region: 'r2', zone: 'd' }),
    host('r2-e1', { region: 'r2', zone: 'e' }), host('r2-e2', { region: 'r2', zone: 'e' }),
    host('loose', {}),
  ];
  const step = (name: string, extra: Partial<WaveSpec> = {}): WaveSpec => wave(name, extra);
  const prod = wave('prod', {
    each: 'region',
    steps: [step('first-zone', { each: 'zone', limit: 1, approve: true, bake: 0 }), step('second-zone', { each: 'zone', limit: 1, bake: 60_000 }), step('rest', { bake: 120_000 })],
  });

  it('expands smallest region first, and inside each: one zone, a second zone, the rest; hosts without the label are left', () => {
    const got = expandWaveSpec(prod, 2, hosts).map((w) => [w.name, w.hosts, w.leaf]);
    expect(got).toEqual([
      // r1 (5 hosts) is smaller than r2 (5 hosts)? equal: ties by value, r1 first.
      ['prod/r1/first-zone/b', ['r1-b1', 'r1-b2'], 0],
      ['prod/r1/second-zone/a', ['r1-a1', 'r1-a2', 'r1-a3'], 1],
      // nothing left in r1: no "rest" wave
      ['prod/r2/first-zone/c', ['r2-c1'], 0],
      ['prod/r2/second-zone/d', ['r2-d1', 'r2-d2'], 1],
      ['prod/r2/rest', ['r2-e1', 'r2-e2'], 2],
    ]);
  });

  it('leaves are the steps as waves, depth first, with the spec window; any depth', () => {
    expect(leafSpecs(prod).map((s) => [s.name, s.approve, s.bake])).toEqual([
      ['first-zone', true, 0],
      ['second-zone', false, 60_000],
      ['rest', false, 120_000],
    ]);
    const deep = wave('d', { each: 'region', steps: [step('zones', { each: 'zone', steps: [step('one', { size: { count: 1 } }), step('others')] }), step('tail')] });
    expect(leafSpecs(deep).map((s) => s.name)).toEqual(['one', 'others', 'tail']);
    const got = expandWaveSpec(deep, 0, hosts.filter((h) => h.labels.region === 'r2')).map((w) => [w.name, w.hosts, w.leaf]);
    expect(got).toEqual([
      ['d/r2/zones/c/one', ['r2-c1'], 0],
      ['d/r2/zones/d/one', ['r2-d1'], 0],
      ['d/r2/zones/d/others', ['r2-d2'], 1],
      ['d/r2/zones/e/one', ['r2-e1'], 0],
      ['d/r2/zones/e/others', ['r2-e2'], 1],
    ]);
  });

  it('a step with a size takes that many; a step match narrows; limit on the outer each keeps the first values; empty values vanish', () => {
    const sized = wave('p', { each: 'region', limit: 1, steps: [step('two', { size: { count: 2 } }), step('zone-b', { match: { zone: 'b' } })] });
    expect(expandWaveSpec(sized, 0, hosts).map((w) => [w.name, w.hosts])).toEqual([
      ['p/r1/two', ['r1-a1', 'r1-a2']],
      ['p/r1/zone-b', ['r1-b1', 'r1-b2']],
    ]);
    expect(expandWaveSpec(sized, 0, [host('x', { zone: 'q' })])).toEqual([]);
  });

  it('previewWaves continues after a nested wave with the hosts it did not take', () => {
    const plan = makePlan({ waves: [wave('canary', { match: { zone: 'a' }, size: { count: 1 } }), prod, wave('leftovers')] });
    expect(previewWaves(plan, hosts).map((w) => [w.name, w.hosts.length])).toEqual([
      ['canary', 1],
      ['prod/r1/first-zone/a', 2], // zone a has 2 hosts left after the canary: now the smallest
      ['prod/r1/second-zone/b', 2],
      ['prod/r2/first-zone/c', 1],
      ['prod/r2/second-zone/d', 2],
      ['prod/r2/rest', 2],
      ['leftovers', 1], // the host without a region
    ]);
  });
});

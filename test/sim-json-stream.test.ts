// `sim run --json` streams its output: a 14-day run over 300 regions is ~1.1 GB of JSON, past the
// longest string V8 can build ("Invalid string length"). The stream must be byte for byte what
// JSON.stringify gives, in bounded chunks.
import { describe, expect, it } from 'vitest';
import { loadPlan } from '../src/sim/load-scenario.ts';
import { writeJson } from '../src/sim/json-stream.ts';
import { parseScenario } from '../src/sim/parse-scenario.ts';
import { simulate } from '../src/sim/simulate.ts';
import { builtin, planPath } from './sim-helpers.ts';

function chunks(value: unknown): string[] {
  const out: string[] = [];
  writeJson(value, (c) => out.push(c));
  return out;
}

/** A scenario with `regions` regions over `duration`: its JSON grows with both, not with hosts. */
function wide(regions: number, duration: string): string {
  const share = 100 / regions;
  const list = Array.from({ length: regions }, (_, i) => `        - { name: r${i}, share: ${share}%, zones: [a] }`).join('\n');
  return `name: wide
start: 2023-03-07T18:00:00Z
duration: ${duration}
fleet:
  hosts: 600
  labels: { os: ubuntu-22.04, env: { prod: 99%, experimental: 1% } }
  providers:
    - name: aws
      regions:
${list}
change:
  name: x
  breaks: { effects: [hostConnectivity] }
spread:
  replicate: { at: 2023-03-08T06:00:00Z, within: 10m }
remediation:
  aws: { replace: { failedFor: 5m } }
plan:
  file: plans/datadog-2023.yaml
`;
}

describe('streamed JSON', () => {
  it('is JSON.stringify, byte for byte, on values of every kind', () => {
    const values = [null, 1, 'a"b\n', [1, undefined, () => 1, { a: undefined, b: NaN }], { x: [{ t: 'z', n: 1.5 }], y: { z: [] }, u: undefined }, new Date(0), [], {}];
    for (const v of values) expect(chunks(v).join('')).toBe(JSON.stringify(v));
  });

  it('is JSON.stringify of a simulator result', () => {
    const { scenario, plan } = builtin('datadog-2023');
    const result = simulate(scenario, plan, { hosts: 2000, seed: 1 });
    expect(chunks(result).join('')).toBe(JSON.stringify(result));
  });

  it('writes a long run over many regions in chunks of about 1 MB', () => {
    const result = simulate(parseScenario(wide(30, '3d'), 'wide.yaml'), loadPlan(planPath('datadog-2023')), { seed: 1 });
    const parts = chunks(result);
    expect(parts.length).toBeGreaterThan(10);
    for (const p of parts) expect(p.length).toBeLessThan((1 << 20) + 4096);
    expect(parts.join('')).toBe(JSON.stringify(result));
  });
});

describe('the HTML report over two weeks', () => {
  it('labels its time axis with at most 8 days, not one label every 6 hours', async () => {
    const { renderReportHtml } = await import('../src/sim/report-html.ts');
    const result = simulate(parseScenario(wide(2, '14d'), 'wide.yaml'), loadPlan(planPath('datadog-2023')), { hosts: 100, seed: 1 });
    const html = renderReportHtml(result);
    const firstChart = html.slice(html.indexOf('<svg'), html.indexOf('</svg>'));
    const labels = [...firstChart.matchAll(/text-anchor="middle">([^<]*)</g)].map((m) => m[1]);
    expect(labels.length).toBeGreaterThan(3);
    expect(labels.length).toBeLessThanOrEqual(8);
    expect(labels[0]).toMatch(/^03-\d\d$/);
  });
});

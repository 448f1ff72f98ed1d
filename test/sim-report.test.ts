// The HTML report's chart (src/sim/report-html.ts) and the timeline it draws: impairments shorter
// than the minute between two points still show (the peak since the point before), a two-week run
// keeps a one-minute spike (max per pixel column), and marker labels never overlap.
import { describe, expect, it } from 'vitest';
import { parsePlan } from '../src/core/plan/parse-plan.ts';
import { loadPlan } from '../src/sim/load-scenario.ts';
import { parseScenario } from '../src/sim/parse-scenario.ts';
import { LABEL_CHAR_W, numberedLabels, placeInRows, renderReportHtml } from '../src/sim/report-html.ts';
import { simulate } from '../src/sim/simulate.ts';
import { withHarmlessChange } from '../src/sim/variants.ts';
import { at, builtin, planPath, region } from './sim-helpers.ts';

/**
 * 100 hosts; the one host of region "tiny" breaks at `breakAt` and is repaired `repairAfter` later
 * (exactly: `over: 0s`), so it is impaired for that long and nothing else is.
 */
function blip(breakAt: string, repairAfter: string, duration = '2h'): string {
  return `name: blip
start: 2023-03-08T05:00:00Z
duration: ${duration}
fleet:
  hosts: 100
  labels: { os: ubuntu-22.04, env: { prod: 99%, experimental: 1% } }
  providers:
    - name: gcp
      regions:
        - { name: big, share: 99%, zones: [a] }
        - { name: tiny, share: 1%, zones: [a] }
change:
  name: x
  breaks: { match: { region: tiny }, effects: [hostConnectivity] }
spread:
  replicate: { at: ${breakAt}, within: 1s }
recovery:
  repair: { after: ${repairAfter}, over: 0s }
plan:
  file: plans/datadog-2023.yaml
`;
}

const datadogPlan = () => loadPlan(planPath('datadog-2023'));

/** The first chart of the page (the uncontrolled run's). */
const firstChart = (html: string) => html.slice(html.indexOf('<svg'), html.indexOf('</svg>'));

/** The [x, y] points of the chart's path with this class. */
function pathPoints(svg: string, cls: string): [number, number][] {
  const d = new RegExp(`<path class="${cls}" d="([^"]*)"`).exec(svg)?.[1];
  if (d === undefined) throw new Error(`no path ${cls}`);
  return [...d.matchAll(/[ML](-?[\d.]+),(-?[\d.]+)/g)].map((m) => [Number(m[1]), Number(m[2])]);
}

// The chart's geometry (report-html.ts): 900 x 260, plot from x 56 to 884, y 16 (top) to 224 (0%).
const BASE_Y = 224;
const xOf = (iso: string, start: string, end: string) => 56 + ((Date.parse(iso) - Date.parse(start)) / (Date.parse(end) - Date.parse(start))) * 828;

describe('an impairment shorter than a minute', () => {
  // Broken at 06:00:20, repaired at 06:00:40: between the 06:00 and 06:01 points.
  const r = simulate(parseScenario(blip('2023-03-08T06:00:20Z', '20s'), 'blip.yaml'), datadogPlan(), { seed: 1 });
  const u = r.runs.uncontrolled;

  it('is in the --json peak of the point after it, not in the state at either instant', () => {
    expect(u.peakImpaired).toBe(1);
    expect(at(u.timeline, '2023-03-08T06:00:00.000Z')).toMatchObject({ impairedPct: 0, peakImpairedPct: 0 });
    expect(at(u.timeline, '2023-03-08T06:01:00.000Z')).toMatchObject({ impairedPct: 0, peakImpairedPct: 1 });
    expect(at(u.timeline, '2023-03-08T06:02:00.000Z')).toMatchObject({ impairedPct: 0, peakImpairedPct: 0 });
    expect(u.timeline.filter((p) => p.peakImpairedPct > 0)).toHaveLength(1);
    expect(at(region(u.regions, 'tiny').timeline, '2023-03-08T06:01:00.000Z')).toMatchObject({ impairedPct: 0, peakImpairedPct: 100 });
    expect(at(region(u.regions, 'big').timeline, '2023-03-08T06:01:00.000Z').peakImpairedPct).toBe(0);
    // Every point's peak is at least its state at the instant.
    for (const p of u.timeline) expect(p.peakImpairedPct).toBeGreaterThanOrEqual(p.impairedPct);
  });

  it('shows in the chart as the band up from the line at 06:01, while the line (the state at each instant) stays at 0', () => {
    const svg = firstChart(renderReportHtml(r));
    const band = pathPoints(svg, 'peak');
    const raised = band.filter(([, y]) => y < BASE_Y - 1);
    expect(raised).toHaveLength(1);
    expect(raised[0]![0]).toBeCloseTo(xOf('2023-03-08T06:01:00Z', r.start, r.end), 0);
    expect(raised[0]![1]).toBeLessThan(100); // 1% on a 0-1% axis: most of the plot's height
    expect(pathPoints(svg, 'impaired').every(([, y]) => y === BASE_Y)).toBe(true);
  });
});

describe('a two-week run', () => {
  // One point impaired (at 06:01 on day 7), the host down from 06:00:30 to 06:01:20.
  const r = simulate(parseScenario(blip('2023-03-15T06:00:30Z', '50s', '14d'), 'blip.yaml'), datadogPlan(), { seed: 1 });
  const u = r.runs.uncontrolled;

  it('has 20,161 points, one of them impaired', () => {
    expect(u.timeline).toHaveLength(14 * 24 * 60 + 1);
    expect(u.timeline.filter((p) => p.impairedPct > 0).map((p) => p.t)).toEqual(['2023-03-15T06:01:00.000Z']);
  });

  it('draws at most one point per pixel column and keeps the one-minute spike in both the line and the band', () => {
    const svg = firstChart(renderReportHtml(r));
    const line = pathPoints(svg, 'impaired');
    expect(line.length).toBeLessThanOrEqual(829);
    const x = xOf('2023-03-15T06:01:00Z', r.start, r.end);
    const raised = pathPoints(svg, 'impaired').filter(([, y]) => y < BASE_Y - 1);
    expect(raised).toHaveLength(1);
    expect(Math.abs(raised[0]![0] - x)).toBeLessThan(1.5);
    // The band's top (the peak) and bottom (the line) are raised there and nowhere else.
    const band = pathPoints(svg, 'peak').filter(([, y]) => y < BASE_Y - 1);
    expect(band.length).toBeGreaterThan(0);
    for (const [bx] of band) expect(Math.abs(bx - x)).toBeLessThan(1.5);
  });
});

/** Label boxes as the chart gives them: x, the baseline y, the text; 10px text, LABEL_CHAR_W a character. */
function labelBoxes(svg: string) {
  return [...svg.matchAll(/<text class="m-\w+ label" x="([\d.]+)" y="([\d.]+)">([^<]*)<\/text>/g)].map((m) => ({
    text: m[3]!,
    x0: Number(m[1]),
    x1: Number(m[1]) + m[3]!.length * LABEL_CHAR_W,
    y0: Number(m[2]) - 10,
    y1: Number(m[2]),
  }));
}

type Box = ReturnType<typeof labelBoxes>[number];
const overlap = (a: Box, b: Box) => a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1;

function expectNoOverlap(boxes: Box[]) {
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) expect(overlap(boxes[i]!, boxes[j]!), `${boxes[i]!.text} / ${boxes[j]!.text}`).toBe(false);
    expect(boxes[i]!.x1).toBeLessThanOrEqual(900);
  }
}

describe('marker labels', () => {
  const waves = Array.from({ length: 8 }, (_, i) => `  - { name: w${i + 1}, size: 2, bake: 1m }`).join('\n');
  const eight = parsePlan(
    `name: eight-waves
change:
  apt: { install: { systemd: "249" }, timeout: 5m }
waves:
${waves}
checks:
  - tcp: { host: 10.0.0.1, port: 443, timeout: 2s }
checkInterval: 30s
budget: { failedPerWave: 0, failedTotal: 0, silentAfter: 30s }
`,
    'eight-waves.yaml',
  );
  const scenario = { ...withHarmlessChange(parseScenario(blip('2023-03-08T06:00:20Z', '20s'), 'blip.yaml')), plan: { file: 'x', startAt: Date.parse('2023-03-08T05:10:00Z') } };
  const r = simulate(scenario, eight, { seed: 1 });
  const c = r.runs.controlled;
  const html = renderReportHtml(r);
  const controlledChart = html.slice(html.lastIndexOf('<svg'), html.lastIndexOf('</svg>'));

  it('8 waves start within minutes', () => {
    expect(c.rollout!.state).toBe('completed');
    const starts = c.rollout!.waves.map((w) => Date.parse(w.startedAt!));
    expect(starts).toHaveLength(8);
    expect(starts[7]! - starts[0]!).toBeLessThan(20 * 60_000);
  });

  it('no two label boxes overlap; the markers are numbered and the legend below names every wave', () => {
    const boxes = labelBoxes(controlledChart);
    expect(boxes.length).toBeGreaterThan(0);
    expectNoOverlap(boxes);
    // The numbers cover every marker once, in order ("1-3", "4", ...).
    const covered = boxes.flatMap((b) => {
      const [a, z] = b.text.split('-').map(Number);
      return Array.from({ length: (z ?? a!) - a! + 1 }, (_, k) => a! + k);
    });
    expect(covered).toEqual(Array.from({ length: 8 }, (_, k) => k + 1));
    const legend = html.slice(html.lastIndexOf('<ol class="markers">'), html.lastIndexOf('</ol>'));
    for (let i = 1; i <= 8; i++) expect(legend).toContain(`>wave w${i}</span>`);
    // Still one self-contained page for the report's CSP: no script, nothing fetched.
    expect(html).not.toMatch(/<script|\ssrc=|\shref=|url\(|@import/);
  });

  it('labels that fit are written out in rows, with no legend', () => {
    const placed = placeInRows(['wave canary', 'wave staging', 'halted'].map((text, i) => ({ text, kind: 'wave' as const, mx: 100 + i * 5 })))!;
    expect(placed.map((l) => l.row)).toEqual([0, 1, 2]);
    const spread = placeInRows(['wave canary', 'wave staging', 'wave prod'].map((text, i) => ({ text, kind: 'wave' as const, mx: 100 + i * 200 })))!;
    expect(spread.map((l) => l.row)).toEqual([0, 0, 0]);
  });

  it('past four rows, numbers: markers at one x share a label, and none runs past the right edge', () => {
    expect(placeInRows(Array.from({ length: 5 }, (_, i) => ({ text: `wave ${i}`, kind: 'wave' as const, mx: 300 })))).toBeNull();
    expect(numberedLabels([300, 300, 300, 300, 300], ['wave', 'wave', 'wave', 'wave', 'wave']).map((l) => l.text)).toEqual(['1-5']);
    const xs = [100, 103, 106, 400, 880, 882, 884, 884, 884, 884, 884];
    const labels = numberedLabels(xs, xs.map(() => 'wave'));
    expect(labels.map((l) => l.text)).toEqual(['1-3', '4', '5-11']);
    const boxes = labels.map((l) => ({ text: l.text, x0: l.x, x1: l.x + l.text.length * LABEL_CHAR_W, y0: 0, y1: 10 }));
    expectNoOverlap(boxes);
  });
});

describe('partial degradation (requestErrors)', () => {
  it('cloudflare-2025: the report lists and charts capacity lost beside impaired hosts; datadog-2023, where every impaired host is down, does not', () => {
    const cf = builtin('cloudflare-2025');
    const partial = simulate(cf.scenario, cf.plan, { hosts: 2000, seed: 1 });
    expect(partial.runs.uncontrolled.peakCapacityLostPct).toBeLessThan(partial.runs.uncontrolled.peakImpairedPct);
    const html = renderReportHtml(partial);
    const headline = html.slice(html.indexOf('<table class="headline">'), html.indexOf('</table>'));
    expect(headline).toContain(`<th>peak capacity lost</th><td>${partial.runs.uncontrolled.peakCapacityLostPct}%</td>`);
    expect(html).toMatch(/<path class="capacity" d="M[^"]+"\/>/);
    expect(html).toContain('capacity lost (% of the fleet');

    const dd = builtin('datadog-2023');
    const whole = renderReportHtml(simulate(dd.scenario, dd.plan, { hosts: 2000, seed: 1 }));
    expect(whole).not.toContain('peak capacity lost');
    expect(whole).not.toContain('class="capacity"');
  });
});

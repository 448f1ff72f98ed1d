// `sluice sim run --report FILE.html`: one self-contained page (inline SVG and CSS, no script,
// nothing fetched) charting both runs' timelines, with the plan's waves and the halt marked.
import type { RunResult, SimResult, TimelinePoint } from './simulate.ts';

const W = 900;
const H = 260;
const PAD = { l: 56, r: 16, t: 16, b: 36 };

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function niceMax(v: number): number {
  for (const m of [0.1, 0.5, 1, 2, 5, 10, 20, 50, 100]) if (v <= m) return m;
  return 100;
}

interface Marker {
  at: string;
  label: string;
  kind: 'wave' | 'halt' | 'first';
}

/** The plot's width in pixels (the SVG's user units). */
const PLOT_W = W - PAD.l - PAD.r;

/** One pixel column of the chart: the most of each series over the timeline points it holds. */
interface Column {
  t: number;
  impaired: number;
  peak: number;
  terminated: number;
  capacity: number;
}

/**
 * At most one column per pixel: the max of each series over the points in it, so a one-minute spike
 * survives a two-week run (20,160 points over ~830 pixels) that skipping points would lose.
 */
function pixelColumns(timeline: readonly TimelinePoint[], start: number, end: number, width = PLOT_W): Column[] {
  const columns: Column[] = [];
  let lastPixel = -1;
  for (const p of timeline) {
    const t = Date.parse(p.t);
    const pixel = Math.floor(((t - start) / (end - start)) * width);
    const c = columns[columns.length - 1];
    if (c && pixel === lastPixel) {
      c.impaired = Math.max(c.impaired, p.impairedPct);
      c.peak = Math.max(c.peak, p.peakImpairedPct);
      c.terminated = Math.max(c.terminated, p.terminatedPct);
      c.capacity = Math.max(c.capacity, p.capacityLostPct);
      continue;
    }
    columns.push({ t, impaired: p.impairedPct, peak: p.peakImpairedPct, terminated: p.terminatedPct, capacity: p.capacityLostPct });
    lastPixel = pixel;
  }
  return columns;
}

/** Whether some impaired hosts lost only part of their capacity (requestErrors): then it is charted and listed too. */
function partialLoss(timeline: readonly TimelinePoint[]): boolean {
  return timeline.some((p) => p.capacityLostPct !== p.impairedPct);
}

const partialRun = (run: RunResult) => run.peakCapacityLostPct !== run.peakImpairedPct || partialLoss(run.timeline);

/** Marker labels: 10px text, estimated at 6px a character (system-ui digits and lower case are narrower). */
export const LABEL_CHAR_W = 6;
const LABEL_ROW_H = 11;
const LABEL_GAP = 4;
/** Rows of labels at the top of the plot before they would hide the lines: past this, numbers and a legend. */
const LABEL_ROWS = 4;

export interface PlacedLabel {
  text: string;
  kind: Marker['kind'];
  x: number;
  row: number;
}

const labelWidth = (text: string) => text.length * LABEL_CHAR_W;

/** Where the label of a marker line at `mx` starts: just right of the line, or left of it near the right edge. */
function labelStart(mx: number, text: string): number {
  return Math.min(mx + 3, W - 2 - labelWidth(text));
}

/** The two labels' boxes (same row) come closer than the gap. */
function collide(a: PlacedLabel, b: PlacedLabel): boolean {
  return a.x < b.x + labelWidth(b.text) + LABEL_GAP && b.x < a.x + labelWidth(a.text) + LABEL_GAP;
}

/** Greedy rows: each label (in order of x) goes in the first row where it touches no label; null when more than `maxRows` are needed. */
export function placeInRows(labels: readonly { text: string; kind: Marker['kind']; mx: number }[], maxRows = LABEL_ROWS): PlacedLabel[] | null {
  const rows: PlacedLabel[][] = [];
  const sorted = labels.map((l) => ({ text: l.text, kind: l.kind, x: labelStart(l.mx, l.text), row: 0 })).sort((a, b) => a.x - b.x);
  for (const l of sorted) {
    let row = rows.findIndex((placed) => !placed.some((p) => collide(p, l)));
    if (row < 0) {
      if (rows.length === maxRows) return null;
      row = rows.push([]) - 1;
    }
    l.row = row;
    rows[row]!.push(l);
  }
  return sorted;
}

/**
 * Too many labels for the rows: each marker (in order of time, at `xs`) gets its number, on one row;
 * markers whose numbers would touch share one label ("3-9"). The legend below the chart names them.
 */
export function numberedLabels(xs: readonly number[], kinds: readonly Marker['kind'][]): PlacedLabel[] {
  // Groups of consecutive markers, [first, last]; merged until no two labels touch.
  let groups = xs.map((_, i): [number, number] => [i, i]);
  const label = ([a, b]: [number, number]): PlacedLabel => {
    const text = a === b ? `${a + 1}` : `${a + 1}-${b + 1}`;
    return { text, kind: kinds[a]!, x: labelStart(xs[a]!, text), row: 0 };
  };
  for (;;) {
    const labels = groups.map(label);
    const i = labels.findIndex((l, k) => labels.some((m, j) => j > k && collide(l, m)));
    if (i < 0) return labels;
    let j = i + 1;
    for (let k = j + 1; k < labels.length; k++) if (collide(labels[i]!, labels[k]!)) j = k;
    groups = [...groups.slice(0, i), [groups[i]![0], groups[j]![1]], ...groups.slice(j + 1)];
  }
}

function chart(title: string, timeline: readonly TimelinePoint[], start: number, end: number, markers: readonly Marker[]): string {
  const columns = pixelColumns(timeline, start, end);
  const peak = Math.max(0, ...columns.map((c) => Math.max(c.peak, c.impaired, c.terminated)));
  const yMax = niceMax(peak);
  const x = (t: number) => PAD.l + ((t - start) / (end - start)) * PLOT_W;
  const y = (v: number) => H - PAD.b - (v / yMax) * (H - PAD.t - PAD.b);
  const line = (key: 'impaired' | 'terminated' | 'capacity') => columns.map((c, i) => `${i === 0 ? 'M' : 'L'}${x(c.t).toFixed(1)},${y(c[key]).toFixed(1)}`).join('');
  // A light band from the line (impaired at each minute's instant) up to the most impaired at once
  // within that minute: what the line misses, such as a host impaired for 20 s between two samples.
  const band = () => {
    const top = columns.map((c, i) => `${i === 0 ? 'M' : 'L'}${x(c.t).toFixed(1)},${y(c.peak).toFixed(1)}`).join('');
    const bottom = [...columns].reverse().map((c) => `L${x(c.t).toFixed(1)},${y(c.impaired).toFixed(1)}`).join('');
    return columns.length === 0 ? '' : `${top}${bottom}Z`;
  };
  let svg = `<svg viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)}">`;
  for (let i = 0; i <= 4; i++) {
    const v = (yMax * i) / 4;
    svg += `<line class="grid" x1="${PAD.l}" x2="${W - PAD.r}" y1="${y(v)}" y2="${y(v)}"/><text class="axis" x="${PAD.l - 6}" y="${y(v) + 4}" text-anchor="end">${+v.toFixed(2)}%</text>`;
  }
  // At most ~8 time labels, on round steps: readable from an hour to two weeks.
  const hours = (end - start) / 3_600_000;
  const step = [1, 2, 3, 6, 12, 24, 48, 72, 168].find((s) => hours / s <= 8) ?? 336;
  const first = Math.ceil(start / (step * 3_600_000)) * step * 3_600_000;
  for (let t = step >= 24 ? Math.ceil(start / 86_400_000) * 86_400_000 : first; t <= end; t += step * 3_600_000) {
    const iso = new Date(t).toISOString();
    const text = step >= 24 ? iso.slice(5, 10) : iso.slice(5, 16).replace('T', ' ');
    svg += `<line class="grid" x1="${x(t)}" x2="${x(t)}" y1="${PAD.t}" y2="${H - PAD.b}"/><text class="axis" x="${x(t)}" y="${H - PAD.b + 16}" text-anchor="middle">${text}</text>`;
  }
  const sorted = [...markers].sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  const xs = sorted.map((m) => x(Date.parse(m.at)));
  for (const [i, m] of sorted.entries()) {
    svg += `<line class="m-${m.kind}" x1="${xs[i]}" x2="${xs[i]}" y1="${PAD.t}" y2="${H - PAD.b}"><title>${esc(m.label)} ${esc(m.at)}</title></line>`;
  }
  const inRows = placeInRows(sorted.map((m, i) => ({ text: m.label, kind: m.kind, mx: xs[i]! })));
  const labels = inRows ?? numberedLabels(xs, sorted.map((m) => m.kind));
  for (const l of labels) svg += `<text class="m-${l.kind} label" x="${l.x.toFixed(1)}" y="${PAD.t + 10 + l.row * LABEL_ROW_H}">${esc(l.text)}</text>`;
  svg += `<path class="peak" d="${band()}"/><path class="impaired" d="${line('impaired')}"/><path class="terminated" d="${line('terminated')}"/>${partialLoss(timeline) ? `<path class="capacity" d="${line('capacity')}"/>` : ''}</svg>`;
  const legend = inRows
    ? ''
    : `<ol class="markers">${sorted.map((m) => `<li><span class="m-${m.kind}">${esc(m.label)}</span> ${esc(m.at.slice(5, 19).replace('T', ' '))}</li>`).join('')}</ol>`;
  return `<figure><figcaption>${esc(title)}</figcaption>${svg}${legend}</figure>`;
}

function runSection(name: string, run: RunResult, r: SimResult): string {
  const start = Date.parse(r.start);
  const end = Date.parse(r.end);
  const markers: Marker[] = [];
  if (run.firstImpairedAt) markers.push({ at: run.firstImpairedAt, label: 'first impaired', kind: 'first' });
  for (const w of run.rollout?.waves ?? []) if (w.startedAt) markers.push({ at: w.startedAt, label: `wave ${w.name}`, kind: 'wave' });
  if (run.haltedAt) markers.push({ at: run.haltedAt, label: 'halted', kind: 'halt' });
  const stats: [string, string][] = [
    ['hosts changed', String(run.hostsChanged)],
    ['peak impaired', `${run.peakImpaired} (${run.peakImpairedPct}%)`],
    ...(partialRun(run) ? ([['peak capacity lost', `${run.peakCapacityLostPct}%`]] as [string, string][]) : []),
    ['terminated', `${run.terminated} (${run.terminatedPct}%)`],
    ['data-bearing hosts lost', `${run.dataBearingLost} (${run.dataBearingLostPct}%)`],
    ['first impaired at', run.firstImpairedAt ?? '-'],
    ['halted at', run.haltedAt ?? '-'],
  ];
  if (run.rollout) stats.push(['rollout', `${run.rollout.plan}: ${run.rollout.state}${run.rollout.reason ? ` (${run.rollout.reason})` : ''}`]);
  let html = `<section><h2>${esc(name)}</h2><dl>${stats.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join('')}</dl>`;
  html += chart(`${name}: whole fleet (% of ${r.hosts} hosts)`, run.timeline, start, end, markers);
  html += '<table><thead><tr><th>region</th><th>provider</th><th>hosts</th><th>peak impaired</th><th>terminated</th><th>recovered at</th></tr></thead><tbody>';
  for (const g of run.regions) {
    html += `<tr><td>${esc(g.name)}</td><td>${esc(g.provider)}</td><td>${g.hosts}</td><td>${g.peakImpairedPct}%</td><td>${g.terminatedPct}%</td><td>${esc(g.recoveredAt ?? '-')}</td></tr>`;
  }
  html += '</tbody></table>';
  if (run.rollout && run.rollout.waves.length > 0) {
    html += '<table><thead><tr><th>wave</th><th>state</th><th>hosts</th><th>failed</th><th>started</th><th>finished</th></tr></thead><tbody>';
    for (const w of run.rollout.waves) {
      html += `<tr><td>${esc(w.name)}</td><td>${esc(w.state)}</td><td>${w.hosts}</td><td>${w.failed}</td><td>${esc(w.startedAt ?? '-')}</td><td>${esc(w.finishedAt ?? '-')}</td></tr>`;
    }
    html += '</tbody></table>';
  }
  return `${html}</section>`;
}

/** The comparison first: impaired, terminated, data lost, time to halt, per run. */
function headline(r: SimResult): string {
  const runs: [string, RunResult][] = [['uncontrolled', r.runs.uncontrolled]];
  if (r.runs.guarded) runs.push(['uncontrolled + guard', r.runs.guarded]);
  runs.push(['controlled', r.runs.controlled]);
  const toHalt = (x: RunResult) => {
    if (!x.haltedAt) return '-';
    const from = x.firstImpairedAt ?? x.rollout?.firstFailureAt;
    if (!from) return x.haltedAt;
    const s = Math.max(0, Math.round((Date.parse(x.haltedAt) - Date.parse(from)) / 1000));
    return `${s} s after the first impairment`;
  };
  const rows: [string, (x: RunResult) => string][] = [
    ['peak impaired', (x) => `${x.peakImpaired} (${x.peakImpairedPct}%)`],
    ...(runs.some(([, x]) => partialRun(x)) ? ([['peak capacity lost', (x: RunResult) => `${x.peakCapacityLostPct}%`]] as [string, (x: RunResult) => string][]) : []),
    ['terminated', (x) => `${x.terminated} (${x.terminatedPct}%)`],
    ['data-bearing hosts lost', (x) => `${x.dataBearingLost} (${x.dataBearingLostPct}%)`],
    ['time to halt', toHalt],
  ];
  let html = '<table class="headline"><thead><tr><th></th>' + runs.map(([n]) => `<th>${esc(n)}</th>`).join('') + '</tr></thead><tbody>';
  for (const [label, f] of rows) html += `<tr><th>${esc(label)}</th>${runs.map(([, x]) => `<td>${esc(f(x))}</td>`).join('')}</tr>`;
  html += '</tbody></table>';
  const c = r.runs.controlled;
  if (c.rollout?.state === 'completed' && c.peakImpairedPct > 0) {
    html += `<p class="warn">The rollout completed while up to ${c.peakImpairedPct}% of the fleet was impaired: its checks did not see the breakage.</p>`;
  }
  return html;
}

export function renderReportHtml(r: SimResult): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>sluice sim: ${esc(r.scenario)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em auto;max-width:960px;color:#222}
h1{font-size:1.4em}h2{font-size:1.15em;border-bottom:1px solid #ccc}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em}dt{color:#555}dd{margin:0}
svg{width:100%;height:auto;background:#fafafa}figure{margin:1em 0}figcaption{color:#555}
.grid{stroke:#e4e4e4}.axis{font-size:10px;fill:#666}
.impaired{fill:none;stroke:#d62728;stroke-width:1.5}.peak{fill:#d62728;fill-opacity:.18;stroke:none}.terminated{fill:none;stroke:#333;stroke-width:1.5;stroke-dasharray:4 2}.capacity{fill:none;stroke:#9467bd;stroke-width:1.5;stroke-dasharray:1 2}
line.m-wave{stroke:#1f77b4;stroke-dasharray:3 3}text.m-wave{fill:#1f77b4;font-size:10px}
line.m-halt{stroke:#2ca02c;stroke-width:2}text.m-halt{fill:#2ca02c;font-size:10px}
line.m-first{stroke:#ff7f0e;stroke-dasharray:1 2}text.m-first{fill:#ff7f0e;font-size:10px}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:2px 8px;text-align:left}
.legend span{margin-right:1.5em}ol.markers{columns:3;font-size:12px;margin:.3em 0 0;padding-left:2em}span.m-wave{color:#1f77b4}span.m-halt{color:#2ca02c}span.m-first{color:#ff7f0e}.warn{color:#a30;font-weight:600}
</style></head><body>
<h1>sluice sim run ${esc(r.scenario)}</h1>
${r.description ? `<p>${esc(r.description)}</p>` : ''}
<p>${r.hosts} hosts, seed ${r.seed}, from ${esc(r.start)} to ${esc(r.end)}. Every run uses the same fleet and seed.</p>
<p class="legend"><span style="color:#d62728">&#9473; impaired (% of hosts)</span><span style="color:#e8a0a0">&#9608; peak within each minute (above the line)</span><span>&#9476; terminated (% of hosts, cumulative)</span>${[r.runs.uncontrolled, r.runs.controlled].some(partialRun) ? '<span style="color:#9467bd">&#8943; capacity lost (% of the fleet\'s requests failing)</span>' : ''}<span style="color:#1f77b4">&#9482; wave start</span><span style="color:#2ca02c">&#9475; rollout halted</span></p>
${headline(r)}
${runSection('uncontrolled (as it happened)', r.runs.uncontrolled, r)}
${r.runs.guarded ? runSection('uncontrolled, with the remediation guard in front of auto-healing', r.runs.guarded, r) : ''}
${runSection('controlled (through the plan)', r.runs.controlled, r)}
</body></html>
`;
}

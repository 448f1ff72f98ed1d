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

function chart(title: string, timeline: readonly TimelinePoint[], start: number, end: number, markers: readonly Marker[]): string {
  const peak = Math.max(0, ...timeline.map((p) => Math.max(p.impairedPct, p.terminatedPct)));
  const yMax = niceMax(peak);
  const x = (t: number) => PAD.l + ((t - start) / (end - start)) * (W - PAD.l - PAD.r);
  const y = (v: number) => H - PAD.b - (v / yMax) * (H - PAD.t - PAD.b);
  const path = (key: 'impairedPct' | 'terminatedPct') =>
    timeline.map((p, i) => `${i === 0 ? 'M' : 'L'}${x(Date.parse(p.t)).toFixed(1)},${y(p[key]).toFixed(1)}`).join('');
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
  markers.forEach((m, i) => {
    const mx = x(Date.parse(m.at));
    svg += `<line class="m-${m.kind}" x1="${mx}" x2="${mx}" y1="${PAD.t}" y2="${H - PAD.b}"><title>${esc(m.label)} ${esc(m.at)}</title></line>`;
    svg += `<text class="m-${m.kind}" x="${mx + 3}" y="${PAD.t + 10 + (i % 4) * 11}">${esc(m.label)}</text>`;
  });
  svg += `<path class="impaired" d="${path('impairedPct')}"/><path class="terminated" d="${path('terminatedPct')}"/></svg>`;
  return `<figure><figcaption>${esc(title)}</figcaption>${svg}</figure>`;
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
.impaired{fill:none;stroke:#d62728;stroke-width:1.5}.terminated{fill:none;stroke:#333;stroke-width:1.5;stroke-dasharray:4 2}
line.m-wave{stroke:#1f77b4;stroke-dasharray:3 3}text.m-wave{fill:#1f77b4;font-size:10px}
line.m-halt{stroke:#2ca02c;stroke-width:2}text.m-halt{fill:#2ca02c;font-size:10px}
line.m-first{stroke:#ff7f0e;stroke-dasharray:1 2}text.m-first{fill:#ff7f0e;font-size:10px}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:2px 8px;text-align:left}
.legend span{margin-right:1.5em}.warn{color:#a30;font-weight:600}
</style></head><body>
<h1>sluice sim run ${esc(r.scenario)}</h1>
${r.description ? `<p>${esc(r.description)}</p>` : ''}
<p>${r.hosts} hosts, seed ${r.seed}, from ${esc(r.start)} to ${esc(r.end)}. Every run uses the same fleet and seed.</p>
<p class="legend"><span style="color:#d62728">&#9473; impaired (% of hosts)</span><span>&#9476; terminated (% of hosts, cumulative)</span><span style="color:#1f77b4">&#9482; wave start</span><span style="color:#2ca02c">&#9475; rollout halted</span></p>
${headline(r)}
${runSection('uncontrolled (as it happened)', r.runs.uncontrolled, r)}
${r.runs.guarded ? runSection('uncontrolled, with the remediation guard in front of auto-healing', r.runs.guarded, r) : ''}
${runSection('controlled (through the plan)', r.runs.controlled, r)}
</body></html>
`;
}

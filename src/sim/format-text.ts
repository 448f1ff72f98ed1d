// The side-by-side text summary `sluice sim run` prints (pure: result in, text out).
import type { SimResult } from './simulate.ts';

const time = (v: string | null) => (v === null ? '-' : v.replace('T', ' ').replace(/\.\d+Z$/, 'Z'));

function row(label: string, ...cols: string[]): string {
  return `${label.padEnd(24)} ${cols.map((c, i) => (i < cols.length - 1 ? c.padEnd(30) : c)).join(' ')}\n`;
}

function hostsPct(count: number, pct: number): string {
  return `${count} (${pct}%)`;
}

export function renderSimText(r: SimResult): string {
  const u = r.runs.uncontrolled;
  const c = r.runs.controlled;
  let out = `scenario ${r.scenario}: ${r.hosts} hosts, seed ${r.seed}, ${time(r.start)} to ${time(r.end)}\n`;
  out += `controlled run: plan ${c.rollout?.plan ?? '-'}, rollout ${c.rollout?.state ?? '-'}\n\n`;
  const g = r.runs.guarded;
  const runs = g ? [u, g, c] : [u, c];
  const heads = g ? ['uncontrolled (as it happened)', 'uncontrolled + guard', 'controlled (through the plan)'] : ['uncontrolled (as it happened)', 'controlled (through the plan)'];
  out += row('', ...heads);
  out += row('hosts changed', ...runs.map((x) => String(x.hostsChanged)));
  out += row('first impaired at', ...runs.map((x) => time(x.firstImpairedAt)));
  out += row('peak impaired', ...runs.map((x) => hostsPct(x.peakImpaired, x.peakImpairedPct)));
  out += row('peak capacity lost', ...runs.map((x) => `${x.peakCapacityLostPct}%`));
  out += row('terminated', ...runs.map((x) => hostsPct(x.terminated, x.terminatedPct)));
  out += row('data-bearing lost', ...runs.map((x) => hostsPct(x.dataBearingLost, x.dataBearingLostPct)));
  out += row('halted at', ...runs.map((x) => time(x.haltedAt)));
  if (g?.guard) {
    out += `\nremediation guard: asked ${g.guard.asked} times, denied ${g.guard.denied} (${g.guard.deniedHosts} hosts kept, data intact)\n`;
    if (g.guard.lastDenial) out += `  last denial: ${g.guard.lastDenial}\n`;
  }
  const names = u.regions.map((a) => `${a.name} (${a.provider}, ${a.hosts})`);
  const width = Math.max('per region'.length, ...names.map((n) => n.length)) + 2;
  out += `\n${'per region'.padEnd(width)}${'uncontrolled peak/terminated/recovered'.padEnd(41)}${g ? 'guarded terminated'.padEnd(20) : ''}${'controlled peak/terminated'.padEnd(28)}peak capacity lost uncontrolled/controlled\n`;
  for (let i = 0; i < u.regions.length; i++) {
    const a = u.regions[i]!;
    const b = c.regions[i]!;
    const left = `${a.peakImpairedPct}% / ${a.terminatedPct}% / ${time(a.recoveredAt)}`;
    const mid = g ? `${g.regions[i]!.terminatedPct}%`.padEnd(20) : '';
    const right = `${b.peakImpairedPct}% / ${b.terminatedPct}%`.padEnd(28);
    out += `${names[i]!.padEnd(width)}${left.padEnd(41)}${mid}${right}${a.peakCapacityLostPct}% / ${b.peakCapacityLostPct}%\n`;
  }
  if (c.rollout) {
    out += `\nwaves of ${c.rollout.plan}:\n`;
    for (const w of c.rollout.waves) {
      out += `  ${w.name.padEnd(28)} ${w.state.padEnd(12)} ${String(w.hosts).padStart(6)} hosts  ${w.failed} failed  started ${time(w.startedAt)}\n`;
    }
    if (c.rollout.reason) out += `  reason: ${c.rollout.reason}\n`;
    if (c.rollout.state === 'completed' && c.peakImpaired > 0) {
      out += `\nwarning: the rollout completed while up to ${c.peakImpaired} hosts (${c.peakImpairedPct}%) were impaired: its checks did not see the breakage\n`;
    }
  }
  return out;
}


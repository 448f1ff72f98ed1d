// The side-by-side text summary `sluice sim run` prints (pure: result in, text out).
import type { SimResult } from './simulate.ts';

const time = (v: string | null) => (v === null ? '-' : v.replace('T', ' ').replace(/\.\d+Z$/, 'Z'));

function row(label: string, a: string, b: string): string {
  return `${label.padEnd(24)} ${a.padEnd(30)} ${b}\n`;
}

function hostsPct(count: number, pct: number): string {
  return `${count} (${pct}%)`;
}

export function renderSimText(r: SimResult): string {
  const u = r.runs.uncontrolled;
  const c = r.runs.controlled;
  let out = `scenario ${r.scenario}: ${r.hosts} hosts, seed ${r.seed}, ${time(r.start)} to ${time(r.end)}\n`;
  out += `controlled run: plan ${c.rollout?.plan ?? '-'}, rollout ${c.rollout?.state ?? '-'}\n\n`;
  out += row('', 'uncontrolled (as it happened)', 'controlled (through the plan)');
  out += row('hosts changed', String(u.hostsChanged), String(c.hostsChanged));
  out += row('first impaired at', time(u.firstImpairedAt), time(c.firstImpairedAt));
  out += row('peak impaired', hostsPct(u.peakImpaired, u.peakImpairedPct), hostsPct(c.peakImpaired, c.peakImpairedPct));
  out += row('terminated', hostsPct(u.terminated, u.terminatedPct), hostsPct(c.terminated, c.terminatedPct));
  out += row('data-bearing lost', hostsPct(u.dataBearingLost, u.dataBearingLostPct), hostsPct(c.dataBearingLost, c.dataBearingLostPct));
  out += row('halted at', time(u.haltedAt), time(c.haltedAt));
  const names = u.regions.map((a) => `${a.name} (${a.provider}, ${a.hosts})`);
  const width = Math.max('per region'.length, ...names.map((n) => n.length)) + 2;
  out += `\n${'per region'.padEnd(width)}${'uncontrolled peak/terminated/recovered'.padEnd(41)}controlled peak/terminated\n`;
  for (let i = 0; i < u.regions.length; i++) {
    const a = u.regions[i]!;
    const b = c.regions[i]!;
    const left = `${a.peakImpairedPct}% / ${a.terminatedPct}% / ${time(a.recoveredAt)}`;
    out += `${names[i]!.padEnd(width)}${left.padEnd(41)}${b.peakImpairedPct}% / ${b.terminatedPct}%\n`;
  }
  if (c.rollout) {
    out += `\nwaves of ${c.rollout.plan}:\n`;
    for (const w of c.rollout.waves) {
      out += `  ${w.name.padEnd(28)} ${w.state.padEnd(12)} ${String(w.hosts).padStart(6)} hosts  ${w.failed} failed  started ${time(w.startedAt)}\n`;
    }
    if (c.rollout.reason) out += `  reason: ${c.rollout.reason}\n`;
  }
  return out;
}


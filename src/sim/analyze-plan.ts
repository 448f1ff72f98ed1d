// `sluice plan analyze`: what a plan would do to a fleet, without running anything. From the
// engine's own wave expansion (previewWaves): the worst case before any check can stop a bad
// change, the time to reach the whole fleet if every wave passes, and warnings. Pure.
import { describeGate } from '../core/plan/describe-plan.ts';
import { leafSpecs, previewWaves, resolveQuantity } from '../core/fleet/expand-waves.ts';
import { matchesSelector } from '../core/fleet/select.ts';
import { formatDuration } from '../core/plan/duration.ts';
import type { HostInfo, Labels, Millis, Plan } from '../core/types.ts';

export interface AnalyzeOptions {
  /** Time one host takes to apply the change and pass its first check (default 1 minute). */
  readonly hostTime?: Millis;
  /** The plan's YAML text: a reason for `onFailure: halt` is a comment on that line. */
  readonly source?: string;
  /** Providers' auto-healing: a host cut off this long (status checks failing) is replaced. */
  readonly autoHealing?: readonly { readonly provider: string; readonly after: Millis }[];
}

/** Largest share of a stratum a canary (the first wave) should take. */
export const CANARY_MAX_STRATUM_SHARE = 0.05;

export interface RegionExposure {
  name: string;
  provider: string;
  hosts: number;
  regionHosts: number;
  pct: number;
}

export interface PlanAnalysis {
  plan: string;
  fleet: { hosts: number; targeted: number; regions: number; providers: number };
  waves: { name: string; hosts: number; parallel: number; bake: string; approve: boolean; failedAllowed: number; regions: number }[];
  worstCase: {
    hosts: number;
    fleetPct: number;
    /** `checks`: the first failing check stops it; `silence-only`: only a host that stops reporting does. */
    detection: 'checks' | 'silence-only';
    explanation: string;
    regions: RegionExposure[];
    regionsTouched: number;
    providersTouched: string[];
  };
  completion: { ms: number; text: string; approvals: number; assumptions: string[] };
  warnings: string[];
  /** Metric gates, one line each (plan gates, then each wave spec's own, prefixed with its name). */
  gates: string[];
}

const NONE = '(none)';
const label = (labels: Labels, key: string) => (Object.hasOwn(labels, key) ? labels[key]! : NONE);
const pct = (part: number, whole: number) => (whole === 0 ? 0 : Math.round((part / whole) * 100_000) / 1000);

export function analyzePlan(plan: Plan, hosts: readonly HostInfo[], options: AnalyzeOptions = {}): PlanAnalysis {
  const hostTime = options.hostTime ?? 60_000;
  const byName = new Map(hosts.map((h) => [h.name, h]));
  const targeted = hosts.filter((h) => matchesSelector(h.labels, plan.hosts.match));
  const waves = previewWaves(plan, hosts);
  const regionSize = new Map<string, { provider: string; hosts: number }>();
  for (const h of hosts) {
    const key = label(h.labels, 'region');
    const entry = regionSize.get(key) ?? { provider: label(h.labels, 'provider'), hosts: 0 };
    entry.hosts++;
    regionSize.set(key, entry);
  }
  const providers = new Set(hosts.map((h) => label(h.labels, 'provider')));
  const regionsOf = (names: readonly string[]) => new Set(names.map((n) => label(byName.get(n)!.labels, 'region')));

  const totalAllowed = resolveQuantity(plan.budget.failedTotal, targeted.length, 'floor');
  const waveInfo = waves.map((w) => {
    // A nested step's wave runs as its step (its own parallel and bake), not as the wave spec.
    const spec = w.leaf === undefined ? plan.waves[w.specIndex]! : leafSpecs(plan.waves[w.specIndex]!)[w.leaf]!;
    const parallel = spec.parallel ? Math.min(w.hosts.length, Math.max(1, resolveQuantity(spec.parallel, w.hosts.length, 'ceil'))) : w.hosts.length;
    const failedAllowed = resolveQuantity(plan.budget.failedPerWave, w.hosts.length, 'floor');
    return { wave: w, spec, parallel, failedAllowed };
  });

  // Worst case: with checks, a wave halts at its (allowed + 1)th failure; by then `allowed`
  // failed hosts have been replaced by new ones and `parallel` more are in flight.
  const exposed: string[] = [];
  let detection: 'checks' | 'silence-only' = 'checks';
  let explanation: string;
  if (plan.checks.length === 0) {
    detection = 'silence-only';
    for (const w of waves) exposed.push(...w.hosts);
    explanation = 'the plan has no checks: only a host that stops reporting can halt it, so a change that breaks the service but not the network reaches every host in its waves';
  } else {
    let remaining = totalAllowed;
    explanation = '';
    for (const { wave, parallel, failedAllowed } of waveInfo) {
      const allowed = Math.min(failedAllowed, remaining);
      if (wave.hosts.length > allowed) {
        const n = Math.min(wave.hosts.length, allowed + parallel);
        exposed.push(...wave.hosts.slice(0, n));
        explanation = `wave "${wave.name}" halts at its failure number ${allowed + 1}; by then up to ${n} of its ${wave.hosts.length} hosts have the change (parallel ${parallel}, ${allowed} failure${allowed === 1 ? '' : 's'} allowed)`;
        break;
      }
      exposed.push(...wave.hosts);
      remaining -= wave.hosts.length;
    }
    if (explanation === '') explanation = 'the failure budgets let every wave fail entirely: no check can stop a bad change';
  }
  const exposedRegions = new Map<string, number>();
  for (const n of exposed) {
    const r = label(byName.get(n)!.labels, 'region');
    exposedRegions.set(r, (exposedRegions.get(r) ?? 0) + 1);
  }
  const regionList: RegionExposure[] = [...exposedRegions.entries()]
    .map(([name, count]) => {
      const size = regionSize.get(name)!;
      return { name, provider: size.provider, hosts: count, regionHosts: size.hosts, pct: pct(count, size.hosts) };
    })
    .sort((a, b) => b.pct - a.pct || a.name.localeCompare(b.name));

  // Completion if every wave passes: batches of `parallel`, each taking hostTime, then the bake.
  let ms = 0;
  let approvals = 0;
  for (const { wave, spec, parallel } of waveInfo) {
    ms += Math.ceil(wave.hosts.length / parallel) * hostTime + spec.bake;
    if (spec.approve) approvals++;
  }

  const warnings: string[] = [];
  if (plan.checks.length === 0) warnings.push('the plan has no checks: only silence (a host that stops reporting) can halt it');
  else if (!plan.checks.some((c) => c.kind === 'ipRulesPreserved' || c.kind === 'routesPreserved')) {
    warnings.push('no ipRulesPreserved or routesPreserved check: a change that breaks host routing while the host stays reachable (kops 2025) passes');
  }
  const allRegions = new Set(targeted.map((h) => label(h.labels, 'region')));
  waveInfo.forEach(({ wave, spec, failedAllowed }, i) => {
    const rs = regionsOf(wave.hosts);
    if (allRegions.size > 1 && rs.size === allRegions.size) warnings.push(`wave "${wave.name}" spans every region (${rs.size}) at once`);
    if (spec.bake === 0 && i < waveInfo.length - 1) warnings.push(`wave "${wave.name}" has no bake: the next wave starts as soon as its hosts pass their first check`);
    if (failedAllowed >= wave.hosts.length) warnings.push(`wave "${wave.name}" may have ${failedAllowed} failed hosts but holds only ${wave.hosts.length}: it can fail entirely without halting`);
  });
  if (targeted.length > 0 && totalAllowed >= targeted.length) warnings.push(`failedTotal allows ${totalAllowed} failures for ${targeted.length} targeted hosts: the rollout can never halt on its budget`);
  const first = waves[0];
  if (first) {
    const stratum = (h: HostInfo) => `os=${label(h.labels, 'os')} x provider=${label(h.labels, 'provider')}`;
    const covered = new Set(first.hosts.map((n) => stratum(byName.get(n)!)));
    const missing = new Map<string, number>();
    for (const h of targeted) {
      const s = stratum(h);
      if (!covered.has(s)) missing.set(s, (missing.get(s) ?? 0) + 1);
    }
    for (const [s, count] of [...missing.entries()].sort((a, b) => a[0].localeCompare(b[0]))) {
      warnings.push(`the first wave ("${first.name}") misses the stratum ${s} (${count} targeted hosts)`);
    }
  }
  if (first) {
    // A canary is a sample: more than 5% of a stratum is no longer a small first step.
    const stratum = (h: HostInfo) => `os=${label(h.labels, 'os')} x provider=${label(h.labels, 'provider')}`;
    const size = new Map<string, number>();
    for (const h of targeted) size.set(stratum(h), (size.get(stratum(h)) ?? 0) + 1);
    const taken = new Map<string, number>();
    for (const n of first.hosts) {
      const s = stratum(byName.get(n)!);
      taken.set(s, (taken.get(s) ?? 0) + 1);
    }
    for (const [s, count] of [...taken.entries()].sort((a, b) => a[0].localeCompare(b[0]))) {
      const of = size.get(s) ?? count;
      if (count / of > CANARY_MAX_STRATUM_SHARE) {
        warnings.push(`the first wave ("${first.name}") takes ${pct(count, of)}% of the stratum ${s} (${count} of ${of} hosts): a canary should be at most ${CANARY_MAX_STRATUM_SHARE * 100}% of each stratum`);
      }
    }
  }
  if (plan.confirmWindow === 0) {
    warnings.push('confirmWindow is 0s: commit-confirmed is off, so a host the change cuts off the network cannot roll itself back, and the server cannot reach it to do so');
  }
  if (plan.onFailure === 'halt' && !haltHasReason(options.source)) {
    warnings.push('onFailure: halt leaves every changed host as it is when the rollout stops (failed ones included); say why on that line (e.g. "onFailure: halt  # keep the hosts for forensics") or use rollback');
  }
  for (const { provider, after } of options.autoHealing ?? []) {
    if (plan.budget.silentAfter >= after) {
      warnings.push(`silentAfter (${formatDuration(plan.budget.silentAfter)}) is not shorter than ${provider}'s auto-healing delay (${formatDuration(after)}): a host the change cuts off is replaced (local data lost) before the rollout counts it silent`);
    }
    if (plan.confirmWindow >= after) {
      warnings.push(`confirmWindow (${formatDuration(plan.confirmWindow)}) is not shorter than ${provider}'s auto-healing delay (${formatDuration(after)}): a host the change cuts off is replaced before it can roll itself back`);
    }
  }
  const inWaves = waves.reduce((a, w) => a + w.hosts.length, 0);
  if (inWaves < targeted.length) warnings.push(`${targeted.length - inWaves} targeted hosts are in no wave and would never get the change`);

  return {
    plan: plan.name,
    fleet: { hosts: hosts.length, targeted: targeted.length, regions: regionSize.size, providers: providers.size },
    waves: waveInfo.map(({ wave, spec, parallel, failedAllowed }) => ({
      name: wave.name,
      hosts: wave.hosts.length,
      parallel,
      bake: formatDuration(spec.bake),
      approve: spec.approve,
      failedAllowed,
      regions: regionsOf(wave.hosts).size,
    })),
    worstCase: {
      hosts: exposed.length,
      fleetPct: pct(exposed.length, hosts.length),
      detection,
      explanation,
      regions: regionList,
      regionsTouched: regionList.length,
      providersTouched: [...new Set(regionList.map((r) => r.provider))].sort(),
    },
    completion: {
      ms,
      text: formatDuration(ms),
      approvals,
      assumptions: [
        `each host takes ${formatDuration(hostTime)} to apply the change and pass its first check`,
        'hosts of a wave are changed in batches of its parallel setting, one batch after the other',
        'every wave passes and bakes for its full bake time',
        approvals > 0 ? `${approvals} wave(s) wait for approval; the wait is not counted` : 'no wave waits for approval',
      ],
    },
    warnings,
    gates: [
      ...(plan.gates ?? []).map((g) => `every wave: ${describeGate(g)}`),
      ...plan.waves.flatMap((w) => (w.gates ?? []).map((g) => `${w.name}: ${describeGate(g)}`)),
    ],
  };
}

/** Whether the plan's `onFailure: halt` line carries a comment (its reason). */
function haltHasReason(source: string | undefined): boolean {
  if (source === undefined) return false;
  return source.split('\n').some((line) => /^\s*onFailure\s*:\s*["']?halt["']?\s*#\s*\S/.test(line) || /onFailure\s*:\s*halt\s*[,}].*#\s*\S/.test(line));
}

export function renderAnalysis(a: PlanAnalysis, fleetSource: string): string {
  let out = `plan ${a.plan} over ${fleetSource}: ${a.fleet.hosts} hosts (${a.fleet.targeted} targeted), ${a.fleet.regions} regions, ${a.fleet.providers} providers\n\nwaves:\n`;
  for (const w of a.waves) {
    out += `  ${w.name.padEnd(30)} ${String(w.hosts).padStart(7)} hosts  parallel ${String(w.parallel).padEnd(6)} bake ${w.bake.padEnd(6)} ${w.regions} region(s)${w.approve ? '  approval' : ''}\n`;
  }
  const wc = a.worstCase;
  out += `\nworst case before any check can stop a bad change: ${wc.hosts} hosts (${wc.fleetPct}% of the fleet), ${wc.regionsTouched} region(s), providers ${wc.providersTouched.join(', ') || '-'}\n`;
  out += `  ${wc.explanation}\n`;
  for (const r of wc.regions) out += `  ${r.name} (${r.provider}): ${r.hosts} of ${r.regionHosts} hosts (${r.pct}%)\n`;
  out += `\ntime to reach the whole fleet if every wave passes: ${a.completion.text}\n`;
  for (const s of a.completion.assumptions) out += `  assuming ${s}\n`;
  if (a.gates.length > 0) out += `\nmetric gates (before each wave starts and through its bake; no data or an error fails a gate):\n${a.gates.map((g) => `  ${g}\n`).join('')}`;
  out += a.warnings.length === 0 ? '\nno warnings\n' : `\nwarnings:\n${a.warnings.map((w) => `  - ${w}\n`).join('')}`;
  return out;
}


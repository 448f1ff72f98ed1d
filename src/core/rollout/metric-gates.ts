// Metric gates, the pure half: which gates hold a wave, and the verdict on a query's samples.
// The driver (src/engine/gate-monitor.ts) runs the queries; the transition (./transition.ts) acts
// on the verdicts (`gatesPassed`, `gateFailed`). Evidence, not silence: no data, too few samples,
// a value that is not a number, or any error FAILS a gate; it never passes one.
import type { GateSpec, Instant, Plan, WaveSpec } from '../types.ts';
import { formatDuration } from '../plan/duration.ts';

/** The plan's gates, then the wave's own. */
export function gatesFor(plan: Plan, spec: WaveSpec): readonly GateSpec[] {
  const own = spec.gates ?? [];
  const all = plan.gates ?? [];
  return own.length === 0 ? all : all.length === 0 ? own : [...all, ...own];
}

/**
 * The gates holding a wave of a rollout: the plan's, its wave spec's, and for a nested step's
 * wave (its spec is the leaf step) the step's own too.
 */
export function waveGates(plan: Plan, wave: { readonly specIndex: number; readonly spec: WaveSpec }): readonly GateSpec[] {
  const top = plan.waves[wave.specIndex];
  const base = top === undefined ? gatesFor(plan, wave.spec) : gatesFor(plan, top);
  if (top === undefined || top === wave.spec || (wave.spec.gates ?? []).length === 0) return base;
  return [...base, ...(wave.spec.gates ?? []).filter((g) => !base.includes(g))];
}

/** One series of a range query: [unix seconds, value as Prometheus writes it ("0.5", "NaN", "+Inf")]. */
export interface GateSeries {
  readonly labels: Readonly<Record<string, string>>;
  readonly samples: readonly (readonly [number, string])[];
}

/** What the query returned: the series, or why there is none (HTTP error, timeout, parse error, ...). */
export type GateQueryResult = { readonly ok: true; readonly series: readonly GateSeries[] } | { readonly ok: false; readonly error: string };

export interface GateVerdict {
  readonly gate: string;
  readonly query: string;
  readonly pass: boolean;
  /** The offending value (fail), or the latest one (pass); null when there was none. */
  readonly value: number | null;
  /** When that value was sampled (ms); for a failure with no value, when the gate was evaluated. */
  readonly at: Instant;
  /** Samples in the window. */
  readonly samples: number;
  readonly message: string;
}

export function conditionText(gate: GateSpec): string {
  return gate.below !== undefined ? `below ${gate.below}` : `above ${gate.above}`;
}

function holds(gate: GateSpec, v: number): boolean {
  return gate.below !== undefined ? v < gate.below : gate.above !== undefined ? v > gate.above : false;
}

function iso(ms: Instant): string {
  return new Date(ms).toISOString();
}

/**
 * The verdict on a gate at `now`: it passes only when the query returned exactly one series with
 * at least minSamples samples in [now - window, now], every one of them a number meeting the
 * condition. Otherwise it fails, and the message says which query, which value and when.
 */
export function judgeGate(gate: GateSpec, result: GateQueryResult, now: Instant): GateVerdict {
  const base = { gate: gate.name, query: gate.query };
  const fail = (message: string, value: number | null = null, at: Instant = now, samples = 0): GateVerdict => ({
    ...base,
    pass: false,
    value,
    at,
    samples,
    message: `gate ${gate.name} failed: ${message} (query: ${gate.query})`,
  });
  if (!result.ok) return fail(`no evidence: ${result.error}`);
  if (result.series.length === 0) return fail(`no data over the last ${formatDuration(gate.window)}`);
  if (result.series.length > 1) return fail(`the query returned ${result.series.length} series; a gate needs exactly one (aggregate it, e.g. with sum or max)`);
  const series = result.series[0]!;
  const from = now - gate.window;
  const inWindow: { at: Instant; raw: string; v: number }[] = [];
  for (const [ts, raw] of series.samples) {
    const at = Math.round(ts * 1000);
    if (!Number.isFinite(at) || at < from || at > now) continue;
    inWindow.push({ at, raw, v: promNumber(raw) });
  }
  inWindow.sort((a, b) => a.at - b.at);
  const n = inWindow.length;
  if (n < gate.minSamples) {
    return fail(`too few samples: ${n} over the last ${formatDuration(gate.window)}, at least ${gate.minSamples} needed`, null, now, n);
  }
  // The latest offending sample: what the operator most needs to see.
  for (let i = n - 1; i >= 0; i--) {
    const s = inWindow[i]!;
    if (Number.isNaN(s.v)) return fail(`value ${JSON.stringify(s.raw)} at ${iso(s.at)} is not a number`, null, s.at, n);
    if (!holds(gate, s.v)) return fail(`value ${s.v} at ${iso(s.at)} is not ${conditionText(gate)}`, s.v, s.at, n);
  }
  const last = inWindow[n - 1]!;
  return {
    ...base,
    pass: true,
    value: last.v,
    at: last.at,
    samples: n,
    message: `gate ${gate.name} passed: ${n} samples over the last ${formatDuration(gate.window)} ${conditionText(gate)}, latest ${last.v} at ${iso(last.at)}`,
  };
}

/** A sample value as Prometheus writes it: "0.5", "1e-3", "+Inf", "-Inf", "NaN"; anything else is NaN. */
export function promNumber(raw: unknown): number {
  if (typeof raw !== 'string' || raw.trim() === '') return NaN;
  if (raw === '+Inf' || raw === 'Inf') return Infinity;
  if (raw === '-Inf') return -Infinity;
  return Number(raw);
}

/** The range-query step for a gate: at least 30 points (and twice minSamples) over its window, at least 1 s. */
export function gateStep(gate: GateSpec): number {
  return Math.max(1000, Math.floor(gate.window / Math.max(30, 2 * gate.minSamples)));
}

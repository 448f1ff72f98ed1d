// Metric gates, the driver's half: on every engine tick (leader only, never on a request path) it
// looks at each running rollout's current wave and queries Prometheus for its gates: at once for a
// wave waiting to start (then `gatesPassed` or `gateFailed`), and every gate's `interval` while the
// wave applies and bakes (`gateFailed` on the first failing verdict). At most one evaluation per
// rollout at a time; the verdict itself is pure (src/core/rollout/metric-gates.ts).
import type { GateSpec, Instant } from '../core/types.ts';
import type { RolloutEvent } from '../core/rollout/types.ts';
import { judgeGate, waveGates, type GateQueryResult, type GateVerdict } from '../core/rollout/metric-gates.ts';
import { awaitsGates, type RolloutState } from '../core/rollout/rollout-state.ts';
import { queryGate } from './prometheus-client.ts';

export type GateQuery = (gate: GateSpec, baseUrl: string, now: Instant) => Promise<GateQueryResult>;

export interface GateMonitorOptions {
  /** --prometheus-url: for gates that do not name their own. */
  readonly defaultUrl?: string;
  readonly query?: GateQuery;
  readonly now: () => Instant;
  readonly dispatch: (rolloutId: string, event: RolloutEvent) => Promise<unknown>;
  /** Called with every verdict (metrics). */
  readonly onVerdict?: (pass: boolean) => void;
  readonly log: { warn(o: Record<string, unknown>, m: string): void; info(o: Record<string, unknown>, m: string): void };
}

export class GateMonitor {
  private readonly o: GateMonitorOptions;
  private readonly query: GateQuery;
  /** Rollouts with an evaluation in flight. */
  private readonly busy = new Set<string>();
  /** Last evaluation per rollout/wave/gate. */
  private readonly last = new Map<string, Instant>();
  /** The latest verdict per rollout and gate (rollout view). */
  private readonly verdicts = new Map<string, Map<string, GateVerdict>>();

  constructor(o: GateMonitorOptions) {
    this.o = o;
    this.query = o.query ?? ((gate, url, now) => queryGate(gate, url, now));
  }

  /** Latest verdicts of a rollout's gates (in memory on the leader). */
  latest(rolloutId: string): GateVerdict[] {
    return [...(this.verdicts.get(rolloutId)?.values() ?? [])];
  }

  /** A rollout ended: no more evaluations; its last verdicts stay for the view (the newest 200 rollouts). */
  forget(rolloutId: string): void {
    for (const k of [...this.last.keys()]) if (k.startsWith(`${rolloutId}\u0000`)) this.last.delete(k);
    while (this.verdicts.size > 200) this.verdicts.delete(this.verdicts.keys().next().value!);
  }

  /** Called on every tick for every active rollout: starts an evaluation when one is due. */
  check(rolloutId: string, state: RolloutState): void {
    if (state.status !== 'running' || state.heldReason !== null || this.busy.has(rolloutId)) return;
    const index = state.current;
    const wave = state.waves[index];
    if (!wave) return;
    const gates = waveGates(state.plan, wave);
    if (gates.length === 0) return;
    const now = this.o.now();
    const before = awaitsGates(state, index);
    let due: readonly GateSpec[];
    if (before) due = gates;
    else if (wave.state === 'applying' || wave.state === 'baking') {
      due = gates.filter((g) => {
        const at = this.last.get(key(rolloutId, index, g.name));
        return at === undefined || now - at >= g.interval;
      });
    } else return;
    if (due.length === 0) return;
    this.busy.add(rolloutId);
    void this.evaluate(rolloutId, index, due, before, now).finally(() => this.busy.delete(rolloutId));
  }

  private async evaluate(rolloutId: string, index: number, gates: readonly GateSpec[], before: boolean, now: Instant): Promise<void> {
    const verdicts = await Promise.all(
      gates.map(async (g) => {
        const url = g.prometheus ?? this.o.defaultUrl;
        const result: GateQueryResult =
          url === undefined
            ? { ok: false, error: 'no Prometheus URL: set "prometheus" in the gate or start the server with --prometheus-url' }
            : await this.query(g, url, now).catch((err: unknown) => ({ ok: false as const, error: String(err) }));
        this.last.set(key(rolloutId, index, g.name), now);
        return judgeGate(g, result, this.o.now());
      }),
    );
    let byGate = this.verdicts.get(rolloutId);
    if (!byGate) this.verdicts.set(rolloutId, (byGate = new Map()));
    for (const v of verdicts) {
      byGate.set(v.gate, v);
      this.o.onVerdict?.(v.pass);
    }
    const failed = verdicts.find((v) => !v.pass);
    try {
      if (failed) {
        this.o.log.warn({ rolloutId, gate: failed.gate, value: failed.value, at: failed.at }, failed.message);
        await this.o.dispatch(rolloutId, { type: 'gateFailed', wave: index, gate: failed.gate, message: failed.message });
      } else if (before) {
        await this.o.dispatch(rolloutId, { type: 'gatesPassed', wave: index });
      }
    } catch (err) {
      this.o.log.warn({ rolloutId, err: String(err) }, 'dispatching a gate verdict failed');
    }
  }
}

function key(rolloutId: string, wave: number, gate: string): string {
  return `${rolloutId}\u0000${wave}\u0000${gate}`;
}

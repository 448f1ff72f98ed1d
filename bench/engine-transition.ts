// Per-event cost of the rollout engine at 1,000 vs 100,000 targeted hosts. A transition must cost
// in proportion to the hosts it touches, so the ratio of the two should be about 1.
// Run: ./bin/sluice-node bench/engine-transition.ts
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { HostInfo, Instant } from '../src/core/types.ts';
import { createRolloutState, transition, type RolloutState } from '../src/core/rollout/transition.ts';
import { makePlan, T0, wave } from '../src/core/rollout/test-fixtures.ts';

type Kind = 'applyResult' | 'checkResult' | 'heartbeat' | 'tick';
const KINDS: Kind[] = ['applyResult', 'checkResult', 'heartbeat', 'tick'];
const PARALLEL = 500;
/** Apply/check events measured per fleet size (whole rollouts are repeated for small fleets). */
const RESULT_EVENTS = 50_000;
const ROUNDS = 3;

// Collect garbage before each timed phase, so one size does not pay for the other's allocations.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const HEARTBEATS = 100_000;
const TICKS = 100_000;

function fleet(n: number): HostInfo[] {
  return Array.from({ length: n }, (_, i) => ({
    name: `host-${String(i).padStart(6, '0')}`,
    labels: { zone: `z${i % 12}`, provider: i % 3 ? 'aws' : 'gcp' },
  }));
}

function measure(n: number): Record<Kind, number> {
  const hosts = fleet(n);
  const plan = makePlan({
    waves: [wave('all', { parallel: { count: PARALLEL }, bake: 3_600_000 })],
    budget: { failedPerWave: { count: 0 }, failedTotal: { count: 0 }, silentAfter: 86_400_000 },
  });
  const total: Record<Kind, number> = { applyResult: 0, checkResult: 0, heartbeat: 0, tick: 0 };
  const count: Record<Kind, number> = { applyResult: 0, checkResult: 0, heartbeat: 0, tick: 0 };
  let now: Instant = T0;
  let state: RolloutState | null = null;
  let inFlight: string[] = [];

  const fresh = (): void => {
    state = createRolloutState(`r${n}`, plan, now);
    const { effects } = transition(state, { type: 'start', hosts }, now);
    inFlight = effects.flatMap((e) => (e.type === 'assign' ? [e.host] : []));
  };
  fresh();
  gc();

  // Apply then first check for every busy host; each passed check assigns the next host in line.
  while (count.applyResult < RESULT_EVENTS) {
    if (inFlight.length === 0) fresh();
    const s = state as unknown as RolloutState;
    let t = performance.now();
    for (const h of inFlight) transition(s, { type: 'applyResult', host: h, attempt: 1, ok: true }, ++now);
    total.applyResult += performance.now() - t;
    count.applyResult += inFlight.length;
    const next: string[] = [];
    t = performance.now();
    for (const h of inFlight) {
      const { effects } = transition(s, { type: 'checkResult', host: h, attempt: 1, ok: true }, ++now);
      for (const e of effects) if (e.type === 'assign') next.push(e.host);
    }
    total.checkResult += performance.now() - t;
    count.checkResult += inFlight.length;
    inFlight = next;
  }

  // Heartbeats from hosts with work in flight (the wave is mid-apply: a new rollout).
  fresh();
  gc();
  const s = state as unknown as RolloutState;
  let t = performance.now();
  for (let i = 0; i < HEARTBEATS; i++) {
    transition(s, { type: 'heartbeat', host: inFlight[i % inFlight.length] ?? '' }, ++now);
  }
  total.heartbeat = performance.now() - t;
  count.heartbeat = HEARTBEATS;

  t = performance.now();
  for (let i = 0; i < TICKS; i++) transition(s, { type: 'tick' }, ++now);
  total.tick = performance.now() - t;
  count.tick = TICKS;

  const perEvent = {} as Record<Kind, number>;
  for (const k of KINDS) perEvent[k] = (total[k] * 1000) / count[k];
  return perEvent;
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

measure(1_000); // warm up the JIT
const runs: Record<'small' | 'large', Array<Record<Kind, number>>> = { small: [], large: [] };
for (let r = 0; r < ROUNDS; r++) {
  runs.small.push(measure(1_000));
  runs.large.push(measure(100_000));
}
console.log(`engine transition cost (µs/event, median of ${ROUNDS} rounds), parallel ${PARALLEL}`);
console.log('event         1,000 hosts   100,000 hosts   ratio');
for (const k of KINDS) {
  const small = median(runs.small.map((x) => x[k]));
  const large = median(runs.large.map((x) => x[k]));
  console.log(`${k.padEnd(12)} ${small.toFixed(2).padStart(12)} ${large.toFixed(2).padStart(15)} ${(large / small).toFixed(2).padStart(7)}`);
}

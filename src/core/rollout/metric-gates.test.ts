// Metric gates, pure half: the verdict on a query's samples (table), and what the state machine
// does with verdicts (a gated wave waits; a failed gate halts or rolls back like a failed budget).
import { describe, expect, it } from 'vitest';
import type { GateSpec } from '../types.ts';
import { gateStep, gatesFor, judgeGate, type GateQueryResult } from './metric-gates.ts';
import { Harness, T0, assigns, host, logKinds, makePlan, wave } from './test-fixtures.ts';

const NOW = T0;
const sec = (ms: number) => ms / 1000;
const gate = (extra: Partial<GateSpec> = {}): GateSpec => ({
  name: 'error-rate',
  query: 'sum(rate(errors[1m]))',
  below: 0.01,
  window: 60_000,
  minSamples: 3,
  interval: 10_000,
  timeout: 5_000,
  ...extra,
});
const series = (...points: [number, string][]): GateQueryResult => ({ ok: true, series: [{ labels: {}, samples: points }] });
/** Points `ago` ms before NOW. */
const pts = (...values: [number, string][]): [number, string][] => values.map(([ago, v]) => [sec(NOW - ago), v]);

describe('judgeGate', () => {
  const cases: { name: string; gate?: Partial<GateSpec>; result: GateQueryResult; pass: boolean; message: RegExp; value?: number | null }[] = [
    { name: 'enough samples, all below', result: series(...pts([30_000, '0.001'], [20_000, '0.002'], [10_000, '0'])), pass: true, message: /passed: 3 samples .* latest 0 at/, value: 0 },
    { name: 'enough samples, all above', gate: { below: undefined, above: 0.9 }, result: series(...pts([30_000, '0.95'], [20_000, '0.99'], [10_000, '1'])), pass: true, message: /passed/, value: 1 },
    { name: 'too few samples', result: series(...pts([20_000, '0'], [10_000, '0'])), pass: false, message: /too few samples: 2 over the last 1m, at least 3 needed/ },
    { name: 'samples outside the window do not count', result: series(...pts([120_000, '0'], [90_000, '0'], [10_000, '0'])), pass: false, message: /too few samples: 1/ },
    { name: 'no data (no series)', result: { ok: true, series: [] }, pass: false, message: /no data over the last 1m/ },
    { name: 'empty series', result: series(), pass: false, message: /too few samples: 0/ },
    { name: 'NaN', result: series(...pts([30_000, '0'], [20_000, 'NaN'], [10_000, '0'])), pass: false, message: /value "NaN" at .* is not a number/, value: null },
    { name: 'garbage value', result: series(...pts([30_000, '0'], [20_000, 'x'], [10_000, '0'])), pass: false, message: /is not a number/ },
    { name: '+Inf is not below', result: series(...pts([30_000, '0'], [20_000, '+Inf'], [10_000, '0'])), pass: false, message: /value Infinity .* is not below 0.01/ },
    { name: 'one red sample fails, naming the latest red one', result: series(...pts([30_000, '0.5'], [20_000, '0.2'], [10_000, '0'])), pass: false, message: /value 0.2 at 2023-11-14T22:13:00.000Z is not below 0.01 \(query: sum\(rate\(errors\[1m\]\)\)\)/, value: 0.2 },
    { name: 'equal to the threshold is not below', result: series(...pts([30_000, '0.01'], [20_000, '0'], [10_000, '0'])), pass: false, message: /not below 0.01/ },
    { name: 'an HTTP error', result: { ok: false, error: 'HTTP 503 from http://p:9090' }, pass: false, message: /no evidence: HTTP 503/ },
    { name: 'unreachable', result: { ok: false, error: 'connect ECONNREFUSED 127.0.0.1:1' }, pass: false, message: /no evidence: connect ECONNREFUSED/ },
    { name: 'a parse error', result: { ok: false, error: 'not JSON' }, pass: false, message: /no evidence: not JSON/ },
    { name: 'several series', result: { ok: true, series: [{ labels: { a: '1' }, samples: [] }, { labels: { a: '2' }, samples: [] }] }, pass: false, message: /2 series; a gate needs exactly one/ },
    { name: 'minSamples 1', gate: { minSamples: 1 }, result: series(...pts([5_000, '0'])), pass: true, message: /passed: 1 samples/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const g = gate(c.gate);
      const v = judgeGate(g, c.result, NOW);
      expect(v.pass).toBe(c.pass);
      expect(v.message).toMatch(c.message);
      expect(v.gate).toBe('error-rate');
      expect(v.query).toBe(g.query);
      if (c.value !== undefined) expect(v.value).toBe(c.value);
    });
  }

  it('step: about 30 points per window, at least 1 s', () => {
    expect(gateStep(gate({ window: 300_000 }))).toBe(10_000);
    expect(gateStep(gate({ window: 5_000 }))).toBe(1000);
    expect(gateStep(gate({ window: 300_000, minSamples: 50 }))).toBe(3000);
  });

  it('gatesFor: plan gates then the wave own', () => {
    const a = gate({ name: 'a' });
    const b = gate({ name: 'b' });
    expect(gatesFor(makePlan({ gates: [a] }), wave('w', { gates: [b] })).map((g) => g.name)).toEqual(['a', 'b']);
    expect(gatesFor(makePlan(), wave('w'))).toEqual([]);
  });
});

describe('gates in the state machine', () => {
  const HOSTS = [host('a'), host('b'), host('c')];

  it('a gated wave waits for gatesPassed before it starts; an ungated one does not', () => {
    const h = new Harness(makePlan({ waves: [wave('canary', { size: { count: 1 }, gates: [gate()] }), wave('rest')] }), HOSTS);
    const effects = h.start();
    expect(logKinds(effects)).toContain('wave.awaiting_gates');
    expect(assigns(effects)).toEqual([]);
    expect(h.waveStates()).toEqual({ canary: 'pending' });
    // A tick does not start it, nor log the wait again.
    expect(logKinds(h.tick(1000))).not.toContain('wave.awaiting_gates');
    const passed = h.send({ type: 'gatesPassed', wave: 0 });
    expect(logKinds(passed)).toEqual(expect.arrayContaining(['gate.passed', 'wave.started']));
    expect(assigns(passed)).toEqual(['apply a#1']);
    h.pass('a');
    // The next wave has no gate of its own and the plan none: it starts at the bake end.
    expect(assigns(h.tick(60_000))).toEqual(['apply b#2', 'apply c#2'].map((s) => s.replace('#2', '#1')));
  });

  it('plan gates hold every wave; a stale gatesPassed for another wave changes nothing', () => {
    const h = new Harness(makePlan({ gates: [gate()] }), HOSTS);
    h.start();
    expect(h.send({ type: 'gatesPassed', wave: 3 })).toEqual([]);
    h.send({ type: 'gatesPassed', wave: 0 });
    h.pass('a');
    const bakeEnd = h.tick(60_000);
    expect(h.waveStates()).toEqual({ canary: 'completed', rest: 'pending' });
    expect(logKinds(bakeEnd)).toContain('wave.awaiting_gates');
    expect(assigns(h.send({ type: 'gatesPassed', wave: 1 }))).toEqual(['apply b#1', 'apply c#1']);
  });

  it('a gate failing mid-bake rolls back (onFailure rollback) and says which gate, value and when', () => {
    const h = new Harness(makePlan({ gates: [gate()] }), HOSTS);
    h.start();
    h.send({ type: 'gatesPassed', wave: 0 });
    h.pass('a');
    const msg = 'gate error-rate failed: value 0.2 at 2023-11-14T22:13:10.000Z is not below 0.01 (query: q)';
    const effects = h.send({ type: 'gateFailed', wave: 0, gate: 'error-rate', message: msg }, 10_000);
    expect(logKinds(effects)).toEqual(expect.arrayContaining(['gate.failed', 'wave.failed', 'rollout.rolling_back']));
    expect(assigns(effects)).toEqual(['rollback a#2']);
    expect(h.state.reason).toBe(msg);
    h.rollbackResult('a', 2, true);
    expect(h.state.status).toBe('rolled_back');
    expect(h.state.reason).toContain('gate error-rate failed: value 0.2');
  });

  it('a gate failing before the wave starts halts (onFailure halt); retry waits for the gates again', () => {
    const h = new Harness(makePlan({ onFailure: 'halt', waves: [wave('canary', { size: { count: 1 }, gates: [gate()] }), wave('rest')] }), HOSTS);
    h.start();
    const effects = h.send({ type: 'gateFailed', wave: 0, gate: 'error-rate', message: 'gate error-rate failed: no data over the last 1m (query: q)' });
    expect(h.state.status).toBe('halted');
    expect(h.state.reason).toMatch(/no data/);
    expect(logKinds(effects)).toEqual(expect.arrayContaining(['gate.failed', 'rollout.halted']));
    const retried = h.send({ type: 'retry' });
    expect(h.state.status).toBe('running');
    expect(assigns(retried)).toEqual([]);
    expect(assigns(h.send({ type: 'gatesPassed', wave: 0 }))).toEqual(['apply a#1']);
  });

  it('a gateFailed for a wave that is not current, or a finished rollout, changes nothing', () => {
    const h = new Harness(makePlan({ gates: [gate()] }), HOSTS);
    h.start();
    expect(h.send({ type: 'gateFailed', wave: 1, gate: 'g', message: 'm' })).toEqual([]);
    h.send({ type: 'abort' });
    expect(h.send({ type: 'gateFailed', wave: 0, gate: 'g', message: 'm' })).toEqual([]);
  });
});

describe('gates across a restart', () => {
  it('a gated wave that was waiting waits again after a restore (its gates are evaluated again)', async () => {
    const { restoreRolloutState } = await import('./rollout-state.ts');
    const { awaitsGates } = await import('./rollout-state.ts');
    const h = new Harness(makePlan({ gates: [gate()] }), [host('a'), host('b')]);
    h.start();
    h.send({ type: 'gatesPassed', wave: 0 });
    h.pass('a');
    h.tick(60_000); // canary completes; rest waits for its gates
    expect(awaitsGates(h.state, 1)).toBe(true);
    const restored = restoreRolloutState(h.plan, h.snapshot());
    expect(restored.current).toBe(1);
    expect(awaitsGates(restored, 1)).toBe(true);
  });
});

describe('gates of nested steps', () => {
  it('a step wave is held by the plan, its top wave and its own gates', async () => {
    const { parsePlan } = await import('../plan/parse-plan.ts');
    const plan = parsePlan(
      `name: nested
change: { command: { apply: [x] } }
gates:
  - { name: plan-gate, query: a, below: 1 }
waves:
  - name: prod
    each: region
    gates:
      - { name: wave-gate, query: b, below: 1 }
    steps:
      - { name: one-zone, each: zone, limit: 1, bake: 1m }
      - { name: rest, bake: 1m }
`,
      'n.yaml',
    );
    const { leafSpecs } = await import('../fleet/expand-waves.ts');
    const { waveGates } = await import('./metric-gates.ts');
    const leaf = leafSpecs(plan.waves[0]!)[0]!;
    expect(waveGates(plan, { specIndex: 0, spec: leaf }).map((g) => g.name)).toEqual(['plan-gate', 'wave-gate']);
    expect(waveGates(plan, { specIndex: 0, spec: plan.waves[0]! }).map((g) => g.name)).toEqual(['plan-gate', 'wave-gate']);
  });
});

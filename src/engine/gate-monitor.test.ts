// The driver's half of gates with a stand-in query: a waiting wave is evaluated at once and told
// gatesPassed; through the bake each gate every `interval`, one evaluation at a time per rollout;
// a failing verdict (or a query that throws) is dispatched as gateFailed with the verdict's message.
import { describe, expect, it } from 'vitest';
import type { GateSpec } from '../core/types.ts';
import type { RolloutEvent } from '../core/rollout/types.ts';
import type { GateQueryResult } from '../core/rollout/metric-gates.ts';
import { Harness, T0, host, makePlan } from '../core/rollout/test-fixtures.ts';
import { GateMonitor } from './gate-monitor.ts';

const gate: GateSpec = { name: 'g', query: 'q', below: 1, window: 10_000, minSamples: 2, interval: 5000, timeout: 1000 };
const green = (now: number): GateQueryResult => ({ ok: true, series: [{ labels: {}, samples: [[(now - 2000) / 1000, '0'], [(now - 1000) / 1000, '0']] }] });
const flush = () => new Promise((r) => setTimeout(r, 10));

function rig(result: (now: number) => GateQueryResult | Promise<GateQueryResult>, extra: Partial<GateSpec> = {}) {
  let now = T0;
  const events: RolloutEvent[] = [];
  const calls: string[] = [];
  const h = new Harness(makePlan({ gates: [{ ...gate, ...extra }] }), [host('a'), host('b')]);
  const m = new GateMonitor({
    now: () => now,
    log: { info() {}, warn() {} },
    query: async (g, url) => {
      calls.push(url);
      return result(now);
    },
    defaultUrl: 'http://prom:9090',
    dispatch: async (_id, e) => {
      events.push(e);
      h.send(e);
    },
  });
  return { h, m, events, calls, advance: (ms: number) => (now += ms), at: () => now };
}

describe('GateMonitor', () => {
  it('evaluates a waiting wave at once, then every interval through the bake', async () => {
    const r = rig(green);
    r.h.start();
    r.m.check('r1', r.h.state);
    r.m.check('r1', r.h.state); // one evaluation at a time
    await flush();
    expect(r.events).toEqual([{ type: 'gatesPassed', wave: 0 }]);
    expect(r.calls).toEqual(['http://prom:9090']);
    expect(r.h.state.waves[0]!.state).toBe('applying');
    r.m.check('r1', r.h.state); // applying: just evaluated, not due
    await flush();
    expect(r.calls).toHaveLength(1);
    r.advance(4000);
    r.m.check('r1', r.h.state);
    await flush();
    expect(r.calls).toHaveLength(1); // not due yet
    r.advance(1000);
    r.m.check('r1', r.h.state);
    await flush();
    expect(r.calls).toHaveLength(2);
    expect(r.events).toHaveLength(1); // a passing verdict through the bake dispatches nothing
    expect(r.m.latest('r1')).toEqual([expect.objectContaining({ gate: 'g', pass: true })]);
  });

  it('a failing verdict, a query that throws, or no Prometheus URL is gateFailed', async () => {
    const r = rig(() => ({ ok: true, series: [] }));
    r.h.start();
    r.m.check('r1', r.h.state);
    await flush();
    expect(r.events).toEqual([{ type: 'gateFailed', wave: 0, gate: 'g', message: 'gate g failed: no data over the last 10s (query: q)' }]);
    expect(r.h.state.status).toBe('rolled_back'); // nothing was changed yet

    const t = rig(() => Promise.reject(new Error('boom')));
    t.h.start();
    t.m.check('r1', t.h.state);
    await flush();
    expect(t.events[0]).toMatchObject({ type: 'gateFailed', message: expect.stringMatching(/no evidence: Error: boom/) });

    const u = rig(green);
    const m = new GateMonitor({ now: () => T0, log: { info() {}, warn() {} }, query: async () => green(T0), dispatch: async (_id, e) => void u.events.push(e) });
    u.h.start();
    m.check('r1', u.h.state);
    await flush();
    expect(u.events[0]).toMatchObject({ type: 'gateFailed', message: expect.stringMatching(/no Prometheus URL: set "prometheus" in the gate or start the server with --prometheus-url/) });
  });

  it('a paused rollout is not evaluated', async () => {
    const r = rig(green);
    r.h.start();
    r.h.send({ type: 'pause' });
    r.m.check('r1', r.h.state);
    await flush();
    expect(r.calls).toEqual([]);
  });
});

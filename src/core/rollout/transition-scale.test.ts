// The engine must cost in proportion to the hosts an event touches, never the fleet: with 50,000
// targeted hosts, an event about one host yields effects about that host only.
import { describe, expect, it } from 'vitest';
import type { RolloutEffect } from './types.ts';
import { Harness, host, makePlan, wave } from './test-fixtures.ts';

function hostsOf(effects: readonly RolloutEffect[]): Set<string> {
  const out = new Set<string>();
  for (const e of effects) {
    if (e.type === 'step') out.add(e.step.host);
    else if (e.type === 'assign' || (e.type === 'log' && e.host)) out.add(e.host ?? '');
    else out.add(`<${e.type}>`);
  }
  return out;
}

describe('a 50,000-host rollout', () => {
  it('gives effects only for the host an event is about', () => {
    const n = 50_000;
    const fleet = Array.from({ length: n }, (_, i) => host(`h${String(i).padStart(5, '0')}`, { zone: `z${i % 7}` }));
    const plan = makePlan({
      waves: [wave('all', { parallel: { count: 500 } })],
      budget: { failedPerWave: { percent: 1 }, failedTotal: { percent: 1 }, silentAfter: 60_000 },
    });
    const h = new Harness(plan, fleet);
    const started = h.start();
    expect(started.filter((e) => e.type === 'step')).toHaveLength(n);
    expect(started.filter((e) => e.type === 'assign')).toHaveLength(500);

    expect(hostsOf(h.applyOk('h00042', 1, 1_000))).toEqual(new Set(['h00042']));
    expect(h.send({ type: 'heartbeat', host: 'h00043' }, 1_000)).toEqual([]);
    expect(h.tick(1_000)).toEqual([]);
    expect(hostsOf(h.applyOk('h00044', 7))).toEqual(new Set(['h00044'])); // stale attempt: a log line
    // A passed first check frees one slot: that host and the next one in line, nothing else.
    expect(hostsOf(h.checkOk('h00042'))).toEqual(new Set(['h00042', 'h00500']));
  });
});

// A rollout rebuilt from its rows (after a restart) must behave exactly like the one that wrote
// them: same records, and the same effects for every following event.
import { describe, expect, it } from 'vitest';
import type { RolloutEvent } from './types.ts';
import { restoreRolloutState, rolloutRecord, stepRecords, waveRecords } from './transition.ts';
import { Harness, host, makePlan, wave } from './test-fixtures.ts';

const plan = makePlan({
  waves: [
    wave('canary', { size: { count: 1 }, bake: 20_000 }),
    wave('rest', { size: { count: 4 }, parallel: { count: 2 }, bake: 60_000 }),
    wave('zone', { each: 'zone', approve: true, bake: 10_000 }),
  ],
  budget: { failedPerWave: { count: 1 }, failedTotal: { count: 2 }, silentAfter: 30_000 },
});
const hosts = ['a', 'b', 'c', 'd', 'e', 'f', 'g'].map((n, i) => host(n, { zone: i % 2 ? 'x' : 'y' }));

/** Canary (a) baked; rest (b..e) applying with b and c assigned at +20 s. */
function toRest(h: Harness): void {
  h.start();
  h.pass('a');
  h.tick(20_000);
}

const points: Array<{ name: string; setup: (h: Harness) => void }> = [
  {
    name: 'mid-apply',
    setup: (h) => {
      toRest(h);
      h.applyOk('b', 1);
      h.send({ type: 'heartbeat', host: 'c' }, 5_000);
    },
  },
  {
    name: 'mid-apply with a failure within budget',
    setup: (h) => {
      toRest(h);
      h.send({ type: 'applyResult', host: 'b', attempt: 1, ok: false, message: 'x' });
    },
  },
  {
    name: 'mid-bake',
    setup: (h) => {
      toRest(h);
      h.pass('b');
      h.pass('c');
      h.send({ type: 'heartbeat', host: 'b' }, 1_000);
      h.pass('d');
      h.pass('e');
    },
  },
  {
    name: 'paused mid-bake',
    setup: (h) => {
      toRest(h);
      for (const x of ['b', 'c', 'd', 'e']) h.pass(x);
      h.send({ type: 'pause' }, 2_000);
    },
  },
  {
    name: 'awaiting approval',
    setup: (h) => {
      toRest(h);
      for (const x of ['b', 'c', 'd', 'e']) h.pass(x);
      for (let i = 0; i < 3; i++) for (const x of ['b', 'c', 'd', 'e']) h.send({ type: 'heartbeat', host: x }, i === 0 && x === 'b' ? 20_000 : 0);
      h.tick(40_000);
    },
  },
  {
    name: 'mid-rollback',
    setup: (h) => {
      toRest(h);
      h.send({ type: 'applyResult', host: 'b', attempt: 1, ok: false });
      h.send({ type: 'checkResult', host: 'c', attempt: 1, ok: false }, 1_000); // ignored: c still applying
      h.send({ type: 'applyResult', host: 'c', attempt: 1, ok: false }, 1_000);
      h.send({ type: 'rollbackResult', host: 'b', attempt: 2, ok: true }, 1_000);
    },
  },
  {
    name: 'halted',
    setup: (h) => {
      h.state = new Harness(makePlan({ ...plan, onFailure: 'halt' }), hosts).state;
      toRest(h);
      h.send({ type: 'applyResult', host: 'b', attempt: 1, ok: false });
      h.send({ type: 'applyResult', host: 'c', attempt: 1, ok: false });
    },
  },
];

/** Everything that can happen next; events a state refuses must be refused by both. */
const continuation: Array<[number, RolloutEvent]> = [
  // mid-apply: b (quiet since +20 s) is due, c (heard at +25 s) is not: the in-flight order matters.
  [25_000, { type: 'tick' }],
  [1_000, { type: 'heartbeat', host: 'c' }],
  [0, { type: 'applyResult', host: 'c', attempt: 1, ok: true }],
  [0, { type: 'checkResult', host: 'c', attempt: 1, ok: true }],
  [0, { type: 'applyResult', host: 'd', attempt: 1, ok: true }],
  [10_000, { type: 'tick' }],
  [0, { type: 'rollbackResult', host: 'c', attempt: 2, ok: true }],
  [0, { type: 'hostSeen', host: host('late', { zone: 'x' }) }],
  [15_000, { type: 'tick' }],
  [0, { type: 'resume' }],
  [0, { type: 'checkResult', host: 'd', attempt: 1, ok: true }],
  [0, { type: 'approve' }],
  [30_000, { type: 'tick' }],
  [0, { type: 'rollbackResult', host: 'a', attempt: 2, ok: false, message: 'nope' }],
  [60_000, { type: 'tick' }],
  [0, { type: 'approve' }],
  [0, { type: 'rollback' }],
  [40_000, { type: 'tick' }],
  [0, { type: 'rollbackResult', host: 'e', attempt: 2, ok: true }],
];

function outcome(h: Harness, dt: number, event: RolloutEvent): unknown {
  try {
    return h.send(event, dt);
  } catch (err) {
    return { error: String(err) };
  }
}

describe('restoreRolloutState', () => {
  for (const p of points) {
    it(`${p.name}: restored state has the same records and reacts identically`, () => {
      const original = new Harness(plan, hosts);
      p.setup(original);
      const snap = original.snapshot();
      const restored = new Harness(original.state.plan, hosts);
      restored.state = restoreRolloutState(original.state.plan, snap);
      restored.now = original.now;
      restored.hosts = [...original.hosts];

      expect(rolloutRecord(restored.state)).toEqual(rolloutRecord(original.state));
      expect(waveRecords(restored.state)).toEqual(waveRecords(original.state));
      expect(stepRecords(restored.state)).toEqual(stepRecords(original.state));

      let changed = 0;
      for (const [dt, event] of continuation) {
        const want = outcome(original, dt, event);
        const got = outcome(restored, dt, event);
        expect(got, `${event.type} at +${original.now - snap.rollout.createdAt}`).toEqual(want);
        if (Array.isArray(want) && want.length > 0) changed++;
      }
      expect(changed).toBeGreaterThan(2); // the continuation really exercised the state
      expect(stepRecords(restored.state)).toEqual(stepRecords(original.state));
    });
  }

  it('falls back to the inventory for the failedTotal pool when the row predates targetedHosts', () => {
    const pct = makePlan({ budget: { failedPerWave: { percent: 100 }, failedTotal: { percent: 50 }, silentAfter: 30_000 } });
    const h = new Harness(pct, hosts);
    h.start();
    const { targetedHosts: _dropped, ...old } = rolloutRecord(h.state);
    const restored = restoreRolloutState(pct, { ...h.snapshot(), rollout: old });
    expect(restored.failedTotalAllowed).toBe(3); // floor(50% of 7)
  });
});

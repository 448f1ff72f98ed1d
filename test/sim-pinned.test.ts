// Pins the simulator's results (every figure but the event counts) on built-in scenarios, several
// seeds and plan variants, recorded in test/fixtures/sim-pinned.json before the simulator stopped
// simulating every heartbeat. Regenerate only for a deliberate change of the model, and say why.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { simulate } from '../src/sim/simulate.ts';
import { builtin } from './sim-helpers.ts';
import { PINNED_CASES, pinnedView, variantPlan, variantScenario } from './sim-pinned-cases.ts';

const fixture = JSON.parse(readFileSync(new URL('./fixtures/sim-pinned.json', import.meta.url), 'utf8')) as Record<string, unknown>;

describe('simulator results are pinned', () => {
  for (const c of PINNED_CASES) {
    it(`${c.id}: ${c.scenario}${c.plan ? ` with ${c.plan}` : ''}, ${c.hosts} hosts, seed ${c.seed}`, () => {
      const { scenario, plan } = builtin(c.scenario, c.plan);
      const result = simulate(variantScenario(c, scenario), variantPlan(c, plan), { hosts: c.hosts, seed: c.seed });
      expect(pinnedView(result)).toEqual(fixture[c.id]);
      // No pinned scenario has a partial effect: every impaired host has lost its whole capacity.
      for (const run of [result.runs.uncontrolled, result.runs.controlled]) {
        expect(run.peakCapacityLostPct).toBe(run.peakImpairedPct);
        expect(run.timeline.every((p) => p.capacityLostPct === p.impairedPct)).toBe(true);
        expect(run.regions.every((g) => g.peakCapacityLostPct === g.peakImpairedPct && g.timeline.every((p) => p.capacityLostPct === p.impairedPct))).toBe(true);
      }
    });
  }
});

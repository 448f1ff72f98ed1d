// The simulator runs the same engine: a plan's window holds its waves on the virtual clock, across
// the scenario's nights, and the canary starts when the window opens.
import { describe, expect, it } from 'vitest';
import { simulate } from '../src/sim/simulate.ts';
import { parseHours } from '../src/core/plan/window.ts';
import type { Plan } from '../src/core/types.ts';
import { builtin } from './sim-helpers.ts';

describe('simulator and windows', () => {
  it('starts the canary when the window opens, not when the scenario starts', () => {
    const { scenario, plan } = builtin('datadog-2023');
    // The plan starts Tue 2023-03-07 19:30Z (after the Azure mirror has the package; 20:30 in Paris); Paris office hours open Wed 09:00 CET = 08:00Z.
    const window = { days: ['mon', 'tue', 'wed', 'thu'] as const, ...parseHours('09:00-17:00')!, timeZone: 'Europe/Paris', blackout: [] };
    const windowed: Plan = { ...plan, window: { ...window, days: [...window.days] }, waves: plan.waves.map((w) => ({ ...w, window: { ...window, days: [...window.days] } })) };
    const open = simulate(scenario, plan, { hosts: 2000, seed: 1 });
    const held = simulate(scenario, windowed, { hosts: 2000, seed: 1 });
    expect(open.runs.controlled.rollout?.waves[0]?.startedAt).toBe('2023-03-07T19:30:00.000Z'); // the scenario's plan start
    expect(held.runs.controlled.rollout?.waves[0]?.startedAt).toBe('2023-03-08T08:00:00.000Z');
  });
});

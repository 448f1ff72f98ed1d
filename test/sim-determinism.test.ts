// Same seed => byte-identical --json; another seed => another run.
import { describe, expect, it } from 'vitest';
import { simulate } from '../src/sim/simulate.ts';
import { builtin } from './sim-helpers.ts';

describe('simulator determinism', () => {
  const { scenario, plan } = builtin('datadog-2023');
  const run = (seed: number) => JSON.stringify(simulate(scenario, plan, { hosts: 3000, seed }));

  it('gives byte-identical JSON for the same seed', () => {
    expect(run(42)).toBe(run(42));
  });

  it('gives a different run for a different seed', () => {
    expect(run(42)).not.toBe(run(43));
  });
});

// Scenario variants used by the benchmark and the tests: the same incident with the change fixed,
// so a plan goes through every wave (the expensive case for the controlled run).
import type { Scenario } from './scenario.ts';

/** The same change reaching the same hosts, but breaking none of them (no host matches breaks.match). */
export function withHarmlessChange(s: Scenario): Scenario {
  return { ...s, change: { ...s.change, breaks: { ...s.change.breaks, match: { 'sim-no-such-label': 'x' } } } };
}

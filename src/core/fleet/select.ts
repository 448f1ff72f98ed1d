// Host selection by labels: the one definition of "a host matches a selector", shared by plan
// targeting, wave `match`, the simulator and the dashboard.
import type { Labels, Selector } from '../types.ts';

/**
 * A label's value, or undefined when the host does not have it. Own properties only: a label
 * called `constructor` or `toString` must not find Object.prototype's members.
 */
export function labelValue(labels: Labels, key: string): string | undefined {
  return Object.hasOwn(labels, key) ? labels[key] : undefined;
}

/** Every key of the selector must match; a list means "any of these values". Empty matches all. */
export function matchesSelector(labels: Labels, selector: Selector): boolean {
  for (const key of Object.keys(selector)) {
    const want = selector[key];
    const have = labelValue(labels, key);
    if (have === undefined || want === undefined) return false;
    if (typeof want === 'string' ? have !== want : !want.includes(have)) return false;
  }
  return true;
}

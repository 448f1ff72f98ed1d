// What labels a host enrolled with a scoped enrollment token may claim: every key the token
// constrains must be present with one of the allowed values. Keys the token does not mention are
// free. Checked at enrollment and on every heartbeat that changes labels, against the constraints
// copied onto the host row at enrollment (revoking the token later does not widen them).
import type { Labels } from '../core/types.ts';
import type { LabelConstraints } from '../store/store.ts';

/** null when the labels satisfy the constraints, else why not (for the 403). */
export function labelClaimProblem(labels: Labels, constraints: LabelConstraints | undefined): string | null {
  if (!constraints) return null;
  for (const key of Object.keys(constraints)) {
    const allowed = constraints[key] ?? [];
    const value = Object.hasOwn(labels, key) ? labels[key] : undefined;
    if (value === undefined) return `label ${key} is required by the enrollment token (one of: ${allowed.join(', ')})`;
    if (!allowed.includes(value)) return `label ${key}=${value} is not allowed by the enrollment token (allowed: ${allowed.join(', ')})`;
  }
  return null;
}

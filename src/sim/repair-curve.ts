// When operators repair an impaired host: uniformly over `recovery.repair.over`, or along its
// curve (a published recovery timeline: most hosts back fast, then a long tail).
import type { RepairSpec } from './scenario.ts';

/**
 * How long after repairs start (or after the host's impairment, if later) the host is repaired,
 * for `u` uniform in [0, 1); null when `u` is past the curve's last share: not repaired in the run.
 */
export function repairOffset(repair: RepairSpec, u: number): number | null {
  if (repair.curve === null) return u * repair.over;
  let fromBy = repair.after;
  let fromShare = 0;
  for (const p of repair.curve) {
    if (u < p.share) return fromBy - repair.after + ((u - fromShare) / (p.share - fromShare)) * (p.by - fromBy);
    fromBy = p.by;
    fromShare = p.share;
  }
  return null;
}

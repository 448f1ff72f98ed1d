// Eligibility before assignment: a targeted host takes part in its wave only if it is online (heard
// from within silentAfter) and its agent allows everything the plan needs to run. Pure.
import { incapableReason } from '../allow-kinds.ts';
import { formatDuration } from '../plan/duration.ts';
import type { HostInfo, Instant, Plan } from '../types.ts';

/** Why `host` cannot take part in `plan` at `now`, or undefined when it can. */
export function ineligibleReason(plan: Plan, host: HostInfo, now: Instant): string | undefined {
  if (host.lastSeen !== undefined && now - host.lastSeen >= plan.budget.silentAfter) {
    return `offline: not heard from for ${formatDuration(now - host.lastSeen)}`;
  }
  return incapableReason(plan, host.allow);
}

export interface IneligibleHost {
  readonly name: string;
  readonly reason: string;
}

/** The ineligible hosts among `hosts` (already targeted), by name. */
export function ineligibleHosts(plan: Plan, hosts: readonly HostInfo[], now: Instant): IneligibleHost[] {
  const out: IneligibleHost[] = [];
  for (const h of hosts) {
    const reason = ineligibleReason(plan, h, now);
    if (reason !== undefined) out.push({ name: h.name, reason });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

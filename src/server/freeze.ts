// The fleet-wide freeze, as every part of the server asks about it: the rollout driver (no wave
// starts), rollout starts (refused unless the plan is an emergency change), and the remediation
// guard (`activeFreeze(store, now)`). The freeze lives in the store (migration 0011), so every
// replica sees the same one.
import type { Instant } from '../core/types.ts';
import type { Store } from '../store/store.ts';

export interface ActiveFreeze {
  readonly reason: string;
  /** Who started it (token name). */
  readonly by: string;
  /** When it ends by itself; null: until `sluice freeze end`. */
  readonly until: Instant | null;
}

/** The freeze in force at `now`, or null (none, ended, or past its `until`). */
export async function activeFreeze(store: Pick<Store, 'activeFreeze'>, now: Instant): Promise<ActiveFreeze | null> {
  const row = await store.activeFreeze(now);
  return row === null ? null : { reason: row.reason, by: row.by, until: row.until };
}

/** `2026-12-24T00:00Z`: minutes precision when the seconds are zero. */
export function formatUntil(until: Instant | null): string {
  if (until === null) return 'until `sluice freeze end`';
  return `until ${new Date(until).toISOString().replace(/:00\.000Z$/, 'Z').replace(/\.000Z$/, 'Z')}`;
}

/** The 409 message of a start refused by a freeze. */
export function frozenStartMessage(f: ActiveFreeze): string {
  return `cannot start: the fleet is frozen (${f.reason}) by ${f.by} ${formatUntil(f.until)}; only a plan marked \`emergency: { reason: "..." }\` may start during a freeze (\`sluice freeze status\`)`;
}

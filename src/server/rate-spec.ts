// The shape of a rate limit and its text form for `sluice server --limit-failed-auth` /
// `--limit-enroll` (no server code here: the CLI parses flags without loading the server).
import { ValidationError } from '../core/errors.ts';
import { parseDuration } from '../core/plan/duration.ts';

export interface BucketSpec {
  /** Tokens added per second. */
  readonly perSecond: number;
  /** Most tokens held (what can be spent at once). */
  readonly burst: number;
}

/**
 * `N/DURATION[,burst=B]` (e.g. `20/1m`, `10/1s,burst=50`): N per DURATION, at most B at once
 * (default N). `off`: null, no limit.
 */
export function parseRateSpec(text: string, what: string): BucketSpec | null {
  const t = text.trim();
  if (t === 'off') return null;
  const m = /^(\d+(?:\.\d+)?)\/([^,\s]+)(?:,burst=(\d+))?$/.exec(t);
  const count = m ? Number(m[1]) : NaN;
  const ms = m ? parseDuration(/^\d/.test(m[2]!) ? m[2]! : `1${m[2]}`) : null;
  const burst = m?.[3] !== undefined ? Number(m[3]) : Math.max(1, Math.ceil(count));
  if (!m || !(count > 0) || ms === null || ms <= 0 || !(burst >= 1)) {
    throw new ValidationError(`${what} must be N/DURATION[,burst=B] (e.g. 20/1m or 10/1s,burst=50) or off, got "${text}"`);
  }
  return { perSecond: (count * 1000) / ms, burst };
}

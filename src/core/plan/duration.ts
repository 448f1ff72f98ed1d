// Durations as people write them in plan files ("500ms", "30s", "1h30m") and back again.
import type { Millis } from '../types.ts';

const UNITS = [
  ['w', 604_800_000],
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1_000],
  ['ms', 1],
] as const;

const PART = /(\d+)(ms|s|m|h|d|w)/y;

/**
 * "500ms", "30s", "10m", "2h", "1d", "1w", or combinations largest unit first ("1h30m", "1w3d").
 * A bare "0" means zero. Anything else (no unit, spaces, repeated or out-of-order units,
 * fractions) is null, so a typo never silently becomes a different duration.
 */
export function parseDuration(text: string): Millis | null {
  if (text === '0') return 0;
  if (text.length === 0 || text.length > 64) return null;
  let total = 0;
  let lastRank = -1;
  PART.lastIndex = 0;
  while (PART.lastIndex < text.length) {
    const match = PART.exec(text);
    if (match === null) return null;
    const [, digits, unit] = match;
    const rank = UNITS.findIndex(([name]) => name === unit);
    if (rank <= lastRank) return null;
    lastRank = rank;
    const factor = UNITS[rank]![1];
    total += Number(digits) * factor;
  }
  return Number.isSafeInteger(total) ? total : null;
}

/** The shortest form parseDuration reads back to the same value: 5_400_000 -> "1h30m", 0 -> "0s". */
export function formatDuration(ms: Millis): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (ms < 0) return `-${formatDuration(-ms)}`;
  let rest = Math.round(ms);
  if (rest === 0) return '0s';
  let text = '';
  for (const [name, factor] of UNITS) {
    const amount = Math.floor(rest / factor);
    if (amount > 0) {
      text += `${amount}${name}`;
      rest -= amount * factor;
    }
  }
  return text;
}

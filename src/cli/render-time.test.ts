import { describe, expect, it } from 'vitest';
import { formatAgo, formatClock, formatDuration, toIso } from './render-time.ts';

describe('formatAgo', () => {
  const now = 1_700_000_000_000;
  it.each([
    [now, '0s ago'],
    [now - 3_400, '3s ago'],
    [now - 59_999, '59s ago'],
    [now - 60_000, '1m ago'],
    [now - 3_599_000, '59m ago'],
    [now - 2 * 3_600_000 - 5, '2h ago'],
    [now - 3 * 86_400_000, '3d ago'],
    [now + 5_000, '0s ago'], // a server clock slightly ahead never shows a negative age
    [null, 'never'],
  ])('%s -> %s', (at, expected) => {
    expect(formatAgo(at, now)).toBe(expected);
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0s'],
    [-5_000, '0s'],
    [45_000, '45s'],
    [90_000, '1m 30s'],
    [30 * 60_000, '30m'],
    [65 * 60_000, '1h 5m'],
    [2 * 3_600_000, '2h'],
    [86_400_000 + 3 * 3_600_000, '1d 3h'],
    [2 * 86_400_000, '2d'],
  ])('%s ms -> %s', (ms, expected) => {
    expect(formatDuration(ms)).toBe(expected);
  });
});

describe('formatClock and toIso', () => {
  it('formats a time of day in the given zone', () => {
    expect(formatClock(Date.UTC(2025, 5, 10, 7, 4, 9), 'UTC')).toBe('07:04:09');
    expect(formatClock(Date.UTC(2025, 5, 10, 23, 0, 0), 'UTC')).toBe('23:00:00');
  });
  it('gives ISO-8601 strings and keeps null', () => {
    expect(toIso(Date.UTC(2025, 5, 10, 7, 4, 9))).toBe('2025-06-10T07:04:09.000Z');
    expect(toIso(null)).toBeNull();
  });
});

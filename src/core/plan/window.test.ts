// Windows over an injected clock: plain weeks, both DST changes in Europe/Paris and
// America/New_York, a window spanning midnight, and blackouts (single dates and ranges).
import { describe, expect, it } from 'vitest';
import { instantOf, isOpen, nextOpening, parseHours, windowWait, type DayName, type TimeWindow } from './window.ts';

const at = (iso: string) => Date.parse(iso);
const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());

function win(days: DayName[], hours: string, timeZone: string, blackout: [string, string][] = []): TimeWindow {
  const h = parseHours(hours)!;
  return { days, ...h, timeZone, blackout: blackout.map(([from, to]) => ({ from, to })) };
}

const office = win(['mon', 'tue', 'wed', 'thu'], '09:00-17:00', 'Europe/Paris');
const nightly = win(['mon', 'tue', 'wed', 'thu', 'fri'], '22:00-04:00', 'America/New_York');

describe('isOpen', () => {
  it.each([
    // 2026-12-01 is a Tuesday; Paris is UTC+1 in winter.
    ['Tue 08:59 Paris', office, '2026-12-01T07:59:00Z', false],
    ['Tue 09:00 Paris', office, '2026-12-01T08:00:00Z', true],
    ['Tue 16:59 Paris', office, '2026-12-01T15:59:00Z', true],
    ['Tue 17:00 Paris: end is exclusive', office, '2026-12-01T16:00:00Z', false],
    ['Fri 10:00 Paris: not a window day', office, '2026-12-04T09:00:00Z', false],
    // Summer: UTC+2.
    ['Wed 09:30 Paris in July', office, '2026-07-01T07:30:00Z', true],
    ['Wed 08:30 Paris in July (07:30 would be 09:30 in winter)', office, '2026-07-01T06:30:00Z', false],
    // Spanning midnight, New York (UTC-5 in winter).
    ['Mon 21:59 NY', nightly, '2026-12-01T02:59:00Z', false],
    ['Mon 22:00 NY', nightly, '2026-12-01T03:00:00Z', true], ['Sun 22:00 NY', nightly, '2026-11-30T03:00:00Z', false],
    ['Tue 03:59 NY: spill-over from Monday', nightly, '2026-12-01T08:59:00Z', true],
    ['Tue 04:00 NY', nightly, '2026-12-01T09:00:00Z', false],
    ['Sat 02:00 NY: spill-over from Friday', nightly, '2026-12-05T07:00:00Z', true],
    ['Sun 02:00 NY: Saturday is not a window day', nightly, '2026-12-06T07:00:00Z', false],
    ['Mon 02:00 NY: Sunday is not a window day', nightly, '2026-11-30T07:00:00Z', false],
  ] as const)('%s', (_what, w, when, open) => {
    expect(isOpen(w, at(when))).toBe(open);
  });
});

describe('nextOpening', () => {
  it.each([
    ['open now: now', office, '2026-12-01T10:00:00Z', '2026-12-01T10:00:00.000Z'],
    ['Thu evening Paris -> Mon 09:00', office, '2026-12-03T18:00:00Z', '2026-12-07T08:00:00.000Z'],
    ['Tue 07:00 Paris -> same day 09:00', office, '2026-12-01T06:00:00Z', '2026-12-01T08:00:00.000Z'],
    // Paris springs forward on Sunday 2026-03-29 (02:00 -> 03:00): Friday evening -> Monday 09:00 CEST = 07:00Z.
    ['Paris across spring-forward', office, '2026-03-27T17:00:00Z', '2026-03-30T07:00:00.000Z'],
    // Paris falls back on Sunday 2026-10-25 (03:00 -> 02:00): Monday 09:00 CET = 08:00Z.
    ['Paris across fall-back', office, '2026-10-23T17:00:00Z', '2026-10-26T08:00:00.000Z'],
    // New York springs forward on Sunday 2026-03-08, falls back on Sunday 2026-11-01.
    ['NY across spring-forward: Fri 05:00 -> Fri 22:00 EST', nightly, '2026-03-06T10:00:00Z', '2026-03-07T03:00:00.000Z'],
    ['NY Sat -> Mon 22:00 EDT (UTC-4)', nightly, '2026-03-07T15:00:00Z', '2026-03-10T02:00:00.000Z'],
    ['NY Sat -> Mon 22:00 EST (UTC-5) after fall-back', nightly, '2026-10-31T15:00:00Z', '2026-11-03T03:00:00.000Z'],
  ] as const)('%s', (_what, w, when, expected) => {
    expect(iso(nextOpening(w, at(when)))).toBe(expected);
  });

  it('a window inside the hour clocks skip opens when the gap ends (Paris, 02:30 on 2026-03-29)', () => {
    const w = win(['sun'], '02:30-05:00', 'Europe/Paris');
    // 03:00 CEST = 01:00Z, the first instant of the day at or after 02:30 wall time.
    expect(iso(nextOpening(w, at('2026-03-28T12:00:00Z')))).toBe('2026-03-29T01:00:00.000Z');
    expect(isOpen(w, at('2026-03-29T01:00:00Z'))).toBe(true);
  });

  it('the repeated hour when clocks go back: the first 02:30 (New York, 2026-11-01)', () => {
    expect(iso(instantOf(2026, 11, 1, 90, 'America/New_York'))).toBe('2026-11-01T05:30:00.000Z'); // 01:30 EDT
    const w = win(['sun'], '01:30-03:00', 'America/New_York');
    expect(iso(nextOpening(w, at('2026-10-31T12:00:00Z')))).toBe('2026-11-01T05:30:00.000Z');
    // Open through both 01:xx hours and until 03:00 EST.
    expect(isOpen(w, at('2026-11-01T06:30:00Z'))).toBe(true);
    expect(isOpen(w, at('2026-11-01T08:00:00Z'))).toBe(false);
  });

  it('a window spanning midnight across the Paris fall-back night', () => {
    const w = win(['sat'], '22:00-04:00', 'Europe/Paris');
    expect(iso(nextOpening(w, at('2026-10-24T12:00:00Z')))).toBe('2026-10-24T20:00:00.000Z'); // 22:00 CEST
    // Sunday 03:30 CET (after the repeated hour) = 02:30Z: still open; 04:00 CET = 03:00Z closed.
    expect(isOpen(w, at('2026-10-25T02:30:00Z'))).toBe(true);
    expect(isOpen(w, at('2026-10-25T03:00:00Z'))).toBe(false);
  });
});

describe('blackouts', () => {
  const w = win(['mon', 'tue', 'wed', 'thu'], '09:00-17:00', 'Europe/Paris', [
    ['2026-12-01', '2026-12-01'],
    ['2026-12-21', '2027-01-03'],
  ]);

  it('a blacked-out date is closed all day', () => {
    expect(isOpen(w, at('2026-12-01T10:00:00Z'))).toBe(false);
    expect(isOpen(w, at('2026-12-02T10:00:00Z'))).toBe(true);
  });

  it('the next opening skips blacked-out days and ranges', () => {
    expect(iso(nextOpening(w, at('2026-11-30T17:00:00Z')))).toBe('2026-12-02T08:00:00.000Z');
    expect(iso(nextOpening(w, at('2026-12-17T17:00:00Z')))).toBe('2027-01-04T08:00:00.000Z');
  });

  it('the spill-over of a window spanning midnight into a blacked-out date is closed; one out of it opens at midnight', () => {
    const n = win(['mon', 'tue'], '22:00-04:00', 'UTC', [['2026-12-01', '2026-12-01']]);
    expect(isOpen(n, at('2026-12-01T01:00:00Z'))).toBe(false); // Mon night into blacked-out Tue
    expect(isOpen(n, at('2026-12-01T22:00:00Z'))).toBe(false); // Tue 22:00 is blacked out too
    expect(iso(nextOpening(n, at('2026-12-01T23:00:00Z')))).toBe('2026-12-02T00:00:00.000Z'); // Wed 00:00 spill-over
  });

  it('a window that never opens: null, and the wait says why', () => {
    const never = win(['mon'], '09:00-17:00', 'UTC', [['2026-01-01', '2099-12-31']]);
    expect(nextOpening(never, at('2026-12-01T00:00:00Z'))).toBeNull();
    expect(windowWait(never, at('2026-12-01T00:00:00Z'))?.reason).toMatch(/does not open/);
  });
});

describe('windowWait', () => {
  it('says when the window opens, in its zone', () => {
    // Thu 2026-12-03 18:00 Paris
    expect(windowWait(office, at('2026-12-03T17:00:00Z'))).toEqual({ reason: 'waiting for window: opens Mon 09:00 Europe/Paris', opensAt: at('2026-12-07T08:00:00Z') });
    expect(windowWait(office, at('2026-12-01T10:00:00Z'))).toBeNull();
    expect(windowWait(undefined, 0)).toBeNull();
  });

  it('names the date when the opening is a week or more away', () => {
    const w = win(['tue'], '09:00-17:00', 'Europe/Paris', [['2026-12-08', '2026-12-08']]);
    expect(windowWait(w, at('2026-12-01T17:00:00Z'))?.reason).toBe('waiting for window: opens Tue 2026-12-15 09:00 Europe/Paris');
  });
});

describe('parseHours', () => {
  it.each([
    ['09:00-17:00', { start: 540, end: 1020 }],
    ['22:00-04:00', { start: 1320, end: 240 }],
    ['00:00-24:00', { start: 0, end: 1440 }],
    ['9:00-17:00', null],
    ['09:00-09:00', null],
    ['24:00-01:00', null],
    ['09:00-24:30', null],
  ] as const)('%s', (text, expected) => {
    expect(parseHours(text)).toEqual(expected);
  });
});

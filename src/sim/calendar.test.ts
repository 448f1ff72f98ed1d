import { describe, expect, it } from 'vitest';
import { nextOccurrence, parseCalendar, previousOccurrence } from './calendar.ts';

const t = (iso: string) => Date.parse(iso);

describe('parseCalendar', () => {
  it.each([
    ['*-*-* 6:00', ['06:00:00']],
    ['*-*-* 6,18:00', ['06:00:00', '18:00:00']],
    ['18,6:30:15', ['06:30:15', '18:30:15']],
    ['daily', ['00:00:00']],
  ])('%s', (text, times) => {
    const spec = parseCalendar(text)!;
    expect(spec.offsets.map((o) => new Date(o).toISOString().slice(11, 19))).toEqual(times);
  });

  it('hourly fires every hour', () => expect(parseCalendar('hourly')!.offsets).toHaveLength(24));

  it.each(['Mon *-*-* 6:00', '*-*-* 24:00', '*-*-* 6:60', '6', ''])('rejects %j', (text) => expect(parseCalendar(text)).toBeNull());
});

describe('occurrences (UTC)', () => {
  const spec = parseCalendar('*-*-* 6,18:00')!;
  it('next is strictly after unless inclusive', () => {
    expect(nextOccurrence(spec, t('2023-03-07T18:00:00Z'))).toBe(t('2023-03-08T06:00:00Z'));
    expect(nextOccurrence(spec, t('2023-03-07T18:00:00Z'), true)).toBe(t('2023-03-07T18:00:00Z'));
    expect(nextOccurrence(spec, t('2023-03-07T23:59:00Z'))).toBe(t('2023-03-08T06:00:00Z'));
  });
  it('previous is at or before', () => {
    expect(previousOccurrence(spec, t('2023-03-07T17:59:59Z'))).toBe(t('2023-03-07T06:00:00Z'));
    expect(previousOccurrence(spec, t('2023-03-07T05:00:00Z'))).toBe(t('2023-03-06T18:00:00Z'));
  });
});

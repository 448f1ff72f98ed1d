// `window`, `blackout` and `emergency` in plan files: what they parse to, and the messages for mistakes.
import { describe, expect, it } from 'vitest';
import { checkPlan } from './parse-plan.ts';

const base = (extra: string, waves = '  - { name: a, size: 1 }\n  - { name: b }') =>
  `name: w\nchange: { command: { apply: [true], rollback: [true] } }\n${extra}\nwaves:\n${waves}\n`;

describe('plan windows', () => {
  it('a plan window applies to every wave, a wave window replaces it, blackouts add up', () => {
    const { plan, problems } = checkPlan(
      base(
        'window: { days: [mon, tue, wed, thu], hours: "09:00-17:00", timeZone: Europe/Paris }\nblackout: [2026-12-24, 2026-12-31/2027-01-02]\nemergency: { reason: "CVE hotfix" }',
        '  - { name: a, size: 1 }\n  - { name: b, window: { hours: "22:00-04:00", timeZone: America/New_York }, blackout: [{ from: 2027-01-05, to: 2027-01-06 }] }',
      ),
      'p.yaml',
    );
    expect(problems).toEqual([]);
    expect(plan?.emergency).toEqual({ reason: 'CVE hotfix' });
    expect(plan?.window).toEqual({
      days: ['mon', 'tue', 'wed', 'thu'],
      start: 540,
      end: 1020,
      timeZone: 'Europe/Paris',
      blackout: [
        { from: '2026-12-24', to: '2026-12-24' },
        { from: '2026-12-31', to: '2027-01-02' },
      ],
    });
    expect(plan?.waves[0]?.window).toEqual(plan?.window);
    expect(plan?.waves[1]?.window).toEqual({
      days: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'],
      start: 1320,
      end: 240,
      timeZone: 'America/New_York',
      blackout: [
        { from: '2026-12-24', to: '2026-12-24' },
        { from: '2026-12-31', to: '2027-01-02' },
        { from: '2027-01-05', to: '2027-01-06' },
      ],
    });
  });

  it('blackouts without a window are UTC dates; no window at all: waves have none', () => {
    expect(checkPlan(base('blackout: [2026-12-25]'), 'p.yaml').plan?.waves[1]?.window?.timeZone).toBe('UTC');
    expect(checkPlan(base(''), 'p.yaml').plan?.waves[0]?.window).toBeUndefined();
  });

  it.each([
    ['window: { days: [mon], hours: "09:00-17:00" }', 'needs "timeZone"'],
    ['window: { timeZone: Mars/Olympus }', 'unknown time zone "Mars/Olympus"'],
    ['window: { days: [mon, funday], timeZone: UTC }', '"funday" is not a day'],
    ['window: { days: [mon, mon], timeZone: UTC }', 'lists mon twice'],
    ['window: { hours: "9-17", timeZone: UTC }', 'must be "HH:MM-HH:MM"'],
    ['window: { hours: "09:00-09:00", timeZone: UTC }', 'must be "HH:MM-HH:MM"'],
    ['window: { timeZone: UTC, weeks: 2 }', 'unknown key "weeks"'],
    ['blackout: [2026-02-30]', 'is not a date'],
    ['blackout: [2026-12-31/2026-12-01]', 'ends before it starts'],
    ['blackout: 2026-12-24', 'must be a list of dates'],
    ['emergency: {}', '"emergency" needs "reason"'],
    ['emergency: { reason: "x" }', 'must say why'],
  ])('%s: %s', (extra, message) => {
    const { plan, problems } = checkPlan(base(extra), 'p.yaml');
    expect(plan).toBeNull();
    expect(problems.map((p) => p.message).join('\n')).toContain(message);
  });
});

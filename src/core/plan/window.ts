// Change windows and blackouts: when a wave may start and hosts may be assigned. Pure: the caller
// gives the instant; time-zone conversion goes through Intl.DateTimeFormat (the IANA database that
// ships with Node), so DST changes follow the zone's rules with no dependency.
//
// A window opens on each of its `days` at `start` (minutes after local midnight) and closes at
// `end`; `end <= start` spans midnight (22:00-04:00 opens Monday 22:00 and closes Tuesday 04:00:
// the day is the day it opens). A blackout date (a local date in the window's zone) is closed all
// day, also for the part of a window that spilled over from the day before.
import type { Instant } from '../types.ts';

export const DAY_NAMES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type DayName = (typeof DAY_NAMES)[number];

/** An inclusive range of local dates, `YYYY-MM-DD` (from === to: one day). */
export interface DateRange {
  readonly from: string;
  readonly to: string;
}

export interface TimeWindow {
  /** Days the window opens on; all seven when the plan says none. */
  readonly days: readonly DayName[];
  /** Minutes after local midnight, 0..1439. */
  readonly start: number;
  /** Minutes after local midnight, 1..1440; at most `start`: the window ends the next day. */
  readonly end: number;
  /** IANA time zone, e.g. Europe/Paris. */
  readonly timeZone: string;
  readonly blackout: readonly DateRange[];
}

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
/** How far nextOpening looks ahead (blackouts can be long; beyond this the window never opens). */
const HORIZON_DAYS = 800;

interface LocalTime {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly weekday: number; // 0 = Sunday
  readonly minutes: number;
  /** `YYYY-MM-DD` */
  readonly date: string;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** Whether Node knows this IANA time zone. */
export function isTimeZone(timeZone: string): boolean {
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/** Wall-clock time in `timeZone` at instant `t`. */
export function localTime(t: Instant, timeZone: string): LocalTime {
  const parts: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(new Date(t))) if (p.type !== 'literal') parts[p.type] = Number(p.value);
  const year = parts['year']!;
  const month = parts['month']!;
  const day = parts['day']!;
  const weekday = new Date(Date.UTC(year, month - 1, day)).getUTCDay();
  return { year, month, day, weekday, minutes: parts['hour']! * 60 + parts['minute']!, date: `${pad(year, 4)}-${pad(month)}-${pad(day)}` };
}

/** Offset of `timeZone` from UTC at instant `t`, in ms (Paris in winter: +3600000). */
function offsetAt(t: Instant, timeZone: string): number {
  const l = localTime(t, timeZone);
  const seconds = Math.floor(t / 1000) * 1000;
  const sec = new Date(seconds).getUTCSeconds();
  return Date.UTC(l.year, l.month - 1, l.day, Math.floor(l.minutes / 60), l.minutes % 60, sec) - seconds;
}

/**
 * The instant a local wall-clock time happens in `timeZone`. Ambiguous (the hour repeated when
 * clocks go back): the first one. Nonexistent (skipped when clocks go forward): the moment the
 * gap ends, i.e. the first instant at or after that wall-clock time.
 */
export function instantOf(year: number, month: number, day: number, minutes: number, timeZone: string): Instant {
  const wall = Date.UTC(year, month - 1, day, 0, minutes);
  const before = offsetAt(wall - DAY, timeZone);
  const after = offsetAt(wall + DAY, timeZone);
  const candidates = [wall - before, wall - after].filter((t) => offsetAt(t, timeZone) === wall - t).sort((a, b) => a - b);
  if (candidates.length > 0) return candidates[0]!;
  // In a gap: find the transition between the two readings, to the minute.
  let lo = Math.min(wall - before, wall - after);
  let hi = Math.max(wall - before, wall - after);
  while (hi - lo > MINUTE) {
    const mid = lo + Math.floor((hi - lo) / 2 / MINUTE) * MINUTE;
    if (offsetAt(mid, timeZone) === offsetAt(lo, timeZone)) lo = mid;
    else hi = mid;
  }
  return hi;
}

function inBlackout(date: string, blackout: readonly DateRange[]): boolean {
  return blackout.some((r) => r.from <= date && date <= r.to);
}

/** The local date one day before `l` (calendar arithmetic, no zone involved). */
function previousDate(l: LocalTime): { date: string; weekday: number } {
  const d = new Date(Date.UTC(l.year, l.month - 1, l.day) - DAY);
  return { date: `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`, weekday: d.getUTCDay() };
}

function opensOn(window: TimeWindow, weekday: number): boolean {
  return window.days.includes(DAY_NAMES[weekday]!);
}

/** Whether the window is open at `now`. */
export function isOpen(window: TimeWindow, now: Instant): boolean {
  const l = localTime(now, window.timeZone);
  if (inBlackout(l.date, window.blackout)) return false;
  if (window.start < window.end) return opensOn(window, l.weekday) && l.minutes >= window.start && l.minutes < window.end;
  // Spans midnight: open from `start` on an opening day, and until `end` on the day after one.
  if (opensOn(window, l.weekday) && l.minutes >= window.start) return true;
  return l.minutes < window.end && opensOn(window, previousDate(l).weekday);
}

/**
 * The first instant at or after `now` at which the window is open (`now` itself when open), or
 * null when it never opens within the horizon (every opening day blacked out).
 */
export function nextOpening(window: TimeWindow, now: Instant): Instant | null {
  if (isOpen(window, now)) return now;
  const today = localTime(now, window.timeZone);
  const base = Date.UTC(today.year, today.month - 1, today.day);
  for (let i = 0; i <= HORIZON_DAYS; i++) {
    const d = new Date(base + i * DAY);
    const [y, m, day] = [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate()];
    // A window opens at `start`, or at local midnight (a spill-over after a blacked-out day ends).
    for (const minutes of [0, window.start]) {
      const t = instantOf(y, m, day, minutes, window.timeZone);
      if (t > now && isOpen(window, t)) return t;
    }
  }
  return null;
}

/** The instant the window closes after `now` (it must be open at `now`), or null if it never does within the horizon. */
export function nextClosing(window: TimeWindow, now: Instant): Instant | null {
  if (!isOpen(window, now)) return now;
  const today = localTime(now, window.timeZone);
  const base = Date.UTC(today.year, today.month - 1, today.day);
  for (let i = 0; i <= HORIZON_DAYS; i++) {
    const d = new Date(base + i * DAY);
    const [y, m, day] = [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate()];
    for (const minutes of [0, window.end % 1440]) {
      const t = instantOf(y, m, day, minutes, window.timeZone);
      if (t > now && !isOpen(window, t)) return t;
    }
  }
  return null;
}

const WEEKDAY_TITLE = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

/** `Tue 09:00 Europe/Paris` (within a week of `now`), else `Tue 2026-12-29 09:00 Europe/Paris`. */
export function formatOpening(at: Instant, timeZone: string, now: Instant): string {
  const l = localTime(at, timeZone);
  const hm = `${pad(Math.floor(l.minutes / 60))}:${pad(l.minutes % 60)}`;
  const date = at - now < 6 * DAY ? '' : ` ${l.date}`;
  return `${WEEKDAY_TITLE[l.weekday]}${date} ${hm} ${timeZone}`;
}

/** Why a wave may not start or assign now: `waiting for window: opens Tue 09:00 Europe/Paris`; null when open. */
export function windowWait(window: TimeWindow | undefined, now: Instant): { reason: string; opensAt: Instant | null } | null {
  if (window === undefined || isOpen(window, now)) return null;
  const at = nextOpening(window, now);
  if (at === null) return { reason: `waiting for window: it does not open in the next ${HORIZON_DAYS} days (blackouts)`, opensAt: null };
  return { reason: `waiting for window: opens ${formatOpening(at, window.timeZone, now)}`, opensAt: at };
}

/** `09:00-17:00` -> {start: 540, end: 1020}; `22:00-04:00` spans midnight; `00:00-24:00` all day. Null when malformed. */
export function parseHours(text: string): { start: number; end: number } | null {
  const m = /^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$/.exec(text.trim());
  if (!m) return null;
  const start = Number(m[1]) * 60 + Number(m[2]);
  const end = Number(m[3]) * 60 + Number(m[4]);
  if (end > 1440 || start === end) return null;
  return { start, end };
}

export function formatHours(w: Pick<TimeWindow, 'start' | 'end'>): string {
  const f = (m: number) => `${pad(Math.floor(m / 60))}:${pad(m % 60)}`;
  return `${f(w.start)}-${f(w.end)}`;
}

/** A valid calendar date `YYYY-MM-DD`. */
export function isIsoDate(text: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!m) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.getUTCFullYear() === Number(m[1]) && d.getUTCMonth() + 1 === Number(m[2]) && d.getUTCDate() === Number(m[3]);
}

/** The window a wave runs under: every day, all day, in UTC, when a plan has blackouts only. */
export const ALWAYS: Omit<TimeWindow, 'blackout'> = { days: [...DAY_NAMES], start: 0, end: 1440, timeZone: 'UTC' };

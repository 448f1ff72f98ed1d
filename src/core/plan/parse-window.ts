// `window`, `blackout` and `emergency` in a plan (top level; `window` and `blackout` also per wave).
// A wave runs under its own window or else the plan's, with the plan's blackouts and its own.
import { isMap, isScalar, isSeq } from 'yaml';
import type { Node } from 'yaml';
import type { Entry, PlanReader } from './plan-reader.ts';
import { describeNode } from './plan-reader.ts';
import { ALWAYS, DAY_NAMES, isIsoDate, isTimeZone, parseHours, type DateRange, type DayName, type TimeWindow } from './window.ts';

export const WINDOW_KEYS = ['days', 'hours', 'timeZone'] as const;
export const EMERGENCY_KEYS = ['reason'] as const;
export const BLACKOUT_RANGE_KEYS = ['from', 'to'] as const;

/** A window as written: days, hours and zone; blackouts are merged in by resolveWindow. */
export type WindowSpec = Omit<TimeWindow, 'blackout'>;

export function readWindow(reader: PlanReader, entry: Entry): WindowSpec | undefined {
  const fields = reader.fields(entry, entry.label, `in ${entry.label}`, WINDOW_KEYS);
  if (fields === null) return undefined;
  let ok = true;
  let days: DayName[] = [...DAY_NAMES];
  const daysEntry = fields.get('days');
  if (daysEntry !== undefined) {
    const node = daysEntry.value;
    if (!isSeq(node) || node.items.length === 0) {
      reader.reportEntry(daysEntry, `${daysEntry.label} must be a non-empty list of days (${DAY_NAMES.join(', ')}), got ${describeNode(node)}`);
      ok = false;
    } else {
      days = [];
      for (const item of node.items) {
        const n = item as Node | null;
        const v = isScalar(n) && typeof n.value === 'string' ? n.value.toLowerCase().slice(0, 3) : null;
        const full = isScalar(n) && typeof n.value === 'string' ? n.value.toLowerCase() : '';
        const known = v !== null && (DAY_NAMES as readonly string[]).includes(v) && (full.length === 3 || FULL_DAYS.includes(full));
        if (!known) {
          reader.report(n ?? node, `${daysEntry.label}: ${describeNode(n)} is not a day (${DAY_NAMES.join(', ')})`);
          ok = false;
        } else if (days.includes(v as DayName)) {
          reader.report(n, `${daysEntry.label} lists ${v} twice`);
          ok = false;
        } else days.push(v as DayName);
      }
    }
  }
  let hours = { start: 0, end: 1440 };
  const hoursEntry = fields.get('hours');
  if (hoursEntry !== undefined) {
    const text = reader.text(hoursEntry);
    const parsed = text === undefined ? null : parseHours(text);
    if (text !== undefined && parsed === null) {
      reader.reportEntry(hoursEntry, `${hoursEntry.label} must be "HH:MM-HH:MM" (24-hour, e.g. "09:00-17:00"; "22:00-04:00" spans midnight; "00:00-24:00" all day), got ${JSON.stringify(text)}`);
    }
    if (parsed === null) ok = false;
    else hours = parsed;
  }
  const zoneEntry = fields.get('timeZone');
  let timeZone = 'UTC';
  if (zoneEntry === undefined) {
    reader.report(fields.node, `${entry.label} needs "timeZone" (an IANA zone such as Europe/Paris, America/New_York or UTC)`);
    ok = false;
  } else {
    const text = reader.text(zoneEntry, { max: 100 });
    if (text === undefined) ok = false;
    else if (!isTimeZone(text)) {
      reader.reportEntry(zoneEntry, `${zoneEntry.label}: unknown time zone ${JSON.stringify(text)} (an IANA zone such as Europe/Paris, America/New_York or UTC)`);
      ok = false;
    } else timeZone = text;
  }
  return ok ? { days, ...hours, timeZone } : undefined;
}

const FULL_DAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];

/** `[2026-12-24, 2026-12-31/2027-01-02, {from: 2027-04-01, to: 2027-04-03}]` */
export function readBlackout(reader: PlanReader, entry: Entry): DateRange[] | undefined {
  const node = entry.value;
  if (!isSeq(node)) {
    reader.reportEntry(entry, `${entry.label} must be a list of dates (YYYY-MM-DD) or ranges (YYYY-MM-DD/YYYY-MM-DD, or {from, to}), got ${describeNode(node)}`);
    return undefined;
  }
  const out: DateRange[] = [];
  let ok = true;
  for (const item of node.items) {
    const n = item as Node | null;
    let range: DateRange | null = null;
    if (isScalar(n) && typeof n.value === 'string') {
      const parts = n.value.split('/');
      const from = parts[0] ?? '';
      const to = parts[1] ?? from;
      if (parts.length <= 2 && isIsoDate(from) && isIsoDate(to)) range = { from, to };
    } else if (isMap(n)) {
      const f = reader.fields(n, `${entry.label} range`, `in a ${entry.label} range`, BLACKOUT_RANGE_KEYS);
      const from = f?.get('from');
      const to = f?.get('to');
      const a = from === undefined ? undefined : reader.text(from);
      const b = to === undefined ? a : reader.text(to);
      if (a !== undefined && b !== undefined && isIsoDate(a) && isIsoDate(b)) range = { from: a, to: b };
    }
    if (range === null) {
      reader.report(n ?? node, `${entry.label}: ${describeNode(n)} is not a date (YYYY-MM-DD) or a range (YYYY-MM-DD/YYYY-MM-DD)`);
      ok = false;
    } else if (range.from > range.to) {
      reader.report(n, `${entry.label}: the range ${range.from}/${range.to} ends before it starts`);
      ok = false;
    } else out.push(range);
  }
  return ok ? out : undefined;
}

export function readEmergency(reader: PlanReader, entry: Entry): { reason: string } | undefined {
  const fields = reader.fields(entry, '"emergency"', 'in emergency', EMERGENCY_KEYS);
  if (fields === null) return undefined;
  const reasonEntry = fields.get('reason');
  if (reasonEntry === undefined) {
    reader.report(fields.node, '"emergency" needs "reason": why this change may run through a fleet freeze (the event log records it)');
    return undefined;
  }
  const reason = reader.text(reasonEntry, { max: 500 });
  if (reason === undefined) return undefined;
  if (reason.trim().length < 3) {
    reader.reportEntry(reasonEntry, `${reasonEntry.label} must say why (at least 3 characters)`);
    return undefined;
  }
  return { reason: reason.trim() };
}

/** The window a wave runs under, or undefined when neither it nor the plan has a window or blackouts. */
export function resolveWindow(
  plan: { window?: WindowSpec | undefined; blackout?: readonly DateRange[] | undefined },
  wave: { window?: WindowSpec | undefined; blackout?: readonly DateRange[] | undefined },
): TimeWindow | undefined {
  const base = wave.window ?? plan.window;
  const blackout = [...(plan.blackout ?? []), ...(wave.blackout ?? [])];
  if (base === undefined && blackout.length === 0) return undefined;
  return { ...(base ?? ALWAYS), blackout };
}

// The `gates:` (plan or wave) and `notify:` sections of a plan. Pure: URLs are checked for shape
// only; nothing is contacted here.
import { isScalar, isSeq } from 'yaml';
import type { Node } from 'yaml';
import type { GateSpec, NotifyEvent, NotifySpec } from '../types.ts';
import { NOTIFY_EVENTS, NOTIFY_FORMATS } from '../types.ts';
import { GATE_KEYS, NOTIFY_KEYS } from './plan-keys.ts';
import { describeNode } from './plan-reader.ts';
import type { Entry, PlanReader } from './plan-reader.ts';

export const GATE_DEFAULTS = { window: 5 * 60_000, minSamples: 3, interval: 30_000, timeout: 10_000 } as const;
export const MAX_GATES = 20;
export const MAX_NOTIFY = 20;
const GATE_NAME = /^[A-Za-z0-9._-]{1,100}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

export function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '' && url.username === '' && url.password === '';
  } catch {
    return false;
  }
}

function list(reader: PlanReader, entry: Entry, what: string, max: number): Node[] | undefined {
  const node = entry.value;
  if (isScalar(node) && node.value === null) return [];
  if (!isSeq(node)) {
    reader.reportEntry(entry, `${entry.label} must be a list of ${what}, got ${describeNode(node)}`);
    return undefined;
  }
  if (node.items.length > max) {
    reader.report(node, `${entry.label} lists ${node.items.length} ${what}; at most ${max}`);
    return undefined;
  }
  return node.items.map((item) => (item as Node | null) ?? node);
}

function url(reader: PlanReader, entry: Entry): string | undefined {
  const text = reader.text(entry, { max: 2048 });
  if (text === undefined) return undefined;
  if (!isHttpUrl(text)) {
    reader.reportEntry(entry, `${entry.label} must be an http:// or https:// URL without credentials, got ${JSON.stringify(text)}`);
    return undefined;
  }
  return text;
}

function finiteNumber(reader: PlanReader, entry: Entry): number | undefined {
  const raw = isScalar(entry.value) ? entry.value.value : undefined;
  if (typeof raw !== 'number' || !Number.isFinite(raw)) {
    reader.reportEntry(entry, `${entry.label} must be a number, got ${describeNode(entry.value)}`);
    return undefined;
  }
  return raw;
}

/** `gates:` of the plan (where = 'in gates') or of a wave (where = 'in wave "x" gates'). */
export function readGates(reader: PlanReader, entry: Entry, scope: string): GateSpec[] | undefined {
  const items = list(reader, entry, 'gates', MAX_GATES);
  if (items === undefined) return undefined;
  const isNew = reader.uniqueNames(`gate${scope ? ` ${scope}` : ''}`);
  const gates: GateSpec[] = [];
  let ok = true;
  items.forEach((node, index) => {
    const subject = `gate ${index + 1}${scope ? ` ${scope}` : ''}`;
    const where = `in ${subject}`;
    const fields = reader.fields(node, subject, where, GATE_KEYS);
    if (fields === null) {
      ok = false;
      return;
    }
    const nameEntry = reader.require(fields, 'name', where, node);
    const name = nameEntry === undefined ? undefined : reader.text(nameEntry, { pattern: GATE_NAME, hint: '1-100 characters of A-Z a-z 0-9 . _ -' });
    if (name !== undefined && nameEntry !== undefined && !isNew(name, nameEntry.value ?? node)) ok = false;
    const promEntry = fields.get('prometheus');
    const prometheus = promEntry === undefined ? undefined : url(reader, promEntry);
    const queryEntry = reader.require(fields, 'query', where, node);
    const query = queryEntry === undefined ? undefined : reader.text(queryEntry, { max: 4096 });
    const belowEntry = fields.get('below');
    const aboveEntry = fields.get('above');
    const below = belowEntry === undefined ? undefined : finiteNumber(reader, belowEntry);
    const above = aboveEntry === undefined ? undefined : finiteNumber(reader, aboveEntry);
    let conditionOk = true;
    if ((belowEntry === undefined) === (aboveEntry === undefined)) {
      reader.report(belowEntry?.keyNode ?? aboveEntry?.keyNode ?? node, `${subject} needs exactly one of "below" or "above"`);
      conditionOk = false;
    }
    const windowEntry = fields.get('window');
    const window = windowEntry === undefined ? GATE_DEFAULTS.window : reader.duration(windowEntry, true);
    const minEntry = fields.get('minSamples');
    const minSamples = minEntry === undefined ? GATE_DEFAULTS.minSamples : reader.integer(minEntry, 1, 11_000);
    const intervalEntry = fields.get('interval');
    const interval = intervalEntry === undefined ? GATE_DEFAULTS.interval : reader.duration(intervalEntry, true);
    const timeoutEntry = fields.get('timeout');
    const timeout = timeoutEntry === undefined ? GATE_DEFAULTS.timeout : reader.duration(timeoutEntry, true);
    if (interval !== undefined && interval < 1000 && intervalEntry !== undefined) {
      reader.reportEntry(intervalEntry, `${intervalEntry.label} must be at least 1s`);
      ok = false;
    }
    // Samples are points at a step of at least 1 s: a window holds at most window/1s + 1 of them.
    if (window !== undefined && minSamples !== undefined && minSamples > Math.floor(window / 1000) + 1) {
      reader.reportEntry(minEntry ?? windowEntry!, `${subject}: minSamples ${minSamples} can never be met over a window of ${Math.floor(window / 1000)}s (at most one sample per second); lengthen "window" or lower "minSamples"`);
      ok = false;
    }
    if (
      !conditionOk ||
      name === undefined ||
      query === undefined ||
      (promEntry !== undefined && prometheus === undefined) ||
      (belowEntry !== undefined && below === undefined) ||
      (aboveEntry !== undefined && above === undefined) ||
      window === undefined ||
      minSamples === undefined ||
      interval === undefined ||
      timeout === undefined
    ) {
      ok = false;
      return;
    }
    gates.push({
      name,
      ...(prometheus === undefined ? {} : { prometheus }),
      query,
      ...(below === undefined ? {} : { below }),
      ...(above === undefined ? {} : { above }),
      window,
      minSamples,
      interval,
      timeout,
    });
  });
  return ok ? gates : undefined;
}

export function readNotify(reader: PlanReader, entry: Entry): NotifySpec[] | undefined {
  const items = list(reader, entry, 'webhooks', MAX_NOTIFY);
  if (items === undefined) return undefined;
  const out: NotifySpec[] = [];
  let ok = true;
  items.forEach((node, index) => {
    const subject = `webhook ${index + 1} in notify`;
    const where = `in ${subject}`;
    const fields = reader.fields(node, subject, where, NOTIFY_KEYS);
    if (fields === null) {
      ok = false;
      return;
    }
    const urlEntry = reader.require(fields, 'url', where, node);
    const target = urlEntry === undefined ? undefined : url(reader, urlEntry);
    const secretEntry = fields.get('secretEnv');
    const secretEnv = secretEntry === undefined ? undefined : reader.text(secretEntry, { pattern: ENV_NAME, hint: 'an environment variable name (A-Z a-z 0-9 _)' });
    const formatEntry = fields.get('format');
    const format = formatEntry === undefined ? 'json' : reader.oneOf(formatEntry, NOTIFY_FORMATS);
    const eventsEntry = fields.get('events');
    let events: NotifyEvent[] | undefined;
    let eventsOk = true;
    if (eventsEntry !== undefined) {
      const seq = eventsEntry.value;
      if (!isSeq(seq) || seq.items.length === 0) {
        reader.reportEntry(eventsEntry, `${eventsEntry.label} must be a non-empty list of events (${NOTIFY_EVENTS.join(', ')}), got ${describeNode(seq)}`);
        eventsOk = false;
      } else {
        events = [];
        for (const item of seq.items) {
          const v = isScalar(item) ? item.value : undefined;
          if (typeof v !== 'string' || !(NOTIFY_EVENTS as readonly string[]).includes(v)) {
            reader.report(item as Node, `${eventsEntry.label}: unknown event ${describeNode(item as Node)} (expected one of: ${NOTIFY_EVENTS.join(', ')})`);
            eventsOk = false;
          } else if (!events.includes(v as NotifyEvent)) events.push(v as NotifyEvent);
        }
      }
    }
    if (target === undefined || (secretEntry !== undefined && secretEnv === undefined) || format === undefined || !eventsOk) {
      ok = false;
      return;
    }
    out.push({ url: target, ...(secretEnv === undefined ? {} : { secretEnv }), format, ...(events === undefined ? {} : { events }) });
  });
  return ok ? out : undefined;
}

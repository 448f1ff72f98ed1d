// Query parameters of the paged, filtered lists and the summaries (GET /v1/hosts, /v1/hosts/summary,
// /v1/rollouts/:id/hosts), validated once at the boundary like ./schemas.ts. Unknown parameters
// are refused (a typo such as `lables=` must not silently list everything), and so are cursors
// this server did not give out.
import { z } from 'zod';
import type { Context } from 'hono';
import { LABEL_KEY, LABEL_KEY_HINT } from '../core/labels.ts';
import { STEP_STATES } from '../core/types.ts';
import type { StepStatus } from '../core/types.ts';
import { ValidationError } from '../core/errors.ts';
import { labelsSchema } from './schemas.ts';

export const DEFAULT_PAGE = 500;
export const MAX_PAGE = 5000;
/** At most this many label values in a summary (`by=`); the rest are counted as `otherValues`. */
export const MAX_SUMMARY_VALUES = 1000;

const limit = z.coerce
  .number({ error: 'limit must be a number' })
  .int('limit must be a whole number')
  .min(1, 'limit must be at least 1')
  .max(MAX_PAGE, `limit is at most ${MAX_PAGE}`)
  .default(DEFAULT_PAGE);

/** `label=k=v`, repeatable: every label must match. */
const labelFilter = z
  .array(z.string())
  .default([])
  .transform((items, ctx) => {
    const labels: Record<string, string> = {};
    for (const item of items) {
      const eq = item.indexOf('=');
      if (eq <= 0) {
        ctx.addIssue({ code: 'custom', message: `label filters are KEY=VALUE (e.g. label=env=prod), got "${printable(item)}"` });
        return z.NEVER;
      }
      const key = item.slice(0, eq);
      const value = item.slice(eq + 1);
      if (!LABEL_KEY.test(key)) {
        ctx.addIssue({ code: 'custom', message: `label filter: label keys are ${LABEL_KEY_HINT}, got "${printable(key)}"` });
        return z.NEVER;
      }
      if (key in labels && labels[key] !== value) {
        ctx.addIssue({ code: 'custom', message: `label ${printable(key)} is filtered on twice with different values: no host can match` });
        return z.NEVER;
      }
      labels[key] = value;
    }
    const parsed = labelsSchema.safeParse(labels);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) ctx.addIssue({ code: 'custom', message: `label filter: ${issue.message}` });
      return z.NEVER;
    }
    return parsed.data;
  });

export interface HostCursor {
  readonly name: string;
}
export interface StepCursor {
  readonly waveIndex: number;
  readonly host: string;
}

/** Cursors are opaque to clients: base64url of a small JSON object. */
export function encodeCursor(value: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

function cursorOf<T>(what: string, read: (v: Record<string, unknown>) => T | null) {
  return z
    .string()
    .max(2048, 'cursor is too long')
    .transform((text, ctx) => {
      let value: unknown = null;
      if (/^[A-Za-z0-9_-]+$/.test(text)) {
        try {
          value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
        } catch {
          value = null;
        }
      }
      const read_ = value !== null && typeof value === 'object' && !Array.isArray(value) ? read(value as Record<string, unknown>) : null;
      if (read_ === null) {
        ctx.addIssue({ code: 'custom', message: `cursor is not one this server gave out for ${what}: pass nextCursor from the previous page unchanged` });
        return z.NEVER;
      }
      return read_;
    });
}

const hostCursor = cursorOf<HostCursor>('a host list', (v) => (typeof v.n === 'string' && v.n.length <= 253 ? { name: v.n } : null));
const stepCursor = cursorOf<StepCursor>('a rollout host list', (v) =>
  typeof v.w === 'number' && Number.isSafeInteger(v.w) && v.w >= 0 && typeof v.h === 'string' && v.h.length <= 253 ? { waveIndex: v.w, host: v.h } : null,
);

export function hostCursorFor(name: string): string {
  return encodeCursor({ n: name });
}
export function stepCursorFor(waveIndex: number, host: string): string {
  return encodeCursor({ w: waveIndex, h: host });
}

export const hostsQuery = z.strictObject({
  label: labelFilter,
  status: z.enum(['online', 'offline'], { error: 'status is online or offline' }).optional(),
  limit,
  cursor: hostCursor.optional(),
  facts: z.enum(['true', 'false'], { error: 'facts is true or false' }).default('true'),
});

export const hostsSummaryQuery = z.strictObject({
  label: labelFilter,
  by: z.string().regex(LABEL_KEY, `by is a label key: ${LABEL_KEY_HINT}`).optional(),
});

const stepStates = z
  .string()
  .transform((text, ctx) => {
    const states = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
    const bad = states.filter((s) => !(STEP_STATES as readonly string[]).includes(s));
    if (states.length === 0 || bad.length > 0) {
      ctx.addIssue({ code: 'custom', message: `state is a comma-separated list of ${STEP_STATES.join(', ')}${bad.length > 0 ? `; "${printable(bad[0]!)}" is none of them` : ''}` });
      return z.NEVER;
    }
    return [...new Set(states)] as StepStatus[];
  });

export const rolloutHostsQuery = z.strictObject({
  state: stepStates.optional(),
  /** A wave's name (`prod`, `prod/zone-a`) or its 0-based index. */
  wave: z.string().min(1).max(300).optional(),
  limit,
  cursor: stepCursor.optional(),
});

/** Like readQuery, but `label` may repeat (`?label=env=prod&label=zone=a`). */
export function readListQuery<T extends z.ZodType>(c: Context, schema: T): z.output<T> {
  const single = c.req.query();
  const raw: Record<string, unknown> = { ...single };
  if ('label' in single) raw.label = c.req.queries('label') ?? [];
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new ValidationError(`invalid query: ${formatQueryError(parsed.error)}`);
  return parsed.data;
}

function formatQueryError(error: z.ZodError): string {
  return error.issues
    .slice(0, 10)
    .map((i) => (i.path.length > 0 && !i.message.startsWith(String(i.path[0])) ? `${i.path.join('.')}: ${i.message}` : i.message))
    .join('; ');
}

function printable(s: string): string {
  const shown = s.length > 40 ? `${s.slice(0, 40)}...` : s;
  return shown.replace(/[^\x20-\x7e]/g, '?');
}

// Request bodies of the HTTP API, validated once at the boundary. The same schemas feed the
// OpenAPI document, so the document cannot drift from what the server accepts.
import { z } from 'zod';
import { HOST_NAME, HOST_NAME_HINT, LABEL_KEY, LABEL_KEY_HINT } from '../core/labels.ts';
import { MAX_PLAN_BYTES } from '../core/plan/parse-plan.ts';
import { checkPlan } from '../core/plan/parse-plan.ts';
import { DRIFT_EVENT_KINDS } from '../core/types.ts';
import { hasLoneSurrogate, toSafeRecord, toSafeText, toWellFormed, unsafeTextReason } from '../core/text.ts';

// Two kinds of text arrive here. What a host's commands printed (report messages, drift, facts) is
// host output: it is made safe and bounded (toSafeText / toSafeJson), never refused, since a
// refused report would stay in the agent's outbox forever. What names and selects things (labels,
// plans) is input: text no store can hold (NUL, lone surrogates) is refused with a 400 that says why.

/** Host output: valid UTF-8, no NUL, at most `maxBytes` bytes (cut with a marker, not refused). */
export const hostText = (maxBytes: number) => z.string().transform((s) => toSafeText(s, maxBytes));
/** Host output as a JSON object (facts, details): every string and key made safe. */
export const hostJson = z.record(z.string(), z.unknown()).transform((v) => toSafeRecord(v));

// C0/C1 controls (a tab included): a label is a name, and it is printed in tables.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const labelValue = z
  .string()
  .max(253)
  .superRefine((s, ctx) => {
    const reason = unsafeTextReason(s) ?? (CONTROL.test(s) ? 'contains a control character' : null);
    if (reason !== null) ctx.addIssue({ code: 'custom', message: `label values must be printable text; this one ${reason}` });
  });

export const labelsSchema = z
  .record(z.string().regex(LABEL_KEY, `label keys are ${LABEL_KEY_HINT}`), labelValue)
  .refine((l) => Object.keys(l).length <= 64, 'at most 64 labels');

export const factsSchema = z.record(z.string().max(128), z.unknown()).transform((v) => toSafeRecord(v));

/** An id the agent echoes back (a rollout id): never refused, but made storable (NUL and lone surrogates become U+FFFD, matching nothing). */
const echoedId = z.string().min(1).max(100).transform((s) => toWellFormed(s).replace(/\u0000/g, '\uFFFD'));

export const enrollBody = z.strictObject({
  name: z.string().regex(HOST_NAME, `host names are ${HOST_NAME_HINT}`),
  labels: labelsSchema.default({}),
  facts: factsSchema.optional(),
  /** The host's current credential: needed to enroll a name that is already enrolled (unless an admin reset it). */
  currentCredential: z.string().min(1).max(512).optional(),
});

const labelValueList = z.array(z.string().min(1).max(256)).min(1).max(64);
export const enrollTokenBody = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9._-]{1,100}$/, 'token names are 1-100 characters of A-Z a-z 0-9 . _ -'),
  /** Seconds from now; absent: never expires. */
  expiresInS: z.number().int().positive().max(10 * 365 * 86_400).optional(),
  maxUses: z.number().int().positive().max(1_000_000).optional(),
  /** Per label key, the values a host enrolled with the token may carry (each key required). */
  labels: z
    .record(z.string().regex(LABEL_KEY, `label keys are ${LABEL_KEY_HINT}`), z.union([z.string().min(1).max(256).transform((v) => [v]), labelValueList]))
    .refine((l) => Object.keys(l).length <= 64, 'at most 64 label constraints')
    .default({}),
});

export const heartbeatBody = z.strictObject({
  labels: labelsSchema.optional(),
  facts: factsSchema.optional(),
});

/**
 * heartbeatBody without zod, for the heartbeat's fast path (agent-fast-path.ts): what it accepts
 * heartbeatBody accepts too, with the same output (test/heartbeat-fast-path.test.ts holds them
 * together). null: not sure, so the request goes on to the Hono route, whose zod schema decides
 * (and words the 400). Keys named __proto__ are left to zod as well.
 */
export function heartbeatBodyFast(raw: unknown): z.output<typeof heartbeatBody> | null {
  if (!isPlainObject(raw)) return null;
  let labels: Record<string, string> | undefined;
  let facts: Record<string, unknown> | undefined;
  for (const key in raw) {
    const value = raw[key];
    if (key === 'labels') {
      if (!isPlainObject(value)) return null;
      let n = 0;
      for (const k in value) {
        const v = value[k];
        if (++n > 64 || k === '__proto__' || !LABEL_KEY.test(k)) return null;
        if (typeof v !== 'string' || v.length > 253 || CONTROL.test(v) || hasLoneSurrogate(v)) return null;
      }
      labels = value as Record<string, string>;
    } else if (key === 'facts') {
      if (!isPlainObject(value)) return null;
      for (const k in value) if (k.length > 128 || k === '__proto__') return null;
      facts = toSafeRecord(value);
    } else return null;
  }
  return { ...(labels !== undefined ? { labels } : {}), ...(facts !== undefined ? { facts } : {}) };
}

/** An object JSON.parse made ({...}: not null, not an array). */
function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;
}

export const reportSchema = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9_-]{8,100}$/, 'report ids are 8-100 characters of A-Z a-z 0-9 _ -'),
  rolloutId: echoedId,
  attempt: z.number().int().min(0).max(1_000_000),
  kind: z.enum(['apply', 'check', 'rollback', 'confirm']),
  ok: z.boolean(),
  /** Host output (a command's stderr...): kept as at most 8 KiB of valid UTF-8. */
  message: hostText(8192).optional(),
  at: z.number().int().nonnegative().optional(),
  details: hostJson.optional(),
});

export const reportsBody = z.strictObject({
  reports: z.array(reportSchema).min(1).max(100),
});

const storableText = (what: string) =>
  z.string().superRefine((s, ctx) => {
    const reason = unsafeTextReason(s);
    if (reason !== null) ctx.addIssue({ code: 'custom', message: `${what} ${reason}` });
  });

export const createRolloutBody = z
  .strictObject({
    plan: storableText('the plan').pipe(z.string().min(1).max(MAX_PLAN_BYTES, `plans are at most ${MAX_PLAN_BYTES / 1024} KiB`)),
    file: storableText('the file name').pipe(z.string().max(255)).optional(),
  })
  .superRefine((body, ctx) => {
    // YAML escapes ("\0", "\ud800") put NUL or lone surrogates into a valid source's values.
    const { plan } = checkPlan(body.plan, body.file ?? 'plan.yaml');
    const found = plan ? findUnsafeString(plan, []) : null;
    if (found) ctx.addIssue({ code: 'custom', path: ['plan'], message: `${found.path.join('.') || '(plan)'} ${found.reason}` });
  });

function findUnsafeString(value: unknown, path: (string | number)[]): { path: (string | number)[]; reason: string } | null {
  if (typeof value === 'string') {
    const reason = unsafeTextReason(value);
    return reason === null ? null : { path, reason };
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const hit = findUnsafeString(value[i], [...path, i]);
      if (hit) return hit;
    }
    return null;
  }
  if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      const reason = unsafeTextReason(k);
      if (reason !== null) return { path: [...path, k], reason: `(a key) ${reason}` };
      const hit = findUnsafeString(v, [...path, k]);
      if (hit) return hit;
    }
  }
  return null;
}

export const assignmentsQuery = z.object({
  waitMs: z.coerce.number().int().min(0).max(30_000).default(0),
  version: z.string().max(100).optional(),
});

export const eventsQuery = z.object({
  after: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(5000).default(500),
});

// ---- drift (issue 3) ----

const driftKind = z.enum(DRIFT_EVENT_KINDS);
// Host output: made safe and bounded; a subject is also a key (resolutions match it), so the
// same transform applies to both.
const driftSubject = hostText(512);

export const driftEventSchema = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9_-]{8,100}$/, 'event ids are 8-100 characters of A-Z a-z 0-9 _ -'),
  kind: driftKind,
  subject: driftSubject,
  message: hostText(8192),
  at: z.number().int().nonnegative(),
  open: z.boolean(),
  details: hostJson.optional(),
});

export const driftBody = z.strictObject({
  events: z.array(driftEventSchema).max(500),
  resolved: z.array(z.strictObject({ kind: driftKind, subject: driftSubject, at: z.number().int().nonnegative() })).max(500).default([]),
});

export const driftQuery = z.object({
  host: z.string().regex(HOST_NAME, `host names are ${HOST_NAME_HINT}`).optional(),
  limit: z.coerce.number().int().min(1).max(5000).default(200),
});

export const updatesQuery = z.object({
  all: z.enum(['true', 'false']).default('false'),
});

// Request bodies of the HTTP API, validated once at the boundary. The same schemas feed the
// OpenAPI document, so the document cannot drift from what the server accepts.
import { z } from 'zod';
import { HOST_NAME, HOST_NAME_HINT, LABEL_KEY, LABEL_KEY_HINT } from '../core/labels.ts';
import { MAX_PLAN_BYTES } from '../core/plan/parse-plan.ts';
import { DRIFT_EVENT_KINDS } from '../core/types.ts';

export const labelsSchema = z
  .record(z.string().regex(LABEL_KEY, `label keys are ${LABEL_KEY_HINT}`), z.string().max(253))
  .refine((l) => Object.keys(l).length <= 64, 'at most 64 labels');

export const factsSchema = z.record(z.string().max(128), z.unknown());

export const enrollBody = z.strictObject({
  name: z.string().regex(HOST_NAME, `host names are ${HOST_NAME_HINT}`),
  labels: labelsSchema.default({}),
  facts: factsSchema.optional(),
});

export const heartbeatBody = z.strictObject({
  labels: labelsSchema.optional(),
  facts: factsSchema.optional(),
});

export const reportSchema = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9_-]{8,100}$/, 'report ids are 8-100 characters of A-Z a-z 0-9 _ -'),
  rolloutId: z.string().min(1).max(100),
  attempt: z.number().int().min(0).max(1_000_000),
  kind: z.enum(['apply', 'check', 'rollback', 'confirm']),
  ok: z.boolean(),
  message: z.string().max(8192).optional(),
  at: z.number().int().nonnegative().optional(),
  details: z.record(z.string(), z.unknown()).optional(),
});

export const reportsBody = z.strictObject({
  reports: z.array(reportSchema).min(1).max(100),
});

export const createRolloutBody = z.strictObject({
  plan: z.string().min(1).max(MAX_PLAN_BYTES, `plans are at most ${MAX_PLAN_BYTES / 1024} KiB`),
  file: z.string().max(255).optional(),
});

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
const driftSubject = z.string().max(512);

export const driftEventSchema = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9_-]{8,100}$/, 'event ids are 8-100 characters of A-Z a-z 0-9 _ -'),
  kind: driftKind,
  subject: driftSubject,
  message: z.string().max(8192),
  at: z.number().int().nonnegative(),
  open: z.boolean(),
  details: z.record(z.string(), z.unknown()).optional(),
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

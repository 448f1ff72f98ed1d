// The audit log, read (admin only: it says who holds which tokens, from where they call, and
// every refused attempt; a viewer token is handed out too widely for that). Oldest first, keyset
// paged by entry id; `format=jsonl` answers one JSON object per line (for `sluice audit --jsonl`
// and log shippers), the next cursor in the `x-next-cursor` header.
import { Hono } from 'hono';
import { z } from 'zod';
import type { AuditRow } from '../../store/store.ts';
import { type AppDeps, type AppEnv, readQuery } from '../app.ts';
import { requireRole } from '../auth.ts';

export const DEFAULT_AUDIT_PAGE = 100;
export const MAX_AUDIT_PAGE = 1000;

const time = z
  .string()
  .max(64)
  .transform((text, ctx) => {
    const ms = /^\d{1,16}$/.test(text) ? Number(text) : Date.parse(text);
    if (!Number.isFinite(ms)) {
      ctx.addIssue({ code: 'custom', message: `not a time: "${text.slice(0, 64)}" (ms since the epoch, or ISO 8601 such as 2026-12-03T06:00:00Z)` });
      return z.NEVER;
    }
    return ms;
  });

export const auditQuery = z
  .object({
    actor: z.string().min(1).max(200).optional(),
    action: z.string().min(1).max(200).optional(),
    target: z.string().min(1).max(500).optional(),
    result: z.enum(['ok', 'denied', 'failed']).optional(),
    since: time.optional(),
    until: time.optional(),
    limit: z.coerce.number().int().min(1).max(MAX_AUDIT_PAGE).default(DEFAULT_AUDIT_PAGE),
    cursor: z.string().regex(/^\d{1,18}$/, 'cursor: the nextCursor of the previous page, unchanged').optional(),
    format: z.enum(['json', 'jsonl']).default('json'),
  })
  .strict();

export function auditView(row: AuditRow): Record<string, unknown> {
  return {
    id: row.id,
    at: row.at,
    actor: row.actor,
    role: row.role,
    tokenId: row.tokenId,
    action: row.action,
    target: row.target,
    sourceIp: row.sourceIp,
    result: row.result,
    detail: row.detail,
  };
}

export function auditRoutes(deps: AppDeps): Hono<AppEnv> {
  const r = new Hono<AppEnv>();

  r.get('/audit', requireRole(deps, 'admin'), async (c) => {
    const q = readQuery(c, auditQuery);
    const rows = await deps.store.listAudit({
      ...(q.actor !== undefined ? { actor: q.actor } : {}),
      ...(q.action !== undefined ? { action: q.action } : {}),
      ...(q.target !== undefined ? { target: q.target } : {}),
      ...(q.result !== undefined ? { result: q.result } : {}),
      ...(q.since !== undefined ? { since: q.since } : {}),
      ...(q.until !== undefined ? { until: q.until } : {}),
      ...(q.cursor !== undefined ? { afterId: Number(q.cursor) } : {}),
      limit: q.limit,
    });
    // The cursor is the last id seen, also on a short page: `--follow` polls with it for new entries.
    const last = rows.at(-1)?.id;
    const nextCursor = last !== undefined ? String(last) : (q.cursor ?? null);
    if (q.format === 'jsonl') {
      const text = rows.map((row) => `${JSON.stringify(auditView(row))}\n`).join('');
      return c.body(text, 200, { 'content-type': 'application/x-ndjson', ...(nextCursor !== null ? { 'x-next-cursor': nextCursor } : {}) });
    }
    return c.json({ entries: rows.map(auditView), nextCursor, complete: rows.length < q.limit });
  });

  return r;
}

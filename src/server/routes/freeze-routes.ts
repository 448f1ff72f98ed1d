// The fleet-wide freeze (admin starts and ends it, anyone with a token reads it). Stored, so every
// replica sees it; the leader's driver reads it every tick and at once when this replica changes it.
// Start and end are audited in their transaction.
import { Hono } from 'hono';
import { z } from 'zod';
import { ConflictError, ValidationError } from '../../core/errors.ts';
import { parseDuration } from '../../core/plan/duration.ts';
import type { FreezeRow } from '../../store/store.ts';
import { type AppDeps, type AppEnv, readBody } from '../app.ts';
import { requireRole } from '../auth.ts';
import { auditIntent } from '../audit.ts';
import { activeFreeze, formatUntil } from '../freeze.ts';

/** A freeze may be set at most this far ahead (`--until`, `--for`). */
export const MAX_FREEZE_MS = 366 * 86_400_000;

export const startFreezeBody = z
  .object({
    reason: z.string().trim().min(3, 'reason: say why the fleet is frozen (at least 3 characters)').max(500),
    until: z.union([z.number().int().positive(), z.string().max(64)]).optional().describe('When the freeze ends by itself: ms since the epoch or ISO 8601 (2026-12-24T00:00Z). Omit (and `for`) for a freeze until `freeze end`.'),
    for: z.string().max(64).optional().describe('How long the freeze lasts: a duration such as 48h or 3d.'),
  })
  .strict();

export const endFreezeBody = z.object({}).strict();

export function freezeView(row: FreezeRow | null): Record<string, unknown> {
  if (row === null) return { frozen: false, freeze: null };
  return {
    frozen: true,
    freeze: { id: row.id, reason: row.reason, by: row.by, startedAt: row.startedAt, until: row.until, endedAt: row.endedAt, endedBy: row.endedBy, text: `fleet frozen (${row.reason}) by ${row.by} ${formatUntil(row.until)}` },
  };
}

function untilOf(body: z.output<typeof startFreezeBody>, now: number): number | null {
  if (body.until !== undefined && body.for !== undefined) throw new ValidationError('give until or for, not both');
  let at: number | null = null;
  if (body.for !== undefined) {
    const ms = parseDuration(body.for);
    if (ms === null || ms <= 0) throw new ValidationError(`for takes a duration such as 48h or 3d; got "${body.for}"`);
    at = now + ms;
  } else if (body.until !== undefined) {
    at = typeof body.until === 'number' ? body.until : Date.parse(body.until);
    if (!Number.isFinite(at)) throw new ValidationError(`until is not a time: "${String(body.until)}" (use ISO 8601, e.g. 2026-12-24T00:00Z)`);
    if (at <= now) throw new ValidationError('until is in the past');
  }
  if (at !== null && at - now > MAX_FREEZE_MS) throw new ValidationError('a freeze may be set at most 366 days ahead');
  return at;
}

export function freezeRoutes(deps: AppDeps): Hono<AppEnv> {
  const r = new Hono<AppEnv>();

  r.get('/freeze', requireRole(deps, 'viewer'), async (c) => {
    const row = await deps.store.activeFreeze(deps.now());
    return c.json(freezeView(row));
  });

  r.post('/freeze', requireRole(deps, 'admin'), async (c) => {
    const body = await readBody(c, startFreezeBody);
    const now = deps.now();
    const until = untilOf(body, now);
    const by = c.get('principal').name;
    const intent = auditIntent(deps, c, { reason: body.reason, until });
    const row = await deps.store.startFreeze({ reason: body.reason, by, startedAt: now, until }, intent.entry('fleet'));
    intent.written = true;
    await deps.driver.refreshFreeze().catch(() => {});
    deps.log.info({ by, until }, 'fleet frozen');
    return c.json(freezeView(row), 201);
  });

  r.post('/freeze/end', requireRole(deps, 'admin'), async (c) => {
    await readBody(c, endFreezeBody);
    const now = deps.now();
    const by = c.get('principal').name;
    const current = await activeFreeze(deps.store, now);
    const intent = auditIntent(deps, c, current ? { reason: current.reason, startedBy: current.by } : {});
    const row = await deps.store.endFreeze(now, by, intent.entry('fleet'));
    if (!row) throw new ConflictError('the fleet is not frozen (sluice freeze status)');
    intent.written = true;
    await deps.driver.refreshFreeze().catch(() => {});
    deps.log.info({ by }, 'fleet freeze ended');
    return c.json({ frozen: false, freeze: freezeView(row).freeze });
  });

  return r;
}

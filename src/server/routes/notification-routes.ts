// GET /v1/notifications (viewer): recent webhook deliveries from the outbox and their state. The
// body (which may name hosts) is not returned, nor the endpoint's path (webhook URLs often carry a
// token in it): scheme, host and port only.
import { Hono } from 'hono';
import { z } from 'zod';
import type { NotificationRow } from '../../store/store.ts';
import { type AppDeps, type AppEnv, readQuery } from '../app.ts';
import { requireRole } from '../auth.ts';
import { safeOrigin } from '../../engine/notifier.ts';

export const DEFAULT_NOTIFICATIONS_PAGE = 100;
export const MAX_NOTIFICATIONS_PAGE = 1000;

const query = z
  .object({
    state: z.enum(['pending', 'delivered', 'failed']).optional(),
    rollout: z.string().min(1).max(100).optional(),
    limit: z.coerce.number().int().min(1).max(MAX_NOTIFICATIONS_PAGE).default(DEFAULT_NOTIFICATIONS_PAGE),
  })
  .strict();

export function notificationView(row: NotificationRow): Record<string, unknown> {
  return {
    id: row.id,
    event: row.event,
    rolloutId: row.rolloutId,
    endpoint: safeOrigin(row.endpoint),
    format: row.format,
    signed: row.secretRef !== null,
    state: row.state,
    attempts: row.attempts,
    createdAt: row.createdAt,
    nextAttemptAt: row.state === 'pending' ? row.nextAttemptAt : null,
    deliveredAt: row.deliveredAt,
    lastStatus: row.lastStatus,
    lastError: row.lastError,
  };
}

export function notificationRoutes(deps: AppDeps): Hono<AppEnv> {
  const r = new Hono<AppEnv>();
  r.get('/notifications', requireRole(deps, 'viewer'), async (c) => {
    const q = readQuery(c, query);
    const rows = await deps.store.listNotifications({ ...(q.state ? { state: q.state } : {}), ...(q.rollout ? { rolloutId: q.rollout } : {}), limit: q.limit });
    return c.json({ deliveries: rows.map(notificationView) });
  });
  return r;
}

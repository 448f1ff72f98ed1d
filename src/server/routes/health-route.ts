// GET /v1/health (admin): this replica's role (leader, starting, follower, unavailable), why, who
// leads and where, and whether the database answers. /healthz stays the unauthenticated liveness
// probe for load balancers.
import { Hono } from 'hono';
import type { AppDeps, AppEnv } from '../app.ts';
import { requireRole } from '../auth.ts';
import type { ReplicaStatus } from '../leader/elector.ts';

export function healthRoutes(deps: AppDeps): Hono<AppEnv> {
  const r = new Hono<AppEnv>();
  r.get('/health', requireRole(deps, 'viewer'), (c) => {
    const status: ReplicaStatus & { store: string } = deps.replica
      ? { ...deps.replica.status(), store: deps.store.kind }
      : { role: 'leader', replica: 'embedded', leader: null, reason: 'embedded store: one process, always the leader', database: 'ok', since: 0, stoppedLeading: null, store: deps.store.kind };
    return c.json(status);
  });
  return r;
}

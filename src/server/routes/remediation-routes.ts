// The remediation guard's routes (issue 13). Auto-healers (an ASG lifecycle hook, a Cluster API
// external remediation controller, a script) ask before they replace, reboot or delete a host;
// the answer is allow or deny with the reason, recorded with the question. Operators read the
// record and, with a reason, override the guard for a scope for a while.
import { Hono } from 'hono';
import { z } from 'zod';
import { NotFoundError, ValidationError } from '../../core/errors.ts';
import { HOST_NAME } from '../../core/labels.ts';
import { parseDuration } from '../../core/plan/duration.ts';
import {
  DEFAULT_REMEDIATION_POLICY,
  REMEDIATION_ACTIONS,
  decideRemediation,
  isDataBearing,
  scopesOf,
  type RemediationPolicy,
} from '../../core/remediation/guard.ts';
import type { RemediationOverrideRow, RemediationRow } from '../../store/store.ts';
import { type AppDeps, type AppEnv, readBody, readQuery } from '../app.ts';
import { requireRole } from '../auth.ts';

const MAX_OVERRIDE_MS = 7 * 24 * 3600_000;
const TEXT = z.string().trim().min(1).max(500);
const SCOPE = /^(fleet|[A-Za-z0-9._/-]{1,63}=[A-Za-z0-9._/:-]{1,253})$/;

export const remediationRequestBody = z.object({
  host: z.string().regex(HOST_NAME, 'a host name'),
  action: z.enum(REMEDIATION_ACTIONS),
  /** Who asks: the auto-healer's name (`asg-lifecycle-hook`, `capi-remediation`). */
  requester: z.string().trim().min(1).max(100).optional(),
  reason: TEXT.optional(),
});

export const remediationOverrideBody = z.object({
  scope: z.string().regex(SCOPE, 'fleet, host=NAME or LABEL=VALUE (zone=us-east-1a)'),
  for: z.string().max(20),
  reason: TEXT,
});

const listQuery = z.object({
  host: z.string().regex(HOST_NAME).optional(),
  decision: z.enum(['allow', 'deny']).optional(),
  since: z.coerce.number().int().min(0).optional(),
  limit: z.coerce.number().int().min(1).max(5000).default(200),
});

function requestView(r: RemediationRow): Record<string, unknown> {
  return {
    id: r.id,
    at: r.at,
    host: r.host,
    action: r.action,
    requester: r.requester,
    principal: r.principal,
    reasonGiven: r.reasonGiven,
    decision: r.allow ? 'allow' : 'deny',
    reason: r.reason,
    scope: r.scope,
    affected: r.affected,
    limit: r.limit,
  };
}

function overrideView(o: RemediationOverrideRow): Record<string, unknown> {
  return { id: o.id, scope: o.scope, createdAt: o.createdAt, until: o.until, createdBy: o.createdBy, reason: o.reason, endedAt: o.endedAt };
}

/** Whether an override's scope covers a host: the fleet, the host itself, or one of its labels. */
export function overrideCovers(scope: string, host: string, labels: Readonly<Record<string, string>>): boolean {
  if (scope === 'fleet') return true;
  const eq = scope.indexOf('=');
  const key = scope.slice(0, eq);
  const value = scope.slice(eq + 1);
  return key === 'host' ? value === host : labels[key] === value;
}

export function remediationRoutes(deps: AppDeps): Hono<AppEnv> {
  const r = new Hono<AppEnv>();
  const policy: RemediationPolicy = deps.remediationPolicy ?? DEFAULT_REMEDIATION_POLICY;
  // The last burst alert per scope: one alert per scope per window (per replica).
  const alerted = new Map<string, number>();

  r.post('/remediation/requests', requireRole(deps, 'remediator'), async (c) => {
    const body = await readBody(c, remediationRequestBody);
    const now = deps.now();
    const principal = c.get('principal');
    const host = await deps.store.hostByName(body.host);
    const labels = host?.labels ?? {};
    const dataBearing = isDataBearing(labels, policy);
    const scopes = host ? scopesOf(labels, policy, dataBearing) : [];
    const work = host ? (await deps.store.assignmentsForHost(host.name))[0] : undefined;
    const override = host ? (await deps.store.activeRemediationOverrides(now)).find((o) => overrideCovers(o.scope, body.host, labels)) : undefined;
    const freeze = deps.activeFreeze ? await deps.activeFreeze(now) : null;
    const row = await deps.store.guardRemediation(
      { host: body.host, scopes, onlineSince: now - deps.heartbeatMs * 3, remediatedSince: now - policy.windowMs },
      (counts) =>
        decideRemediation({
          host: body.host,
          known: host !== null,
          dataBearing,
          inRollout: work ? { id: work.rolloutId, action: work.action } : null,
          freeze,
          override: override ? { id: override.id, scope: override.scope, by: override.createdBy, reason: override.reason } : null,
          counts: counts.map((count, i) => ({ ...count, maxShare: scopes[i]!.maxShare })),
        }),
      { at: now, host: body.host, action: body.action, requester: body.requester ?? principal.name, principal: principal.name, reasonGiven: body.reason ?? null },
    );
    deps.metrics.remediationRequests.inc({ action: row.action, decision: row.allow ? 'allow' : 'deny' });
    let alert = false;
    if (!row.allow && row.scope !== null && now - (alerted.get(row.scope) ?? -Infinity) >= policy.windowMs) {
      alerted.set(row.scope, now);
      alert = true;
      deps.metrics.remediationBursts.inc({ scope: row.scope });
      deps.log.warn({ scope: row.scope, affected: row.affected, limit: row.limit, host: row.host, action: row.action }, `remediation guard: mass failure in ${row.scope}; denying remediation`);
      if (deps.notifier?.enabled) {
        const message = `mass failure in ${row.scope}: ${row.affected} hosts unhealthy or remediated within the window, over the limit of ${row.limit}; remediation of ${row.host} (${row.action}, asked by ${row.requester}) and others is denied until it recovers or an operator overrides`;
        await deps.store
          .enqueueNotifications(deps.notifier.forEvent({ event: 'remediation.denied_burst', at: now, rollout: null, host: row.host, message }))
          .then(() => deps.notifier?.kick())
          .catch((err: unknown) => deps.log.warn({ scope: row.scope, err: String(err) }, 'queueing the remediation alert failed'));
      }
    }
    deps.log.info({ host: row.host, action: row.action, decision: row.allow ? 'allow' : 'deny', requester: row.requester }, 'remediation request');
    return c.json({ ...requestView(row), alert });
  });

  r.get('/remediation/requests', requireRole(deps, 'viewer'), async (c) => {
    const q = readQuery(c, listQuery);
    const rows = await deps.store.listRemediations({ limit: q.limit, ...(q.host ? { host: q.host } : {}), ...(q.decision ? { decision: q.decision } : {}), ...(q.since !== undefined ? { since: q.since } : {}) });
    return c.json({ requests: rows.map(requestView) });
  });

  r.post('/remediation/overrides', requireRole(deps, 'operator'), async (c) => {
    const body = await readBody(c, remediationOverrideBody);
    const ms = parseDuration(body.for);
    if (ms === null || ms <= 0) throw new ValidationError(`for: a duration like "30m" or "2h", got "${body.for}"`);
    if (ms > MAX_OVERRIDE_MS) throw new ValidationError('for: an override lasts at most 7 days');
    const now = deps.now();
    const row = await deps.store.addRemediationOverride({ scope: body.scope, createdAt: now, until: now + ms, createdBy: c.get('principal').name, reason: body.reason });
    c.set('auditTarget', body.scope);
    deps.log.warn({ scope: row.scope, until: row.until, by: row.createdBy }, 'remediation guard overridden');
    return c.json({ override: overrideView(row) }, 201);
  });

  r.get('/remediation/overrides', requireRole(deps, 'viewer'), async (c) => {
    return c.json({ overrides: (await deps.store.activeRemediationOverrides(deps.now())).map(overrideView) });
  });

  r.post('/remediation/overrides/:id/end', requireRole(deps, 'operator'), async (c) => {
    const id = c.req.param('id');
    if (!(await deps.store.endRemediationOverride(id, deps.now()))) throw new NotFoundError(`no active override ${id} (GET /v1/remediation/overrides lists them)`);
    return c.json({ ended: id });
  });

  return r;
}

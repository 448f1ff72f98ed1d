// The audit log: who asked the server to change what, from where, and what came of it. A change
// the store makes in a transaction (a rollout start or command, a token created or revoked) writes
// its entry in that same transaction (an AuditIntent the route hands down); everything else that
// changes state, and every refused (401/403) or failed request, is written by auditRequests()
// after the handler. Agent traffic (heartbeats, reports, drift) is not audited: it is the hosts'
// own, at fleet rate, and the event log has what it changed; enrollment is.
import type { Context, MiddlewareHandler } from 'hono';
import { SluiceError } from '../core/errors.ts';
import type { AuditInput, AuditIntent, AuditResult } from '../store/store.ts';
import { nodeRequest, requestHeader, type AppDeps, type AppEnv } from './app.ts';
import { FORWARDED_HEADER } from './leader/forward.ts';

/** POST routes that change nothing: audited only when refused. */
const READ_ONLY_POSTS = new Set(['/v1/rollouts/preview', '/v1/plans/analyze', '/v1/plans/simulate']);

/** A route's audit action: `rollout.approve`, `token.create`, ... or `METHOD /route/:param`. */
export function auditAction(method: string, routePath: string): string {
  if (method === 'POST' && routePath === '/v1/rollouts') return 'rollout.start';
  const command = /^\/v1\/rollouts\/:id\/([a-z]+)$/.exec(routePath);
  if (method === 'POST' && command) return `rollout.${command[1]}`;
  if (method === 'POST' && routePath === '/v1/tokens') return 'token.create';
  if (method === 'POST' && routePath === '/v1/tokens/:name/revoke') return 'token.revoke';
  if (method === 'POST' && routePath === '/v1/agent/enroll') return 'host.enroll';
  if (method === 'POST' && routePath === '/v1/remediation/requests') return 'remediation.ask';
  if (method === 'POST' && routePath === '/v1/remediation/overrides') return 'remediation.override';
  if (method === 'POST' && routePath === '/v1/remediation/overrides/:id/end') return 'remediation.override.end';
  if (method === 'POST' && routePath === '/v1/freeze') return 'freeze.start';
  if (method === 'POST' && routePath === '/v1/freeze/end') return 'freeze.end';
  if (method === 'POST' && routePath === '/ui/session') return 'dashboard.signin';
  if (method === 'DELETE' && routePath === '/ui/session') return 'dashboard.signout';
  return `${method} ${routePath}`;
}

/** What a request is about: what the route said (`auditTarget`), else its :id or :name, else the path. */
function auditTarget(c: Context<AppEnv>): string {
  const named = c.get('auditTarget') as string | undefined;
  if (named !== undefined) return named;
  const params = c.req.param() as Record<string, string>;
  return params.id ?? params.name ?? c.req.path;
}

function sourceIp(c: Context<AppEnv>): string | null {
  return nodeRequest(c)?.incoming.socket.remoteAddress ?? null;
}

/** An entry for this request with the principal (if any) and where it came from. */
export function auditEntry(
  c: Context<AppEnv>,
  fields: { action?: string; target?: string | null; result: AuditResult; detail?: Record<string, unknown> | null; at: number },
): AuditInput {
  const principal = c.get('principal') as AppEnv['Variables']['principal'] | undefined;
  const forwardedBy = requestHeader(c, FORWARDED_HEADER);
  const detail = { ...(fields.detail ?? {}), ...(forwardedBy ? { forwardedBy } : {}) };
  return {
    at: fields.at,
    actor: principal?.name ?? (c.get('actor') as string | undefined) ?? 'anonymous',
    role: principal?.role ?? null,
    tokenId: principal?.tokenId ?? null,
    action: fields.action ?? auditAction(c.req.method, c.req.routePath),
    target: fields.target === undefined ? auditTarget(c) : fields.target,
    sourceIp: sourceIp(c),
    result: fields.result,
    detail: Object.keys(detail).length > 0 ? detail : null,
  };
}

/**
 * The entry a route hands to the store, to be written in the transaction of the change. `target`
 * is filled in by whoever knows it (a new rollout's id exists only inside the driver); the writer
 * sets `written`, so auditRequests() does not write it twice.
 */
export function auditIntent(deps: AppDeps, c: Context<AppEnv>, detail?: Record<string, unknown>): AuditIntent {
  const intent: AuditIntent = {
    written: false,
    entry: (target) => auditEntry(c, { target: target ?? auditTarget(c), result: 'ok', at: deps.now(), ...(detail ? { detail } : {}) }),
  };
  c.set('audit', intent);
  return intent;
}

/** Writes the entries no transaction wrote: refused and failed requests, and other changes. */
export function auditRequests(deps: AppDeps): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    await next();
    const intent = c.get('audit') as AuditIntent | undefined;
    if (intent?.written) return;
    const route = c.req.routePath;
    if (!route || route === '*' || route === '/*' || route === '/healthz') return; // no route: a 404 changes nothing
    const status = c.res.status;
    const denied = status === 401 || status === 403;
    const method = c.req.method;
    const agentTraffic = route.startsWith('/v1/agent/') && route !== '/v1/agent/enroll';
    if (agentTraffic) return;
    const changes = method !== 'GET' && method !== 'HEAD' && method !== 'OPTIONS' && !READ_ONLY_POSTS.has(route);
    if (!denied && !changes) return;
    const result: AuditResult = denied ? 'denied' : status >= 400 ? 'failed' : 'ok';
    const detail: Record<string, unknown> = { status };
    const err = c.error;
    if (err instanceof SluiceError) detail.error = err.message;
    else if (err) detail.error = 'internal error';
    const entry = auditEntry(c, { result, detail, at: deps.now() });
    try {
      await deps.store.appendAudit(entry);
    } catch (e) {
      deps.log.error({ action: entry.action, result, err: e instanceof Error ? e.message : String(e) }, 'writing an audit entry failed');
    }
  };
}

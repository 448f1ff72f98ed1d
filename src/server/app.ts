// The HTTP API (Hono): authentication, body limits, error mapping, request logs and metrics
// around the agent and operator routes. Every route but /healthz needs a token.
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { z } from 'zod';
import { SluiceError, httpStatusFor, isErrorCode, ValidationError } from '../core/errors.ts';
import type { AuditIntent, EnrollTokenRow, HostRow, Store } from '../store/store.ts';
import { createRateLimiter, type RateLimiter, type RateLimitOptions } from './rate-limit.ts';
import { auditRequests } from './audit.ts';
import { tokenRoutes } from './routes/token-routes.ts';
import { freezeRoutes } from './routes/freeze-routes.ts';
import { auditRoutes } from './routes/audit-routes.ts';
import { notificationRoutes } from './routes/notification-routes.ts';
import type { Notifier } from '../engine/notifier.ts';
import type { RemediationPolicy } from '../core/remediation/guard.ts';
import type { Principal } from './auth.ts';
import type { RolloutDriver } from '../engine/rollout-driver.ts';
import type { AssignmentHub, StopSignal } from './assignment-hub.ts';
import type { Logger } from './logger.ts';
import type { ServerMetrics } from './metrics.ts';
import type { HttpBindings } from '@hono/node-server';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { requireRole, sessionForForward } from './auth.ts';
import { agentRoutes } from './routes/agent-routes.ts';
import { remediationRoutes } from './routes/remediation-routes.ts';
import { identityRoutes } from './routes/identity-routes.ts';
import { operatorRoutes } from './routes/operator-routes.ts';
import { driftRoutes } from './routes/drift-routes.ts';
import { fleetRoutes } from './routes/fleet-routes.ts';
import { dashboardRoutes } from './routes/dashboard-routes.ts';
import { uiRoutes } from './routes/ui-routes.ts';
import { buildOpenApi } from './openapi.ts';
import { healthRoutes } from './routes/health-route.ts';
import { forwardToLeader } from './leader/forward.ts';
import type { Replica } from './leader/elector.ts';
import { isDatabaseUnreachable } from '../store/pg-errors.ts';
import { agentFastPath, type AgentFastPath } from './agent-fast-path.ts';

/** Seconds a 503 asks the caller to wait before retrying. */
export const RETRY_AFTER_S = 2;

export interface AppDeps {
  readonly store: Store;
  readonly driver: RolloutDriver;
  readonly hub: AssignmentHub;
  readonly log: Logger;
  readonly metrics: ServerMetrics;
  readonly adminToken: string;
  readonly enrollToken: string;
  readonly heartbeatMs: number;
  readonly now: () => number;
  /** Replicas on PostgreSQL: leader-only requests are forwarded to the leader (absent on PGlite). */
  readonly replica?: Replica;
  /** The remediation guard's budgets (default DEFAULT_REMEDIATION_POLICY). */
  readonly remediationPolicy?: RemediationPolicy;
  /** The fleet-wide freeze in force at `now`, if any: the remediation guard denies during one. */
  readonly activeFreeze?: (now: number) => Promise<{ readonly reason: string } | null>;
  /** PEM CA(s) to verify the leader's certificate when its advertise URL is https (default: Node's store). */
  readonly peerCa?: string;
  /** Webhooks: events outside rollouts (drift found) go to the outbox through it. */
  readonly notifier?: Notifier;
  /** Rate limits for failed authentication and enrollment (rate-limit.ts; defaults there). */
  readonly rateLimits?: RateLimitOptions;
  /** How long a host's credential stays valid after a rotation, unless the new one is used first. Default 10 minutes. */
  readonly rotationGraceMs?: number;
  /**
   * The credential cache, without waiting (HostLiveness.cachedHost): with it, heartbeats of cached
   * credentials take the fast path (agent-fast-path.ts) in front of the Hono app.
   */
  readonly cachedHost?: (credentialHash: string) => HostRow | undefined;
}

/** On Node (@hono/node-server) the raw request and response are there too: see nodeRequest(). */
export type AppEnv = {
  Variables: {
    host: HostRow;
    /** The SHA-256 of the host credential the request authenticated with (requireHost). */
    credentialHash: string;
    /** The scoped enrollment token of an enrollment; null for the bootstrap token (requireEnrollToken). */
    enrollToken: EnrollTokenRow | null;
    actor: string;
    principal: Principal;
    audit: AuditIntent;
    auditTarget: string;
  };
  Bindings: Partial<HttpBindings>;
};

export const MAX_BODY_BYTES = 1024 * 1024;

/**
 * The Node request and response behind `c`, when served by @hono/node-server. Reading headers,
 * the body and the client's disconnect from them directly keeps the adapter from building a
 * full web Request (Headers, AbortController, a web stream over the body) for every request:
 * that was most of the memory a held long-poll cost, and much of a heartbeat's CPU.
 */
export function nodeRequest(c: Context): { incoming: IncomingMessage; outgoing: ServerResponse } | null {
  const env = c.env as Partial<HttpBindings> | undefined;
  return env?.incoming && env.outgoing ? { incoming: env.incoming, outgoing: env.outgoing as ServerResponse } : null;
}

/** A request header, from the Node request when there is one. */
export function requestHeader(c: Context, name: string): string | undefined {
  const node = nodeRequest(c);
  if (!node) return c.req.header(name);
  const v = node.incoming.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

/** Resolves when the client goes away before the answer was sent (a long-poll stops waiting). */
export function clientGone(c: Context): StopSignal {
  const node = nodeRequest(c);
  return node ? responseClosed(node.outgoing) : c.req.raw.signal;
}

/** The 'close' of a Node response as a stop signal: the socket closed, or the answer was sent (then nobody listens any more). */
export function responseClosed(outgoing: ServerResponse): StopSignal {
  return {
    addEventListener: (_t, f) => {
      outgoing.once('close', f);
    },
    removeEventListener: (_t, f) => {
      outgoing.off('close', f);
    },
  };
}

function tooLarge(): SluiceError {
  return new SluiceError('too_large', `request body is larger than ${MAX_BODY_BYTES} bytes`);
}

/**
 * A body the fast path (agent-fast-path.ts) already read before it handed the request on: the
 * text, or the error reading it failed with. readBody takes it from here instead of the stream.
 */
export const PRE_READ_BODY = Symbol('sluice.preReadBody');
export type PreReadBody = { readonly text: string } | { readonly error: unknown };

/** The body of a Node request as text, refused past MAX_BODY_BYTES (declared or streamed). */
function readIncoming(incoming: IncomingMessage): Promise<string> {
  const pre = (incoming as IncomingMessage & { [PRE_READ_BODY]?: PreReadBody })[PRE_READ_BODY];
  if (pre !== undefined) return 'text' in pre ? Promise.resolve(pre.text) : Promise.reject(pre.error);
  return new Promise((resolveBody, reject) => {
    if (Number(incoming.headers['content-length'] ?? 0) > MAX_BODY_BYTES) {
      reject(tooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        incoming.off('data', onData);
        incoming.resume(); // drain the rest; the 413 is sent after
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    };
    incoming.on('data', onData);
    incoming.once('end', () => resolveBody(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8')));
    incoming.once('error', reject);
  });
}

/** Parses a JSON body with a schema; malformed JSON and schema violations are 400s. */
export async function readBody<T extends z.ZodType>(c: Context, schema: T): Promise<z.output<T>> {
  let raw: unknown;
  const node = nodeRequest(c);
  if (node) {
    const text = await readIncoming(node.incoming);
    try {
      raw = JSON.parse(text);
    } catch {
      throw new ValidationError('request body is not valid JSON');
    }
  } else {
    try {
      raw = await c.req.json();
    } catch {
      throw new ValidationError('request body is not valid JSON');
    }
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new ValidationError(`invalid request body: ${formatZodError(parsed.error)}`);
  return parsed.data;
}

export function readQuery<T extends z.ZodType>(c: Context, schema: T): z.output<T> {
  const parsed = schema.safeParse(c.req.query());
  if (!parsed.success) throw new ValidationError(`invalid query: ${formatZodError(parsed.error)}`);
  return parsed.data;
}

export function formatZodError(error: z.ZodError): string {
  return error.issues
    .slice(0, 10)
    .map((i) => `${i.path.length ? i.path.join('.') : '(body)'}: ${i.message}`)
    .join('; ');
}

export function errorBody(err: SluiceError): Record<string, unknown> {
  const body: Record<string, unknown> = { code: err.code, message: err.message };
  if (err instanceof ValidationError && err.problems.length > 0) body.problems = err.problems;
  return { error: body };
}

/**
 * Errors that mean the request carried input nobody can take, whatever route let it through: a
 * schema violation, JSON that does not parse, or text the database refuses (SQLSTATE class 22,
 * data exception: NUL in text, invalid UTF-8, a bad Unicode escape in jsonb, a value too long).
 * They are the caller's 400, not the server's 500.
 */
export function asInputError(err: unknown): ValidationError | null {
  if (err instanceof z.ZodError) return new ValidationError(`invalid input: ${formatZodError(err)}`);
  if (err instanceof SyntaxError) return new ValidationError(`request body is not valid JSON: ${err.message}`);
  if (err instanceof URIError) return new ValidationError(`the request path is not valid percent-encoded UTF-8`);
  const code = err !== null && typeof err === 'object' ? (err as { code?: unknown }).code : undefined;
  if (typeof code === 'string' && /^22[0-9A-Z]{3}$/.test(code)) {
    const detail = err instanceof Error ? err.message : String(err);
    return new ValidationError(`the request contains text or a value that cannot be stored (${detail})`);
  }
  return null;
}

/**
 * Every request's metric (sluice_http_requests_total) and log line: agent traffic at debug,
 * errors at error, the rest at info. The Hono app's outermost middleware and the heartbeat's fast
 * path (agent-fast-path.ts) both end here.
 */
export function recordRequest(
  deps: Pick<AppDeps, 'metrics' | 'log'>,
  r: { method: string; route: string; path: string; status: number; started: number; actor: string | undefined },
): void {
  deps.metrics.httpRequests.inc({ method: r.method, route: r.route, status: String(r.status) });
  if (r.route === '/healthz') return;
  const level = r.status >= 500 ? 'error' : r.route === '/v1/agent/assignments' || r.route === '/v1/agent/heartbeat' ? 'debug' : 'info';
  if (!deps.log.isLevelEnabled(level)) return; // heartbeats at fleet rate: build nothing to drop it
  const ms = Math.round(performance.now() - r.started);
  deps.log[level]({ method: r.method, path: r.path, status: r.status, ms, actor: r.actor }, 'request');
}

export function createApp(deps: AppDeps): Hono<AppEnv> {
  return createApi(deps).app;
}

/**
 * The Hono app, and the request listener's fast path for agent heartbeats in front of it
 * (agent-fast-path.ts; null without deps.cachedHost): both share one rate limiter.
 */
export function createApi(deps: AppDeps): { app: Hono<AppEnv>; fastPath: AgentFastPath | null } {
  const app = new Hono<AppEnv>();

  app.use('*', async (c, next) => {
    const started = performance.now();
    await next();
    recordRequest(deps, { method: c.req.method, route: c.req.routePath || 'unknown', path: c.req.path, status: c.res.status, started, actor: c.get('actor') });
  });

  // Before the body limit: a forwarded body streams through to the leader, which enforces it.
  if (deps.replica) app.use('*', sessionForForward(deps)); // the dashboard's changes on a follower
  if (deps.replica) app.use('*', forwardToLeader(deps.replica, deps.log, deps.peerCa));

  // Failed authentication and enrollments per source address (429 with Retry-After).
  const limiter: RateLimiter = createRateLimiter(deps.rateLimits, deps.now);
  app.use('*', limiter.middleware);

  const limit = bodyLimit({ maxSize: MAX_BODY_BYTES, onError: (c) => c.json(errorBody(tooLarge()), 413) });
  app.use('*', async (c, next) => {
    // On Node the body is read (and its size limited) by readBody; a declared oversize is refused here.
    const node = nodeRequest(c);
    if (!node) return limit(c, next);
    if (Number(node.incoming.headers['content-length'] ?? 0) > MAX_BODY_BYTES) return c.json(errorBody(tooLarge()), 413);
    return next();
  });

  // After the forward (the leader audits what it was forwarded) and the body limit.
  app.use('*', auditRequests(deps));

  app.onError((err, c) => {
    if (err instanceof SluiceError && isErrorCode(err.code)) {
      if (err.code === 'unavailable') c.header('retry-after', String(RETRY_AFTER_S));
      return c.json(errorBody(err), httpStatusFor(err.code) as 400);
    }
    if (isDatabaseUnreachable(err)) {
      // PostgreSQL is down or unreachable: nothing the caller did wrong; it should come back.
      deps.log.warn({ path: c.req.path, err: err instanceof Error ? err.message : String(err) }, 'the database is unreachable');
      c.header('retry-after', String(RETRY_AFTER_S));
      return c.json({ error: { code: 'unavailable', message: 'the database is unreachable; retry later' } }, 503);
    }
    const invalid = asInputError(err);
    if (invalid) {
      deps.log.warn({ path: c.req.path, reason: invalid.message }, 'bad input reached past validation');
      return c.json(errorBody(invalid), 400);
    }
    deps.log.error({ err: err instanceof Error ? { message: err.message, stack: err.stack } : String(err), path: c.req.path }, 'unhandled error');
    return c.json({ error: { code: 'failed', message: 'internal error' } }, 500);
  });

  app.notFound((c) => c.json({ error: { code: 'not_found', message: `no route ${c.req.method} ${c.req.path}` } }, 404));

  // Says only that the process answers: no version, no counts, nothing to fingerprint.
  app.get('/healthz', (c) => c.text('ok'));

  app.get('/metrics', requireRole(deps, 'viewer'), async (c) => {
    const text = await deps.metrics.registry.metrics();
    return c.text(text, 200, { 'content-type': deps.metrics.registry.contentType });
  });

  app.get('/v1/openapi.json', requireRole(deps, 'viewer'), (c) => c.json(buildOpenApi()));

  app.route('/v1', healthRoutes(deps));
  app.route('/v1/agent', agentRoutes(deps, limiter));
  app.route('/v1', identityRoutes(deps)); // host reset, scoped enrollment tokens (admin)
  app.route('/v1', driftRoutes(deps)); // before the operator routes: their '*' middleware is admin-only
  app.route('/v1', fleetRoutes(deps)); // paged lists and summaries; each route checks the admin token
  app.route('/v1', dashboardRoutes(deps)); // live rollout views, fleet topology, one host
  app.route('/v1', operatorRoutes(deps));
  app.route('/v1', tokenRoutes(deps)); // admin only
  app.route('/v1', freezeRoutes(deps)); // viewer reads, admin starts and ends
  app.route('/v1', auditRoutes(deps)); // admin only
  app.route('/v1', notificationRoutes(deps)); // webhook deliveries (viewer)
  app.route('/v1', remediationRoutes(deps)); // the remediation guard: remediators ask, operators override
  app.route('/', uiRoutes(deps, limiter)); // the dashboard under /ui/ and its sign-in
  return { app, fastPath: deps.cachedHost ? agentFastPath(deps, deps.cachedHost, limiter) : null };
}

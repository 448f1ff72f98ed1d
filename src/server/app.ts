// The HTTP API (Hono): authentication, body limits, error mapping, request logs and metrics
// around the agent and operator routes. Every route but /healthz needs a token.
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { z } from 'zod';
import { SluiceError, httpStatusFor, isErrorCode, ValidationError } from '../core/errors.ts';
import type { HostRow, Store } from '../store/store.ts';
import type { RolloutDriver } from '../engine/rollout-driver.ts';
import type { AssignmentHub } from './assignment-hub.ts';
import type { Logger } from './logger.ts';
import type { ServerMetrics } from './metrics.ts';
import { hashSecret, sameSecret } from './tokens.ts';
import { agentRoutes } from './routes/agent-routes.ts';
import { operatorRoutes } from './routes/operator-routes.ts';
import { driftRoutes } from './routes/drift-routes.ts';
import { fleetRoutes } from './routes/fleet-routes.ts';
import { buildOpenApi } from './openapi.ts';

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
}

export type AppEnv = { Variables: { host: HostRow; actor: string } };

export const MAX_BODY_BYTES = 1024 * 1024;

function bearer(c: Context): string | null {
  const header = c.req.header('authorization');
  if (!header) return null;
  const m = /^Bearer\s+(\S{1,512})$/i.exec(header.trim());
  return m?.[1] ?? null;
}

function fail(code: 'unauthenticated' | 'forbidden', message: string): never {
  throw new SluiceError(code, message);
}

/** Admin token only. A host credential here is recognised and refused with 403, not 401. */
export function requireAdmin(deps: AppDeps): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const token = bearer(c);
    if (!token) fail('unauthenticated', 'missing bearer token (Authorization: Bearer TOKEN)');
    if (sameSecret(token, deps.adminToken)) {
      c.set('actor', 'admin');
      return next();
    }
    if (sameSecret(token, deps.enrollToken)) fail('forbidden', 'the enrollment token can only enroll agents');
    const host = await deps.store.hostByCredentialHash(hashSecret(token));
    if (host) fail('forbidden', 'a host credential cannot call operator routes');
    fail('unauthenticated', 'invalid token');
  };
}

/** A host credential; the host is taken from it, so a host can only act for itself. */
export function requireHost(deps: AppDeps): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const token = bearer(c);
    if (!token) fail('unauthenticated', 'missing bearer token (Authorization: Bearer CREDENTIAL)');
    const host = await deps.store.hostByCredentialHash(hashSecret(token));
    if (!host) {
      if (sameSecret(token, deps.adminToken)) fail('forbidden', 'the admin token cannot act as a host');
      fail('unauthenticated', 'unknown host credential; enroll again');
    }
    c.set('host', host);
    c.set('actor', `host:${host.name}`);
    return next();
  };
}

export function requireEnrollToken(deps: AppDeps): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const token = bearer(c);
    if (!token) fail('unauthenticated', 'missing bearer token (Authorization: Bearer ENROLLMENT_TOKEN)');
    if (!sameSecret(token, deps.enrollToken)) fail('unauthenticated', 'invalid enrollment token');
    return next();
  };
}

/** Parses a JSON body with a schema; malformed JSON and schema violations are 400s. */
export async function readBody<T extends z.ZodType>(c: Context, schema: T): Promise<z.output<T>> {
  let raw: unknown;
  try {
    raw = await c.req.json();
  } catch {
    throw new ValidationError('request body is not valid JSON');
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

export function createApp(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.use('*', async (c, next) => {
    const started = performance.now();
    await next();
    const route = c.req.routePath || 'unknown';
    deps.metrics.httpRequests.inc({ method: c.req.method, route, status: String(c.res.status) });
    if (route === '/healthz') return;
    const ms = Math.round(performance.now() - started);
    const level = c.res.status >= 500 ? 'error' : route === '/v1/agent/assignments' || route === '/v1/agent/heartbeat' ? 'debug' : 'info';
    deps.log[level]({ method: c.req.method, path: c.req.path, status: c.res.status, ms, actor: c.get('actor') }, 'request');
  });

  app.use(
    '*',
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: (c) => c.json(errorBody(new SluiceError('too_large', `request body is larger than ${MAX_BODY_BYTES} bytes`)), 413),
    }),
  );

  app.onError((err, c) => {
    if (err instanceof SluiceError && isErrorCode(err.code)) {
      return c.json(errorBody(err), httpStatusFor(err.code) as 400);
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

  app.get('/metrics', requireAdmin(deps), async (c) => {
    const text = await deps.metrics.registry.metrics();
    return c.text(text, 200, { 'content-type': deps.metrics.registry.contentType });
  });

  app.get('/v1/openapi.json', requireAdmin(deps), (c) => c.json(buildOpenApi()));

  app.route('/v1/agent', agentRoutes(deps));
  app.route('/v1', driftRoutes(deps)); // before the operator routes: their '*' middleware is admin-only
  app.route('/v1', fleetRoutes(deps)); // paged lists and summaries; each route checks the admin token
  app.route('/v1', operatorRoutes(deps));
  return app;
}

// Who is calling: operators (a role-bearing token), hosts (their credential) and agents enrolling
// (the enrollment token). Every route names the least role it needs with requireRole().
import type { Context, MiddlewareHandler } from 'hono';
import { SluiceError } from '../core/errors.ts';
import { type AppDeps, type AppEnv, requestHeader } from './app.ts';
import { hashSecret, sameSecret } from './tokens.ts';
import { CSRF_HEADER, SESSION_COOKIE, clearedSessionCookie, isStateChanging, overTls, readCookie, sessionsOf } from './session.ts';

/**
 * viewer reads; operator starts and steers rollouts; approver approves waves; admin does all of it
 * and manages tokens, freezes and settings. operator and approver are separate duties: neither
 * implies the other, both imply viewer.
 */
export type Role = 'viewer' | 'operator' | 'approver' | 'admin';
export const ROLES: readonly Role[] = ['viewer', 'operator', 'approver', 'admin'];

/** The operator behind a request: the bootstrap admin token, or a named token. */
export interface Principal {
  /** Who, as the audit log and event log name them: `admin` for the bootstrap token, else the token's name. */
  readonly name: string;
  readonly role: Role;
  /** The named token's id; null for the bootstrap admin token. */
  readonly tokenId: string | null;
}

export function roleAllows(have: Role, need: Role): boolean {
  if (have === 'admin' || need === 'viewer') return true;
  return have === need;
}

export function bearer(c: Context): string | null {
  const header = requestHeader(c, 'authorization');
  if (!header) return null;
  const m = /^Bearer\s+(\S{1,512})$/i.exec(header.trim());
  return m?.[1] ?? null;
}

function fail(code: 'unauthenticated' | 'forbidden', message: string): never {
  throw new SluiceError(code, message);
}

/** The operator a presented token names, or null. The bootstrap admin token is always an admin. */
export async function authenticateOperator(deps: AppDeps, token: string): Promise<Principal | null> {
  if (sameSecret(token, deps.adminToken)) return { name: 'admin', role: 'admin', tokenId: null };
  return null;
}

/**
 * An operator token with at least `need`. A host credential or the enrollment token here is
 * recognised and refused with 403, not 401; a known token without the role is a 403 naming both.
 */
export function requireRole(deps: AppDeps, need: Role): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const token = bearer(c);
    if (!token) {
      // The dashboard: a session cookie instead of a bearer token (sessionPrincipal, below).
      const fromSession = await sessionPrincipal(deps, c);
      if (!fromSession) fail('unauthenticated', 'missing bearer token (Authorization: Bearer TOKEN)');
      if (!roleAllows(fromSession.role, need)) fail('forbidden', `this needs the ${need} role; ${fromSession.name} has ${fromSession.role}`);
      c.set('principal', fromSession);
      c.set('actor', fromSession.name);
      return next();
    }
    const principal = await authenticateOperator(deps, token);
    if (principal) {
      if (!roleAllows(principal.role, need)) fail('forbidden', `this needs the ${need} role; ${principal.name} has ${principal.role}`);
      c.set('principal', principal);
      c.set('actor', principal.name);
      return next();
    }
    if (sameSecret(token, deps.enrollToken)) fail('forbidden', 'the enrollment token can only enroll agents');
    const host = await deps.store.hostByCredentialHash(hashSecret(token));
    if (host) fail('forbidden', 'a host credential cannot call operator routes');
    fail('unauthenticated', 'invalid token');
  };
}

/**
 * The operator behind a dashboard session cookie (session.ts), or null when the request has no
 * session cookie. The session's token is authenticated again (revoked: signed out). A request
 * that changes state must carry the session's CSRF token in X-CSRF-Token (403 otherwise): a
 * cookie is sent by the browser on its own, the header only by the page that was given it.
 */
export async function sessionPrincipal(deps: AppDeps, c: Context): Promise<Principal | null> {
  const id = readCookie(c, SESSION_COOKIE);
  if (id === null) return null;
  const sessions = sessionsOf(deps);
  const session = sessions.get(id);
  if (!session) {
    c.header('set-cookie', clearedSessionCookie(overTls(c)));
    fail('unauthenticated', 'the session has ended; sign in again');
  }
  if (isStateChanging(c.req.method)) {
    const csrf = requestHeader(c, CSRF_HEADER);
    if (!csrf || !sameSecret(csrf, session.csrfToken)) fail('forbidden', `missing or wrong ${CSRF_HEADER} header for this session`);
  }
  const signOut = () => {
    sessions.delete(id);
    c.header('set-cookie', clearedSessionCookie(overTls(c)));
  };
  const principal = await authenticateOperator(deps, session.token).catch((err: unknown) => {
    // A named token revoked or expired since sign-in is refused with its reason: the session ends too.
    if (err instanceof SluiceError && err.code === 'unauthenticated') signOut();
    throw err;
  });
  if (!principal) {
    signOut();
    fail('unauthenticated', 'the token this session was signed in with is no longer valid; sign in again');
  }
  session.principal = principal;
  return principal;
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

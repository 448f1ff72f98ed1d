// Who is calling: operators (a role-bearing token), hosts (their credential) and agents enrolling
// (the enrollment token). Every route names the least role it needs with requireRole().
import type { Context, MiddlewareHandler } from 'hono';
import { SluiceError } from '../core/errors.ts';
import { type AppDeps, type AppEnv, requestHeader } from './app.ts';
import { hashSecret, sameSecret } from './tokens.ts';
import { isLeaderOnly } from './leader/forward.ts';
import { CSRF_HEADER, SESSION_COOKIE, clearedSessionCookie, isStateChanging, overTls, readCookie, sessionsOf } from './session.ts';
import type { ApiTokenRow, Store } from '../store/store.ts';

/**
 * viewer reads; operator starts and steers rollouts; approver approves waves; remediator is an
 * auto-healer asking the remediation guard before it replaces a host; admin does all of it and
 * manages tokens, freezes and settings. operator, approver and remediator are separate duties:
 * none implies another, each implies viewer.
 */
export type Role = 'viewer' | 'operator' | 'approver' | 'remediator' | 'admin';
export const ROLES: readonly Role[] = ['viewer', 'operator', 'approver', 'remediator', 'admin'];

/** The operator behind a request: the bootstrap admin token, or a named token. */
export interface Principal {
  /** Who, as the audit log and event log name them: `admin` for the bootstrap token, else the token's name. */
  readonly name: string;
  /** The person or system the token was issued to (`admin` for the bootstrap token). */
  readonly owner: string;
  readonly role: Role;
  /** The named token's id; null for the bootstrap admin token. */
  readonly tokenId: string | null;
}

export function roleAllows(have: Role, need: Role): boolean {
  if (have === 'admin' || need === 'viewer') return true;
  return have === need;
}

export function bearer(c: Context): string | null {
  return bearerOf(requestHeader(c, 'authorization'));
}

/** The token of an Authorization header (`Bearer TOKEN`), or null. */
export function bearerOf(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^Bearer\s+(\S{1,512})$/i.exec(header.trim());
  return m?.[1] ?? null;
}

function fail(code: 'unauthenticated' | 'forbidden', message: string): never {
  throw new SluiceError(code, message);
}

/** How long a named-token lookup (found or not) is reused: a revocation takes effect within this on every replica. */
export const TOKEN_CACHE_MS = 1000;
/** Entries kept at most; past this the cache starts over (a flood of made-up tokens cannot grow it). */
const TOKEN_CACHE_MAX = 10_000;
/** last_used_at is written at most this often per token. */
const TOUCH_EVERY_MS = 60_000;

interface TokenCache {
  readonly entries: Map<string, { row: ApiTokenRow | null; at: number }>;
  readonly touched: Map<string, number>;
}
const caches = new WeakMap<Store, TokenCache>();

function cacheOf(store: Store): TokenCache {
  let cache = caches.get(store);
  if (!cache) caches.set(store, (cache = { entries: new Map(), touched: new Map() }));
  return cache;
}

/** Drops cached lookups (this replica revoked or created a token: effective at once here). */
export function forgetTokenLookups(store: Store): void {
  cacheOf(store).entries.clear();
}

async function lookupToken(deps: AppDeps, hash: string): Promise<ApiTokenRow | null> {
  const cache = cacheOf(deps.store);
  const now = Date.now(); // wall clock, not deps.now: the TTL bounds real time
  const hit = cache.entries.get(hash);
  if (hit && now - hit.at < TOKEN_CACHE_MS) return hit.row;
  const row = await deps.store.apiTokenByHash(hash);
  if (cache.entries.size >= TOKEN_CACHE_MAX) cache.entries.clear();
  cache.entries.set(hash, { row, at: now });
  return row;
}

/** A named token that exists but is revoked or expired (401); the audit log names the token. */
export class TokenRefusedError extends SluiceError {
  constructor(
    message: string,
    readonly tokenName: string,
  ) {
    super('unauthenticated', message);
    this.name = 'TokenRefusedError';
  }
}

function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * The operator a presented token names, or null when it names none. The bootstrap admin token is
 * always an admin; a named token is looked up by the SHA-256 of its secret. A revoked or expired
 * named token is refused here (401) with a message that says which and when.
 */
export async function authenticateOperator(deps: AppDeps, token: string): Promise<Principal | null> {
  if (sameSecret(token, deps.adminToken)) return { name: 'admin', owner: 'admin', role: 'admin', tokenId: null };
  const row = await lookupToken(deps, hashSecret(token));
  if (!row) return null;
  const now = deps.now();
  if (row.revokedAt !== null && row.revokedAt <= now) {
    throw new TokenRefusedError(`token ${row.name} was revoked at ${isoTime(row.revokedAt)}; ask an admin for a new one`, row.name);
  }
  if (row.expiresAt !== null && row.expiresAt <= now) {
    throw new TokenRefusedError(`token ${row.name} expired at ${isoTime(row.expiresAt)}; ask an admin for a new one`, row.name);
  }
  const touched = cacheOf(deps.store).touched;
  if (now - (touched.get(row.id) ?? 0) >= TOUCH_EVERY_MS) {
    touched.set(row.id, now);
    deps.store.touchApiToken(row.id, now).catch((err: unknown) => deps.log.warn({ tokenName: row.name, err: String(err) }, 'recording a token use failed'));
  }
  return { name: row.name, owner: row.owner, role: row.role, tokenId: row.id };
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
    const principal = await authenticateOperator(deps, token).catch((err: unknown) => {
      if (err instanceof TokenRefusedError) c.set('actor', err.tokenName); // audited under the token's name
      throw err;
    });
    if (principal) {
      // Set before the role check: a refusal is audited under the principal's name (no handler runs).
      c.set('principal', principal);
      c.set('actor', principal.name);
      if (!roleAllows(principal.role, need)) fail('forbidden', `this needs the ${need} role; ${principal.name} has ${principal.role}`);
      return next();
    }
    if (sameSecret(token, deps.enrollToken)) fail('forbidden', 'the enrollment token can only enroll agents');
    if (await deps.store.usableEnrollToken(hashSecret(token), deps.now())) fail('forbidden', 'an enrollment token can only enroll agents');
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

/**
 * Replicas: a leader-only change (forward.ts) made by the dashboard on a follower carries a
 * session cookie, which only this replica knows. The session and its CSRF token are checked here
 * (401/403 as in requireRole) and the request goes on to the leader with the session's token as
 * its bearer token; the leader authenticates that as usual.
 */
export function sessionForForward(deps: AppDeps): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (!isLeaderOnly(c.req.method, c.req.path) || bearer(c) !== null) return next();
    const id = readCookie(c, SESSION_COOKIE);
    if (id === null || !(await sessionPrincipal(deps, c))) return next();
    const session = sessionsOf(deps).get(id);
    if (session) c.req.raw.headers.set('authorization', `Bearer ${session.token}`);
    return next();
  };
}

/**
 * A host credential; the host is taken from it, so a host can only act for itself. The previous
 * credential of a rotation is accepted within its grace; the first use of the new one ends it.
 */
export function requireHost(deps: AppDeps): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const token = bearer(c);
    if (!token) fail('unauthenticated', 'missing bearer token (Authorization: Bearer CREDENTIAL)');
    const hash = hashSecret(token);
    const host = await deps.store.hostByCredentialHash(hash);
    if (!host) {
      if (sameSecret(token, deps.adminToken)) fail('forbidden', 'the admin token cannot act as a host');
      if (await lookupToken(deps, hashSecret(token))) fail('forbidden', 'an operator token cannot act as a host');
      fail('unauthenticated', 'unknown host credential; enroll again');
    }
    if (host.rotationPending) await deps.store.confirmHostCredential(host.name, hash);
    c.set('host', host);
    c.set('credentialHash', hash);
    c.set('actor', `host:${host.name}`);
    return next();
  };
}

/** The bootstrap enrollment token, or a scoped one still usable (its use is taken when the host is written). */
export function requireEnrollToken(deps: AppDeps): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const token = bearer(c);
    if (!token) fail('unauthenticated', 'missing bearer token (Authorization: Bearer ENROLLMENT_TOKEN)');
    if (sameSecret(token, deps.enrollToken)) {
      c.set('enrollToken', null);
      c.set('actor', 'enroll:bootstrap');
      return next();
    }
    const scoped = await deps.store.usableEnrollToken(hashSecret(token), deps.now());
    if (!scoped) fail('unauthenticated', 'invalid enrollment token (unknown, expired, used up or revoked)');
    c.set('enrollToken', scoped);
    c.set('actor', `enroll:${scoped.name}`);
    return next();
  };
}

// Dashboard sessions: signing in with a token (POST /ui/session) gives the browser an opaque
// session id in an HttpOnly, SameSite=Strict cookie (Secure over TLS) and the page a CSRF token.
// Sessions live in this process's memory and expire (idle and absolute); a restart signs everyone
// out. The token a session was made with is kept (in memory only) and authenticated again on each
// request (auth.ts sessionPrincipal), so a revoked token or a changed role takes effect at once.
import { randomBytes } from 'node:crypto';
import type { Context } from 'hono';
import type { Principal } from './auth.ts';
import { nodeRequest, requestHeader } from './app.ts';

export const SESSION_COOKIE = 'sluice_session';
export const CSRF_HEADER = 'x-csrf-token';
/** A session unused for this long ends. */
export const SESSION_IDLE_MS = 60 * 60 * 1000;
/** ... and any session ends this long after sign-in. */
export const SESSION_MAX_MS = 12 * 60 * 60 * 1000;
/** Most live sessions; past it the least recently used one ends. */
export const MAX_SESSIONS = 10_000;

export interface Session {
  readonly id: string;
  readonly csrfToken: string;
  /** The token signed in with: authenticated again on every request; never logged or sent back. */
  readonly token: string;
  principal: Principal;
  readonly createdAt: number;
  lastUsedAt: number;
}

export class SessionStore {
  private readonly sessions = new Map<string, Session>();
  constructor(
    private readonly now: () => number = Date.now,
    readonly idleMs = SESSION_IDLE_MS,
    readonly maxAgeMs = SESSION_MAX_MS,
    private readonly max = MAX_SESSIONS,
  ) {}

  create(token: string, principal: Principal): Session {
    const t = this.now();
    const session: Session = { id: randomBytes(32).toString('base64url'), csrfToken: randomBytes(32).toString('base64url'), token, principal, createdAt: t, lastUsedAt: t };
    this.sessions.set(session.id, session);
    this.prune();
    return session;
  }

  /** The live session with this id (its idle timer restarts), or null. */
  get(id: string): Session | null {
    const s = this.sessions.get(id);
    if (!s) return null;
    const t = this.now();
    if (this.expired(s, t)) {
      this.sessions.delete(id);
      return null;
    }
    s.lastUsedAt = t;
    // Map order is insertion order: re-insert so the least recently used session comes first.
    this.sessions.delete(id);
    this.sessions.set(id, s);
    return s;
  }

  delete(id: string): void {
    this.sessions.delete(id);
  }

  /** When the session ends if unused from now. */
  expiresAt(s: Session): number {
    return Math.min(s.lastUsedAt + this.idleMs, s.createdAt + this.maxAgeMs);
  }

  size(): number {
    return this.sessions.size;
  }

  private expired(s: Session, t: number): boolean {
    return t >= this.expiresAt(s);
  }

  private prune(): void {
    const t = this.now();
    for (const [id, s] of this.sessions) if (this.expired(s, t)) this.sessions.delete(id);
    while (this.sessions.size > this.max) this.sessions.delete(this.sessions.keys().next().value as string);
  }
}

const stores = new WeakMap<object, SessionStore>();

/** The session store of one app (one per createApp deps object, made on first use). */
export function sessionsOf(deps: object): SessionStore {
  let s = stores.get(deps);
  if (!s) stores.set(deps, (s = new SessionStore()));
  return s;
}

/** Whether the request came over TLS (the cookie is then Secure). */
export function overTls(c: Context): boolean {
  const node = nodeRequest(c);
  if (node) return (node.incoming.socket as { encrypted?: boolean }).encrypted === true;
  return new URL(c.req.url).protocol === 'https:';
}

export function readCookie(c: Context, name: string): string | null {
  const header = requestHeader(c, 'cookie');
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      const v = part.slice(eq + 1).trim();
      return /^[A-Za-z0-9_-]{1,128}$/.test(v) ? v : null;
    }
  }
  return null;
}

export function sessionCookie(id: string, secure: boolean, maxAgeS: number): string {
  return `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeS}${secure ? '; Secure' : ''}`;
}

export function clearedSessionCookie(secure: boolean): string {
  return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0${secure ? '; Secure' : ''}`;
}

/** GET, HEAD and OPTIONS change nothing; everything else needs the CSRF header with a cookie. */
export function isStateChanging(method: string): boolean {
  return method !== 'GET' && method !== 'HEAD' && method !== 'OPTIONS';
}

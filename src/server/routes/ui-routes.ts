// The dashboard (issue 11), served by `sluice server` itself under /ui/: a fixed set of built
// files from dist/web (scripts/build.mjs bundles src/web), with a Content-Security-Policy that
// allows no inline script, and the session routes: POST /ui/session signs in with a token (JSON
// or a form), GET /ui/session says who is signed in (and gives the page its CSRF token),
// DELETE /ui/session signs out. The page calls the same /v1 API as the CLI, with the cookie.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Hono, type Context } from 'hono';
import { z } from 'zod';
import { SluiceError } from '../../core/errors.ts';
import { type AppDeps, type AppEnv, readBody, requestHeader } from '../app.ts';
import { authenticateOperator, requireRole, sessionPrincipal } from '../auth.ts';
import { simulationReport } from './dashboard-routes.ts';
import { sourceOf, type RateLimiter } from '../rate-limit.ts';
import { SESSION_COOKIE, clearedSessionCookie, overTls, readCookie, sessionCookie, sessionsOf, type Session } from '../session.ts';

export const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "frame-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/** A simulator report: its own inline styles and SVG, no script at all; framed by the dashboard only. */
export const REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'; base-uri 'none'; form-action 'none'";

/** Every file the dashboard has: URL path under /ui/ -> file in dist/web and its type. */
const ASSETS: Record<string, { file: string; type: string }> = {
  '': { file: 'index.html', type: 'text/html; charset=utf-8' },
  'app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  'app.css': { file: 'app.css', type: 'text/css; charset=utf-8' },
  'favicon.svg': { file: 'favicon.svg', type: 'image/svg+xml' },
};

/** dist/web: next to dist/cli when running the build, or the repository's dist/ from source (tests). */
function webDir(): string | null {
  for (const rel of ['../../web/', '../../../dist/web/']) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(`${dir}app.js`)) return dir; // src/web (the sources) has index.html but no app.js
  }
  return null;
}

interface Loaded {
  readonly body: Buffer;
  readonly etag: string;
}

function securityHeaders(c: Context): void {
  c.header('content-security-policy', CSP);
  c.header('x-content-type-options', 'nosniff');
  c.header('referrer-policy', 'no-referrer');
  c.header('x-frame-options', 'DENY');
}

const signInBody = z.strictObject({ token: z.string().min(1).max(512) });

/** A sign-in from another site (a form posted cross-origin) is refused: login CSRF. */
function sameOrigin(c: Context): boolean {
  const site = requestHeader(c, 'sec-fetch-site');
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return false;
  const origin = requestHeader(c, 'origin');
  if (origin === undefined || origin === 'null') return origin === undefined;
  try {
    return new URL(origin).host === requestHeader(c, 'host');
  } catch {
    return false;
  }
}

/** `limiter`: the app's failed-authentication limit, which a token in a sign-in body spends like a bearer token. */
export function uiRoutes(deps: AppDeps, limiter?: RateLimiter): Hono<AppEnv> {
  const r = new Hono<AppEnv>();
  const sessions = sessionsOf(deps);
  const cache = new Map<string, Loaded>();
  let dir: string | null | undefined;
  const limited = limiter !== undefined && deps.rateLimits?.enabled !== false && deps.rateLimits?.failedAuth !== null;

  function load(file: string): Loaded | null {
    const hit = cache.get(file);
    if (hit) return hit;
    if (dir === undefined || dir === null) dir = webDir();
    if (dir === null || !existsSync(dir + file)) return null;
    const body = readFileSync(dir + file);
    const loaded = { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` };
    cache.set(file, loaded);
    return loaded;
  }

  r.get('/ui', (c) => c.redirect('/ui/', 301));

  const serve = (c: Context<AppEnv>, name: string) => {
    const asset = ASSETS[name];
    if (!asset) return c.json({ error: { code: 'not_found', message: `no dashboard file ${c.req.path}` } }, 404);
    securityHeaders(c);
    const loaded = load(asset.file);
    if (!loaded) return c.text('the dashboard is not built: run `npm run build`', 503);
    // Names are fixed (not content-hashed): the browser revalidates every time, cheaply (304).
    c.header('cache-control', 'no-cache');
    c.header('etag', loaded.etag);
    if (requestHeader(c, 'if-none-match') === loaded.etag) return c.body(null, 304);
    c.header('content-type', asset.type);
    return c.body(new Uint8Array(loaded.body));
  };
  r.get('/ui/', (c) => serve(c, ''));
  r.get('/ui/:asset{[a-z]+\\.[a-z]+}', (c) => serve(c, c.req.param('asset')));

  function sessionAnswer(s: Session): Record<string, unknown> {
    return { name: s.principal.name, role: s.principal.role, csrfToken: s.csrfToken, expiresAt: sessions.expiresAt(s) };
  }

  r.post('/ui/session', async (c) => {
    securityHeaders(c);
    c.header('cache-control', 'no-store');
    if (!sameOrigin(c)) throw new SluiceError('forbidden', 'sign-in from another site is refused');
    const form = (requestHeader(c, 'content-type') ?? '').startsWith('application/x-www-form-urlencoded');
    let token: string;
    if (form) {
      const parsed = signInBody.safeParse({ token: (await c.req.parseBody())['token'] });
      if (!parsed.success) return c.redirect('/ui/#signin=invalid', 303);
      token = parsed.data.token.trim();
    } else {
      token = (await readBody(c, signInBody)).token.trim();
    }
    // The same limit on guessing as a bearer token (rate-limit.ts): 429 while this address is throttled.
    const source = sourceOf(c);
    const wait = limited ? limiter!.failedAuth.retryAfter(source) : 0;
    if (wait > 0) {
      c.header('retry-after', String(wait));
      return c.json({ error: { code: 'rate_limited', message: `too many failed authentications from this address; retry after ${wait} s` } }, 429);
    }
    const principal = await authenticateOperator(deps, token).catch((err: unknown) => {
      if (limited && err instanceof SluiceError && err.code === 'unauthenticated') limiter!.failedAuth.charge(source);
      throw err;
    });
    if (!principal) {
      if (limited) limiter!.failedAuth.charge(source);
      deps.log.info({ source }, 'dashboard sign-in refused');
      if (form) return c.redirect('/ui/#signin=refused', 303);
      throw new SluiceError('unauthenticated', 'that token is not valid');
    }
    // A previous session of this browser ends: no session fixation.
    const previous = readCookie(c, SESSION_COOKIE);
    if (previous) sessions.delete(previous);
    const s = sessions.create(token, principal);
    c.set('principal', principal); // the audit entry names who signed in
    c.set('actor', principal.name);
    c.header('set-cookie', sessionCookie(s.id, overTls(c), Math.floor(sessions.maxAgeMs / 1000)));
    deps.log.info({ actor: principal.name, role: principal.role }, 'dashboard sign-in');
    if (form) return c.redirect('/ui/', 303);
    return c.json(sessionAnswer(s), 201);
  });

  // Who is signed in: 200 either way (a page asking is not an error), with the CSRF token.
  r.get('/ui/session', async (c) => {
    securityHeaders(c);
    c.header('cache-control', 'no-store');
    const id = readCookie(c, SESSION_COOKIE);
    let principal = null;
    try {
      principal = await sessionPrincipal(deps, c);
    } catch (err) {
      if (!(err instanceof SluiceError && err.code === 'unauthenticated')) throw err;
    }
    const s = principal && id ? sessions.get(id) : null;
    if (!s) return c.json({ signedIn: false });
    return c.json({ signedIn: true, ...sessionAnswer(s) });
  });

  r.delete('/ui/session', async (c) => {
    securityHeaders(c);
    c.header('cache-control', 'no-store');
    const principal = await sessionPrincipal(deps, c); // a sign-out needs the CSRF header too
    const id = readCookie(c, SESSION_COOKIE);
    if (principal && id) {
      sessions.delete(id);
      c.set('principal', principal);
      c.set('actor', principal.name);
    }
    c.header('set-cookie', clearedSessionCookie(overTls(c)));
    return c.json({ signedOut: true });
  });

  // A simulator report made by POST /v1/plans/simulate, for the rehearse page's frame (viewer).
  r.get('/ui/reports/:id', requireRole(deps, 'viewer'), (c) => {
    const html = /^[0-9a-f]{24}$/.test(c.req.param('id')) ? simulationReport(c.req.param('id'), deps.now()) : null;
    if (html === null) throw new SluiceError('not_found', 'no such report here (reports are kept for an hour, on the server that made them)');
    c.header('content-security-policy', REPORT_CSP);
    c.header('x-content-type-options', 'nosniff');
    c.header('cache-control', 'private, no-store');
    return c.html(html);
  });

  return r;
}

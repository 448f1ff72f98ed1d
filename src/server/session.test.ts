// Dashboard sessions (session.ts, auth.ts sessionPrincipal, routes/ui-routes.ts) on the app alone
// (app.request, no socket): cookie flags, CSRF on every cookie-authenticated change, bearer
// requests untouched, expiry, sign-out, and sign-in from another site refused.
import { describe, expect, it } from 'vitest';
import { createApp, type AppDeps } from './app.ts';
import { silentLogger } from './logger.ts';
import { createServerMetrics } from './metrics.ts';
import { SessionStore, sessionsOf } from './session.ts';
import type { Store } from '../store/store.ts';
import type { Principal } from './auth.ts';

const ADMIN = 'sla_session_test_admin_token_0123';

function makeApp() {
  // Only what these routes read; any other store method answers nothing (null).
  const known: Record<string, unknown> = { listRollouts: async () => [], rolloutsByIdPrefix: async () => [] };
  const store = new Proxy(known, { get: (t, k) => (typeof k === 'string' && k in t ? t[k] : async () => null) }) as unknown as Store;
  const deps: AppDeps = {
    store,
    driver: {} as AppDeps['driver'],
    hub: {} as AppDeps['hub'],
    log: silentLogger(),
    metrics: createServerMetrics(store, 15_000, Date.now),
    adminToken: ADMIN,
    enrollToken: 'sle_session_test_enroll_token_0123',
    heartbeatMs: 5000,
    now: Date.now,
  };
  return { app: createApp(deps), deps };
}

async function signIn(app: ReturnType<typeof makeApp>['app'], base = 'http://127.0.0.1') {
  const res = await app.request(`${base}/ui/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: ADMIN }) });
  expect(res.status).toBe(201);
  const cookie = res.headers.get('set-cookie')!;
  const body = (await res.json()) as { csrfToken: string; role: string; name: string };
  return { cookie, id: /sluice_session=([^;]+)/.exec(cookie)![1]!, csrf: body.csrfToken, body };
}

describe('dashboard sessions', () => {
  it('a sign-in sets an HttpOnly, SameSite=Strict cookie, Secure only over TLS; a bad token is a 401', async () => {
    const { app } = makeApp();
    const plain = await signIn(app);
    expect(plain.cookie).toMatch(/HttpOnly/);
    expect(plain.cookie).toMatch(/SameSite=Strict/);
    expect(plain.cookie).not.toMatch(/Secure/);
    expect(plain.body).toMatchObject({ name: 'admin', role: 'admin' });
    const tls = await signIn(app, 'https://sluice.example');
    expect(tls.cookie).toMatch(/; Secure/);
    const bad = await app.request('/ui/session', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: 'sla_wrong' }) });
    expect(bad.status).toBe(401);
    expect(bad.headers.get('set-cookie')).toBeNull();
  });

  it('wrong tokens at sign-in spend the failed-authentication limit (429 with Retry-After), like bearer tokens', async () => {
    const { app } = makeApp();
    const attempt = () => app.request('/ui/session', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: 'sla_guess' }) });
    for (let i = 0; i < 20; i++) expect((await attempt()).status).toBe(401);
    const throttled = await attempt();
    expect(throttled.status).toBe(429);
    expect(Number(throttled.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('a form sign-in redirects to the page; one posted from another site is refused', async () => {
    const { app } = makeApp();
    const form = await app.request('http://127.0.0.1/ui/session', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', host: '127.0.0.1' }, body: `token=${ADMIN}` });
    expect(form.status).toBe(303);
    expect(form.headers.get('location')).toBe('/ui/');
    expect(form.headers.get('set-cookie')).toMatch(/sluice_session=/);
    const cross = await app.request('http://127.0.0.1/ui/session', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example', host: '127.0.0.1' },
      body: `token=${ADMIN}`,
    });
    expect(cross.status).toBe(403);
    expect(cross.headers.get('set-cookie')).toBeNull();
  });

  it('the cookie authenticates reads; a change needs X-CSRF-Token equal to the session\'s (403 otherwise); a bearer token needs none', async () => {
    const { app } = makeApp();
    const s = await signIn(app);
    const cookie = `sluice_session=${s.id}`;
    expect((await app.request('/v1/rollouts', { headers: { cookie } })).status).toBe(200);
    const none = await app.request('/v1/rollouts/r_x/pause', { method: 'POST', headers: { cookie } });
    expect(none.status).toBe(403);
    expect(((await none.json()) as any).error.message).toMatch(/x-csrf-token/);
    expect((await app.request('/v1/rollouts/r_x/pause', { method: 'POST', headers: { cookie, 'x-csrf-token': 'wrong' } })).status).toBe(403);
    // Past CSRF and the role check: the rollout does not exist.
    expect((await app.request('/v1/rollouts/r_x/pause', { method: 'POST', headers: { cookie, 'x-csrf-token': s.csrf } })).status).toBe(404);
    expect((await app.request('/v1/rollouts/r_x/pause', { method: 'POST', headers: { authorization: `Bearer ${ADMIN}` } })).status).toBe(404);
    // A forged or unknown session id is no session.
    expect((await app.request('/v1/rollouts', { headers: { cookie: 'sluice_session=forged' } })).status).toBe(401);
  });

  it('GET /ui/session gives the page its CSRF token, or says signed out; sign-out needs the header and ends the session', async () => {
    const { app } = makeApp();
    expect(await (await app.request('/ui/session')).json()).toEqual({ signedIn: false });
    const s = await signIn(app);
    const cookie = `sluice_session=${s.id}`;
    expect(await (await app.request('/ui/session', { headers: { cookie } })).json()).toMatchObject({ signedIn: true, role: 'admin', csrfToken: s.csrf });
    expect((await app.request('/ui/session', { method: 'DELETE', headers: { cookie } })).status).toBe(403);
    const out = await app.request('/ui/session', { method: 'DELETE', headers: { cookie, 'x-csrf-token': s.csrf } });
    expect(out.status).toBe(200);
    expect(out.headers.get('set-cookie')).toMatch(/Max-Age=0/);
    expect((await app.request('/v1/rollouts', { headers: { cookie } })).status).toBe(401);
  });

  it('a session whose token stops authenticating ends at its next request', async () => {
    const { app, deps } = makeApp();
    const s = await signIn(app);
    const session = sessionsOf(deps).get(s.id)!;
    (session as { token: string }).token = 'sla_revoked'; // as a revoked named token would be
    expect((await app.request('/v1/rollouts', { headers: { cookie: `sluice_session=${s.id}` } })).status).toBe(401);
    expect(sessionsOf(deps).get(s.id)).toBeNull();
  });

  it('the page and its assets carry a CSP without inline script, and revalidate by ETag', async () => {
    const { app } = makeApp();
    const page = await app.request('/ui/');
    if (page.status === 503) return; // dist/web not built (the global test setup builds it)
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(page.headers.get('content-security-policy')).toMatch(/script-src 'self';/);
    expect(page.headers.get('content-security-policy')).not.toMatch(/unsafe-inline/);
    const js = await app.request('/ui/app.js');
    expect(js.headers.get('content-type')).toMatch(/text\/javascript/);
    const again = await app.request('/ui/app.js', { headers: { 'if-none-match': js.headers.get('etag')! } });
    expect(again.status).toBe(304);
    expect((await app.request('/ui/secret.txt')).status).toBe(404);
    expect((await app.request('/ui/..%2Fpackage.json')).status).toBe(404);
  });
});

describe('SessionStore', () => {
  it('ends a session when idle too long, and any session past its maximum age', () => {
    let t = 0;
    const store = new SessionStore(() => t, 1000, 5000, 100);
    const p = { name: 'admin', role: 'admin' as const, tokenId: null } as Principal;
    const a = store.create('tok', p);
    t = 900;
    expect(store.get(a.id)).not.toBeNull(); // used: the idle timer restarts
    t = 1800;
    expect(store.get(a.id)).not.toBeNull();
    t = 2900;
    expect(store.get(a.id)).toBeNull(); // idle 1100 ms
    const b = store.create('tok', p);
    for (t = 3000; t < 8000; t += 500) store.get(b.id);
    expect(store.get(b.id)).toBeNull(); // older than 5000 ms, however busy
  });

  it('keeps at most `max` sessions, dropping the least recently used', () => {
    const store = new SessionStore(() => 0, 1000, 5000, 2);
    const p = { name: 'admin', role: 'admin' as const, tokenId: null } as Principal;
    const a = store.create('tok', p);
    const b = store.create('tok', p);
    store.get(a.id);
    store.create('tok', p);
    expect(store.size()).toBe(2);
    expect(store.get(b.id)).toBeNull();
    expect(store.get(a.id)).not.toBeNull();
  });
});

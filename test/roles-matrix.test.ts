// Every operation in the OpenAPI document, called with each role's token and with none: the roles
// it names in x-sluice-role (and the roles above them) get past authorisation, the others get 403,
// no token 401. The list comes from the document, and every route the app registers must be in
// it, so a new route without a role (or missing from the document) fails here.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../src/server/start-server.ts';
import { silentLogger } from '../src/server/logger.ts';
import { buildOpenApi } from '../src/server/openapi.ts';
import { createApp, type AppDeps } from '../src/server/app.ts';
import { ROLES, roleAllows, type Role } from '../src/server/auth.ts';

type Operation = { method: string; path: string; role: string };

const OTHER_CALLERS = ['host', 'enrollment', 'none'];

function operations(): Operation[] {
  const doc = buildOpenApi() as { paths: Record<string, Record<string, Record<string, unknown>>> };
  const out: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      out.push({ method: method.toUpperCase(), path, role: String(op['x-sluice-role'] ?? '(missing)') });
    }
  }
  return out;
}

/** A concrete URL for a documented path: parameters name things that do not exist (404 at most). */
function concrete(path: string): string {
  return path.replace('{id}', 'r_nosuchrollout').replace('{name}', 'no-such-token');
}

let server: RunningServer;
const tokens = new Map<Role, string>();

async function call(method: string, path: string, token?: string): Promise<number> {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  let body: string | undefined;
  if (method !== 'GET') {
    headers['content-type'] = 'application/json';
    body = '{}'; // never a valid body: an allowed caller gets a 400/404, nothing changes
  }
  const sep = path.includes('?') ? '&' : '?';
  // waitMs=0: a long-poll answers at once
  const url = server.url + concrete(path) + (path === '/v1/agent/assignments' ? `${sep}waitMs=0` : '');
  const res = await fetch(url, { method, headers, ...(body !== undefined ? { body } : {}) });
  await res.arrayBuffer();
  return res.status;
}

beforeAll(async () => {
  // Every operation is called with a made-up token: far past the failed-authentication limit
  // (test/host-identity.test.ts tests that limit); here 401 must stay 401.
  server = await startServer({ listen: '127.0.0.1:0', memory: true, log: silentLogger(), tickMs: 1000, rateLimits: { failedAuth: null } });
  for (const role of ROLES) {
    const res = await fetch(`${server.url}/v1/tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: `matrix-${role}`, owner: `owner-${role}`, role }),
    });
    expect(res.status).toBe(201);
    tokens.set(role, ((await res.json()) as { secret: string }).secret);
  }
});

afterAll(async () => {
  await server?.close();
});

describe('the OpenAPI document', () => {
  it('names a role for every operation', () => {
    const ops = operations();
    expect(ops.length).toBeGreaterThan(20);
    const bad = ops.filter((op) => !(ROLES as readonly string[]).includes(op.role) && !OTHER_CALLERS.includes(op.role));
    expect(bad).toEqual([]);
  });

  it('has every route the app registers, and nothing the app does not serve', () => {
    // Only route registration happens here; no handler runs, so the deps are never touched.
    const app = createApp({} as AppDeps);
    const registered = new Set(
      app.routes
        // /ui/*: the dashboard's pages and sign-in, not API (docs/dashboard.md; tested in src/server/session.test.ts)
        .filter((r) => r.method !== 'ALL' && r.path !== '/ui' && !r.path.startsWith('/ui/'))
        .map((r) => `${r.method} ${r.path.replace(/:([A-Za-z]+)/g, '{$1}')}`),
    );
    const documented = new Set(operations().map((op) => `${op.method} ${op.path}`));
    expect([...registered].filter((r) => !documented.has(r)).sort()).toEqual([]);
    expect([...documented].filter((d) => !registered.has(d)).sort()).toEqual([]);
  });
});

describe('every operation, every role', () => {
  const ops = operations();
  for (const op of ops) {
    if (op.role === 'none') {
      it(`${op.method} ${op.path} needs no token`, async () => {
        expect(await call(op.method, op.path)).toBe(200);
      });
      continue;
    }
    it(`${op.method} ${op.path} (${op.role})`, async () => {
      const got: Record<string, number> = { none: await call(op.method, op.path), bogus: await call(op.method, op.path, 'slt_not-a-real-token-at-all') };
      for (const role of ROLES) got[role] = await call(op.method, op.path, tokens.get(role));
      got.bootstrapAdmin = await call(op.method, op.path, server.adminToken);

      const want: Record<string, number | 'allowed'> = { none: 401, bogus: 401 };
      for (const role of ROLES) {
        if (op.role === 'host' || op.role === 'enrollment') want[role] = 403; // an operator token is recognised, and refused
        else want[role] = roleAllows(role, op.role as Role) ? 'allowed' : 403;
      }
      want.bootstrapAdmin = op.role === 'host' || op.role === 'enrollment' ? 403 : 'allowed';
      if (op.role === 'enrollment') {
        // the enrollment route only knows its one token: any other is simply not it
        for (const k of [...ROLES, 'bootstrapAdmin']) want[k] = 401;
      }
      const seen = Object.fromEntries(Object.entries(got).map(([k, v]) => [k, want[k] === 'allowed' && v !== 401 && v !== 403 ? 'allowed' : v]));
      expect(seen).toEqual(want);
    });
  }
});

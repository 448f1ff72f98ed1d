// The API routes the dashboard adds (routes/dashboard-routes.ts) on an in-process server with a
// fleet written to the store: topology counts (online, in a rollout, failing, drifting) per
// cell, one host with its steps, and the live rollout stream (server-sent events).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../src/server/start-server.ts';
import { silentLogger } from '../src/server/logger.ts';
import { HOSTS, hostName, seedHosts, seedRollout } from './helpers/fleet-seed.ts';
import { postgresTestDatabase, type PostgresTestDatabase } from './helpers/postgres.ts';
import { streamTiming } from '../src/server/routes/dashboard-routes.ts';

/** Reads a server-sent event stream until `until` matches what arrived (or 5 s pass). */
async function readUntil(res: Response, until: RegExp): Promise<string> {
  const reader = res.body!.getReader();
  let text = '';
  const deadline = Date.now() + 5000;
  while (!until.test(text) && Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  await reader.cancel().catch(() => {});
  return text;
}

function runDashboardApi(title: string, start: () => Promise<{ server: RunningServer; cleanup: () => Promise<void> }>): void {
  describe(title, () => {
    let server: RunningServer;
    let cleanup: () => Promise<void> = async () => {};
    const get = async (path: string) => {
      const res = await fetch(server.url + path, { headers: { authorization: `Bearer ${server.adminToken}` } });
      return { status: res.status, body: (await res.json()) as any };
    };

    beforeAll(async () => {
      ({ server, cleanup } = await start());
      await seedHosts(server);
      // Hosts 1..9 in a running rollout, 1 and 2 failed there; host 3 has open drift.
      await seedRollout(server, 'r_dash_topo', Array.from({ length: 10 }, (_, i) => hostName(i)), (i) => (i <= 2 ? 'failed' : 'applying'));
      await server.store.recordDrift(hostName(3), { events: [{ id: 'ev-1', kind: 'package', subject: 'openssl', message: 'changed outside a rollout', at: Date.now(), open: true, data: null }], resolved: [] }, Date.now());
    });
    afterAll(async () => {
      await server?.close();
      await cleanup();
    });

    it('GET /v1/fleet/topology: counts per cell, never hosts', async () => {
      const { status, body } = await get('/v1/fleet/topology?levels=env,zone');
      expect(status).toBe(200);
      expect(body.levels).toEqual(['env', 'zone']);
      expect(body.total).toBe(HOSTS);
      expect(body.cells).toHaveLength(6);
      expect(body.inRollout).toBe(10);
      expect(body.failing).toBe(2);
      expect(body.drifting).toBe(1);
      expect(body.online).toBe(HOSTS - Math.ceil(HOSTS / 5));
      const cell = body.cells.find((c: any) => c.labels.env === 'prod' && c.labels.zone === 'a');
      expect(cell).toMatchObject({ total: 22, offline: expect.any(Number) });
      expect(JSON.stringify(body)).not.toContain(hostName(5));
      const filtered = await get('/v1/fleet/topology?levels=zone&label=env=staging');
      expect(filtered.body.total).toBe(HOSTS / 2);
      expect((await get('/v1/fleet/topology?levels=a,a')).status).toBe(400);
      expect((await get('/v1/fleet/topology?levls=zone')).status).toBe(400);
      // The default levels (provider, region, zone, cluster): labels a host lacks are null.
      const dflt = await get('/v1/fleet/topology');
      expect(dflt.body.cells.map((c: any) => c.labels)).toEqual(['a', 'b', 'c'].map((zone) => ({ provider: null, region: null, zone, cluster: null })));
    });

    it('GET /v1/hosts/:name: the host and its steps across rollouts; unknown is a 404', async () => {
      const { status, body } = await get(`/v1/hosts/${hostName(1)}`);
      expect(status).toBe(200);
      expect(body).toMatchObject({ name: hostName(1), labels: { zone: 'b' }, steps: [{ rolloutId: 'r_dash_topo', state: 'failed', waveIndex: 1, wave: 'rest' }] });
      expect((await get('/v1/hosts/nope')).status).toBe(404);
      expect((await get('/v1/hosts/summary')).body).toHaveProperty('total'); // still fleet-routes' summary
    });

    it('a new stream starts from the latest 500 event-log lines, not the oldest', async () => {
      await seedRollout(server, 'r_dash_log', [hostName(20), hostName(21)], () => 'applying');
      const lines = Array.from({ length: 620 }, (_, i) => ({ type: 'log' as const, kind: 'test.line', message: `line ${i}` }));
      await server.store.persistTransition({ rolloutId: 'r_dash_log', at: Date.now(), event: null, effects: lines });
      const ac = new AbortController();
      const res = await fetch(`${server.url}/v1/rollouts/r_dash_log/stream`, { headers: { authorization: `Bearer ${server.adminToken}` }, signal: ac.signal });
      const text = await readUntil(res, /event: events\ndata: .*\nid: \d+/);
      ac.abort();
      const batch = JSON.parse(/event: events\ndata: (.*)\n/.exec(text)![1]!) as { message: string }[];
      expect(batch).toHaveLength(500);
      expect(batch.at(-1)!.message).toBe('line 619');
      expect(batch[0]!.message).toBe('line 120');
    });

    it('a stream opened with a session cookie ends ("signedout") once the session does', async () => {
      streamTiming.reauthMs = 200;
      try {
        const signIn = await fetch(`${server.url}/ui/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: server.adminToken }) });
        const cookie = /sluice_session=[^;]+/.exec(signIn.headers.get('set-cookie')!)![0];
        const { csrfToken } = (await signIn.json()) as { csrfToken: string };
        const res = await fetch(`${server.url}/v1/rollouts/r_dash_topo/stream`, { headers: { cookie } });
        expect(res.status).toBe(200);
        const out = await fetch(`${server.url}/ui/session`, { method: 'DELETE', headers: { cookie, 'x-csrf-token': csrfToken } });
        expect(out.status).toBe(200);
        expect(await readUntil(res, /event: signedout/)).toMatch(/event: signedout/);
        // Sign-in and sign-out are in the audit log, under who signed in; the token is not.
        const audit = (await get('/v1/audit?limit=1000')).body.entries as any[];
        expect(audit.filter((e) => e.action.startsWith('dashboard.')).map((e) => [e.action, e.actor, e.result])).toEqual([
          ['dashboard.signin', 'admin', 'ok'],
          ['dashboard.signout', 'admin', 'ok'],
        ]);
        expect(JSON.stringify(audit)).not.toContain(server.adminToken);
      } finally {
        streamTiming.reauthMs = 30_000;
      }
    });

    it('GET /v1/updates/plan: the staged plan for pending security updates; nothing pending is said, not an error', async () => {
      const now = Date.now();
      for (const name of ['patch-1', 'patch-2']) {
        await server.store.enrollHost({
          name,
          labels: { role: 'patchme', zone: 'a' },
          facts: {
            allow: ['apt'],
            packages: { openssl: '3.0.2-0ubuntu1.10' },
            pendingUpdates: { checkedAt: now, updates: [{ package: 'openssl', installed: '3.0.2-0ubuntu1.10', candidate: '3.0.2-0ubuntu1.12', security: true }] },
          },
          credentialHash: `hash-${name}-${now}`,
          now,
        });
      }
      const { status, body } = await get('/v1/updates/plan?label=role=patchme&name=openssl-now');
      expect(status).toBe(200);
      expect(body).toMatchObject({ hosts: 2, packages: { openssl: '3.0.2-0ubuntu1.12' } });
      expect(body.yaml).toMatch(/^name: openssl-now$/m);
      const preview = await fetch(`${server.url}/v1/rollouts/preview`, {
        method: 'POST',
        headers: { authorization: `Bearer ${server.adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ plan: body.yaml }),
      });
      expect(preview.status).toBe(200);
      expect(((await preview.json()) as any).targeted).toBe(2);
      const none = await get('/v1/updates/plan?label=role=web');
      expect(none.status).toBe(200);
      expect(none.body).toMatchObject({ yaml: null, message: expect.stringMatching(/no security updates pending/) });
    });

    it('POST /v1/plans/analyze: a plan over the live inventory or a built-in scenario; never a path', async () => {
      const planYaml = (await import('node:fs')).readFileSync(new URL('../scenarios/plans/datadog-2023.yaml', import.meta.url), 'utf8');
      const post = async (body: unknown) => {
        const res = await fetch(`${server.url}/v1/plans/analyze`, { method: 'POST', headers: { authorization: `Bearer ${server.adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
        return { status: res.status, body: (await res.json()) as any };
      };
      const scenarios = await get('/v1/plans/scenarios');
      expect(scenarios.body.scenarios).toContain('datadog-2023');
      const sim = await post({ plan: planYaml, scenario: 'datadog-2023', hosts: 2000 });
      expect(sim.status).toBe(200);
      expect(sim.body).toMatchObject({ fleetSource: expect.stringMatching(/2000 simulated hosts/), fleet: { hosts: 2000 } });
      expect(sim.body.text).toMatch(/worst case before any check can stop a bad change/);
      const live = await post({ plan: planYaml });
      expect(live.status).toBe(200);
      expect(live.body.fleetSource).toBe('the live inventory');
      expect(live.body).toHaveProperty('ineligible');
      expect((await post({ plan: planYaml, scenario: '../../etc/passwd' })).status).toBe(400);
      expect((await post({ plan: planYaml, scenario: 'no-such-scenario' })).status).toBe(404);
      const bad = await post({ plan: 'name: x\nwaves: nope\n' });
      expect(bad.status).toBe(400);
      expect(bad.body.error.problems.length).toBeGreaterThan(0);
    });

    it('POST /v1/plans/simulate: the incident through the plan, its report at /ui/reports/ID (no script, framed by the dashboard only)', async () => {
      const planYaml = (await import('node:fs')).readFileSync(new URL('../scenarios/plans/datadog-2023.yaml', import.meta.url), 'utf8');
      const post = async (body: unknown) => {
        const res = await fetch(`${server.url}/v1/plans/simulate`, { method: 'POST', headers: { authorization: `Bearer ${server.adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
        return { status: res.status, body: (await res.json()) as any };
      };
      const sim = await post({ plan: planYaml, scenario: 'datadog-2023', hosts: 2000 });
      expect(sim.status).toBe(200);
      expect(sim.body).toMatchObject({ scenario: 'datadog-2023', hosts: 2000, seed: 1, report: expect.stringMatching(/^\/ui\/reports\/[0-9a-f]{24}$/) });
      expect(sim.body.controlled.rollout).toBe('rolled_back');
      expect(sim.body.controlled.terminated).toBe(0);
      expect(sim.body.uncontrolled.terminated).toBeGreaterThan(0);
      expect(sim.body.text).toMatch(/uncontrolled/);
      const report = await fetch(`${server.url}${sim.body.report}`, { headers: { authorization: `Bearer ${server.adminToken}` } });
      expect(report.status).toBe(200);
      expect(report.headers.get('content-security-policy')).toMatch(/default-src 'none'; style-src 'unsafe-inline'.*frame-ancestors 'self'/);
      const html = await report.text();
      expect(html).toMatch(/<html/i);
      expect(html).not.toMatch(/<script/i);
      expect((await fetch(`${server.url}${sim.body.report}`)).status).toBe(401);
      expect((await fetch(`${server.url}/ui/reports/${'0'.repeat(24)}`, { headers: { authorization: `Bearer ${server.adminToken}` } })).status).toBe(404);
      expect((await post({ plan: planYaml })).status).toBe(400); // a scenario is required
      expect((await post({ plan: planYaml, scenario: 'datadog-2023', hosts: 20_001 })).status).toBe(400);
      expect((await post({ plan: planYaml, scenario: 'no-such-scenario' })).status).toBe(404);
    });

    it('GET /v1/rollouts/:id/stream: the plan, the view and the event log as server-sent events; 401 without a token', async () => {
      expect((await fetch(`${server.url}/v1/rollouts/r_dash_topo/stream`)).status).toBe(401);
      const ac = new AbortController();
      const res = await fetch(`${server.url}/v1/rollouts/r_dash_topo/stream`, { headers: { authorization: `Bearer ${server.adminToken}` }, signal: ac.signal });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
      const reader = res.body!.getReader();
      let text = '';
      const deadline = Date.now() + 5000;
      while (!/event: events/.test(text) && Date.now() < deadline) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      ac.abort();
      expect(text).toMatch(/event: plan\ndata: \{"name":"fleet-plan"/);
      expect(text).toMatch(/event: rollout\ndata: \{"id":"r_dash_topo"/);
      expect(text).toMatch(/event: events\ndata: \[\{"seq":\d+/);
      expect((await get('/v1/rollouts/r_nope/stream')).status).toBe(404);
    });
  });
}

runDashboardApi('dashboard API on PGlite', async () => ({
  server: await startServer({ listen: '127.0.0.1:0', memory: true, log: silentLogger() }),
  cleanup: async () => {},
}));

const pgProbe = await postgresTestDatabase();
await pgProbe?.cleanup();
describe.skipIf(pgProbe === null)('on PostgreSQL', () => {
  runDashboardApi('dashboard API on PostgreSQL', async () => {
    const db: PostgresTestDatabase = (await postgresTestDatabase())!;
    const server = await startServer({ listen: '127.0.0.1:0', databaseUrl: db.url, log: silentLogger() }).catch(async (err: unknown) => {
      await db.cleanup();
      throw err;
    });
    return { server, cleanup: () => db.cleanup() };
  });
});

describe('dashboard sign-in over TLS', () => {
  it('sets the session cookie Secure when the request came over HTTPS', async () => {
    const { execFileSync } = await import('node:child_process');
    const { mkdtempSync, readFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const https = await import('node:https');
    const dir = mkdtempSync(join(tmpdir(), 'sluice-dash-tls-'));
    let tlsServer: RunningServer | null = null;
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'key.pem', '-out', 'cert.pem', '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1'], { cwd: dir, stdio: 'ignore' });
      tlsServer = await startServer({ listen: '127.0.0.1:0', memory: true, log: silentLogger(), tls: { certFile: join(dir, 'cert.pem'), keyFile: join(dir, 'key.pem') } });
      const url = new URL('/ui/session', tlsServer.url);
      const setCookie = await new Promise<string>((resolveCookie, reject) => {
        const req = https.request(url, { method: 'POST', ca: readFileSync(join(dir, 'cert.pem')), headers: { 'content-type': 'application/json' } }, (res) => {
          res.resume();
          expect(res.statusCode).toBe(201);
          resolveCookie(String(res.headers['set-cookie']));
        });
        req.on('error', reject);
        req.end(JSON.stringify({ token: tlsServer!.adminToken }));
      });
      expect(setCookie).toMatch(/^sluice_session=[^;]+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+; Secure$/);
    } finally {
      await tlsServer?.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

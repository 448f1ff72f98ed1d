// The HTTP API in-process on the embedded store: authentication on every route, body
// validation and limits, and a rollout driven through the agent routes by hand.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../src/server/start-server.ts';
import { silentLogger } from '../src/server/logger.ts';

let server: RunningServer;

async function call(
  method: string,
  path: string,
  opts: { token?: string | undefined; body?: unknown; raw?: string } = {},
): Promise<{ status: number; json: any; text: string }> {
  const headers: Record<string, string> = {};
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let body: string | undefined;
  if (opts.raw !== undefined) {
    body = opts.raw;
    headers['content-type'] = 'application/json';
  } else if (opts.body !== undefined && method !== 'GET') {
    body = JSON.stringify(opts.body);
    headers['content-type'] = 'application/json';
  }
  const res = await fetch(server.url + path, { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await res.text();
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, json, text };
}

async function enroll(name: string, labels: Record<string, string>): Promise<string> {
  // `allow` in the facts: what a real agent reports; without it the host is ineligible for every plan.
  const res = await call('POST', '/v1/agent/enroll', { token: server.enrollToken, body: { name, labels, facts: { allow: ['command'] } } });
  expect(res.status).toBe(200);
  expect(res.json.host).toBe(name);
  return res.json.credential as string;
}

/** The rollout's view once it is completed, or as it is after 5 s (the ticks run every 50 ms). */
async function rolloutWhenCompleted(id: string): Promise<any> {
  let view: any;
  for (let i = 0; i < 100; i++) {
    view = (await call('GET', `/v1/rollouts/${id}`, { token: server.adminToken })).json;
    if (view.state === 'completed') break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return view;
}

const PLAN = `
name: api-test
change:
  command: { apply: ["true"], rollback: ["true"] }
waves:
  - { name: canary, size: 1 }
  - { name: rest }
checks:
  - name: ok
    command: ["true"]
budget: { failedPerWave: 0, failedTotal: 0, silentAfter: 60s }
onFailure: rollback
confirmWindow: 0s
`;

beforeAll(async () => {
  server = await startServer({ listen: '127.0.0.1:0', memory: true, log: silentLogger(), tickMs: 50 });
});

afterAll(async () => {
  await server?.close();
});

describe('authentication', () => {
  it('answers /healthz without a token and reveals nothing', async () => {
    const res = await call('GET', '/healthz');
    expect(res.status).toBe(200);
    expect(res.text).toBe('ok');
  });

  it('refuses every route of the OpenAPI document without a token', async () => {
    const doc = (await call('GET', '/v1/openapi.json', { token: server.adminToken })).json;
    const paths = Object.entries(doc.paths as Record<string, Record<string, unknown>>);
    expect(paths.length).toBeGreaterThan(10);
    let checked = 0;
    for (const [path, methods] of paths) {
      if (path === '/healthz') continue;
      for (const method of Object.keys(methods)) {
        const res = await call(method.toUpperCase(), path.replace('{id}', 'r_x'), { body: {} });
        expect(res.status, `${method} ${path}`).toBe(401);
        expect(res.json.error.code).toBe('unauthenticated');
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(10);
  });

  it('refuses a wrong token, and the enrollment token outside enrollment', async () => {
    expect((await call('GET', '/v1/hosts', { token: 'nope-nope-nope' })).status).toBe(401);
    expect((await call('GET', '/v1/hosts', { token: server.enrollToken })).status).toBe(403);
    expect((await call('POST', '/v1/agent/enroll', { token: server.adminToken, body: { name: 'x' } })).status).toBe(401);
  });

  it('refuses a host credential on every operator route with 403', async () => {
    const credential = await enroll('auth-host', { env: 'test' });
    const operatorRoutes: [string, string][] = [
      ['GET', '/v1/hosts'],
      ['GET', '/v1/rollouts'],
      ['POST', '/v1/rollouts'],
      ['GET', '/v1/rollouts/r_x'],
      ['GET', '/v1/rollouts/r_x/events'],
      ['POST', '/v1/rollouts/r_x/pause'],
      ['POST', '/v1/rollouts/r_x/resume'],
      ['POST', '/v1/rollouts/r_x/abort'],
      ['POST', '/v1/rollouts/r_x/approve'],
      ['POST', '/v1/rollouts/r_x/rollback'],
      ['GET', '/metrics'],
      ['GET', '/v1/openapi.json'],
    ];
    for (const [method, path] of operatorRoutes) {
      const res = await call(method, path, { token: credential, body: {} });
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(res.json.error.code).toBe('forbidden');
    }
  });

  it('refuses the admin token on agent routes', async () => {
    const res = await call('POST', '/v1/agent/heartbeat', { token: server.adminToken, body: {} });
    expect(res.status).toBe(403);
  });
});

describe('bad input', () => {
  it('answers malformed JSON with 400', async () => {
    const res = await call('POST', '/v1/rollouts', { token: server.adminToken, raw: '{"plan": ' });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('invalid');
  });

  it('answers unknown fields and wrong types with 400 naming the field', async () => {
    const a = await call('POST', '/v1/agent/enroll', { token: server.enrollToken, body: { name: 'ok-name', labels: {}, root: true } });
    expect(a.status).toBe(400);
    expect(a.json.error.message).toContain('root');
    const b = await call('POST', '/v1/agent/enroll', { token: server.enrollToken, body: { name: '../etc/passwd' } });
    expect(b.status).toBe(400);
    expect(b.json.error.message).toContain('name');
    const c = await call('POST', '/v1/rollouts', { token: server.adminToken, body: { plan: 42 } });
    expect(c.status).toBe(400);
  });

  it('answers an oversized body with 413 and keeps serving', async () => {
    const big = JSON.stringify({ plan: 'x'.repeat(2 * 1024 * 1024) });
    // The server answers before reading the whole body and drops the connection; use a fresh one.
    const res = await fetch(server.url + '/v1/rollouts', {
      method: 'POST',
      headers: { authorization: `Bearer ${server.adminToken}`, 'content-type': 'application/json', connection: 'close' },
      body: big,
    }).then(async (r) => ({ status: r.status, json: await r.json() }));
    expect(res.status).toBe(413);
    expect(res.json.error.code).toBe('too_large');
    expect((await call('GET', '/healthz')).status).toBe(200);
  });

  it('answers an invalid plan with 400 and located problems', async () => {
    const res = await call('POST', '/v1/rollouts', {
      token: server.adminToken,
      body: { plan: 'name: x\nchange:\n  ansible: {}\nwaves: []\n', file: 'bad.yaml' },
    });
    expect(res.status).toBe(400);
    expect(res.json.error.problems.length).toBeGreaterThan(0);
    expect(res.json.error.problems[0]).toMatchObject({ line: expect.any(Number), col: expect.any(Number) });
  });

  it('answers unknown rollouts with 404 and reports with bad fields with 400', async () => {
    expect((await call('GET', '/v1/rollouts/r_missing', { token: server.adminToken })).status).toBe(404);
    expect((await call('POST', '/v1/rollouts/r_missing/pause', { token: server.adminToken })).status).toBe(404);
    const credential = await enroll('bad-report-host', {});
    const res = await call('POST', '/v1/agent/reports', {
      token: credential,
      body: { reports: [{ id: 'short', rolloutId: 'r', attempt: 1, kind: 'apply', ok: true }] },
    });
    expect(res.status).toBe(400);
  });
});

describe('a rollout through the agent routes', () => {
  it('runs canary then the rest, with reports applied exactly once, and refuses invalid commands with 409', async () => {
    const a = await enroll('flow-a', { env: 'flow' });
    const b = await enroll('flow-b', { env: 'flow' });
    const plan = PLAN.replace('waves:', 'hosts: { match: { env: flow } }\nwaves:');
    const started = await call('POST', '/v1/rollouts', { token: server.adminToken, body: { plan, file: 'flow.yaml' } });
    expect(started.status).toBe(201);
    const id = started.json.id as string;

    // Canary: exactly one of the two hosts is asked to apply.
    const listA = (await call('GET', '/v1/agent/assignments', { token: a })).json.assignments;
    const listB = (await call('GET', '/v1/agent/assignments', { token: b })).json.assignments;
    expect(listA.length + listB.length).toBe(1);
    const [canaryToken, restToken] = listA.length === 1 ? [a, b] : [b, a];
    const canary = (listA.length === 1 ? listA : listB)[0];
    expect(canary).toMatchObject({ rolloutId: id, action: 'apply', attempt: 1, change: { kind: 'command' } });

    expect((await call('POST', `/v1/rollouts/${id}/resume`, { token: server.adminToken })).status).toBe(409);
    expect((await call('POST', `/v1/rollouts/${id}/approve`, { token: server.adminToken })).status).toBe(409);

    const report = (rid: string, kind: string) => ({ reports: [{ id: rid, rolloutId: id, attempt: 1, kind, ok: true }] });
    const r1 = await call('POST', '/v1/agent/reports', { token: canaryToken, body: report('report-apply-1', 'apply') });
    expect(r1.json.accepted).toEqual(['report-apply-1']);
    // The same report again (a retry after a lost answer) is acknowledged and changes nothing.
    const r1again = await call('POST', '/v1/agent/reports', { token: canaryToken, body: report('report-apply-1', 'apply') });
    expect(r1again.json.accepted).toEqual(['report-apply-1']);
    // A host cannot write to a rollout it is not part of: the host comes from the credential, and
    // the other host (it has no step yet) is refused with 403, with nothing in the event log.
    const eventsBefore = (await call('GET', `/v1/rollouts/${id}/events`, { token: server.adminToken })).json.events;
    const spoof = await call('POST', '/v1/agent/reports', {
      token: restToken,
      body: { reports: [{ id: 'spoof-attempt-1', rolloutId: id, attempt: 1, kind: 'apply', ok: false, message: 'spoof' }] },
    });
    expect(spoof.status).toBe(403);
    expect((await call('GET', `/v1/rollouts/${id}/events`, { token: server.adminToken })).json.events).toEqual(eventsBefore);
    const mid = (await call('GET', `/v1/rollouts/${id}`, { token: server.adminToken })).json;
    expect(mid.state).toBe('running');
    expect(mid.waves[0].hosts[0].state).toBe('verifying');
    await call('POST', '/v1/agent/reports', { token: canaryToken, body: report('report-check-1', 'check') });

    // The rest wave starts once the canary baked (bake 0); long-poll until the apply shows up.
    let rest: any[] = [];
    for (let i = 0; i < 50 && rest.length === 0; i++) {
      rest = (await call('GET', '/v1/agent/assignments?waitMs=200', { token: restToken })).json.assignments;
    }
    expect(rest).toHaveLength(1);
    expect(rest[0]).toMatchObject({ action: 'apply', attempt: 1 });
    // Report ids are scoped to their host: the canary's id, sent by another host, is that host's own report.
    const sameId = await call('POST', '/v1/agent/reports', { token: restToken, body: report('report-apply-1', 'apply') });
    expect(sameId.json.accepted).toEqual(['report-apply-1']);
    await call('POST', '/v1/agent/reports', { token: restToken, body: report('report-check-2', 'check') });

    const view = await rolloutWhenCompleted(id);
    expect(view.state).toBe('completed');
    expect(view.waves.map((w: any) => [w.name, w.state])).toEqual([
      ['canary', 'completed'],
      ['rest', 'completed'],
    ]);
    expect(view.waves.flatMap((w: any) => w.hosts.map((h: any) => h.state))).toEqual(['healthy', 'healthy']);

    const events = (await call('GET', `/v1/rollouts/${id}/events`, { token: server.adminToken })).json.events;
    const applyReports = events.filter((e: any) => e.kind === 'report.apply');
    // Two hosts, two applies: the duplicate and the spoofed stale report did not add a third success.
    expect(applyReports.filter((e: any) => e.message.includes('succeeded'))).toHaveLength(2);
    expect((await call('POST', `/v1/rollouts/${id}/pause`, { token: server.adminToken })).status).toBe(409);

    // A late result for the finished rollout is acknowledged once, logged as ignored, changes nothing.
    const late = { reports: [{ id: 'late-check-0001', rolloutId: id, attempt: 1, kind: 'check', ok: false, message: 'late' }] };
    expect((await call('POST', '/v1/agent/reports', { token: restToken, body: late })).json.accepted).toEqual(['late-check-0001']);
    expect((await call('POST', '/v1/agent/reports', { token: restToken, body: late })).json.accepted).toEqual(['late-check-0001']);
    const after = (await call('GET', `/v1/rollouts/${id}`, { token: server.adminToken })).json;
    expect(after.state).toBe('completed');
    expect(after.waves.flatMap((w: any) => w.hosts.map((h: any) => h.state))).toEqual(['healthy', 'healthy']);
    const lateEvents = (await call('GET', `/v1/rollouts/${id}/events`, { token: server.adminToken })).json.events.filter((e: any) => e.kind === 'report.ignored' && e.message.includes('the rollout is completed'));
    expect(lateEvents).toHaveLength(1);
  });

  it('retry: a result that arrived while the rollout was halted counts, also when the agent sends it again', async () => {
    const a = await enroll('retry-a', { suite: 'retry' });
    const b = await enroll('retry-b', { suite: 'retry' });
    const plan = PLAN.replace('name: api-test', 'name: retry-test\nhosts: { match: { suite: retry } }').replace('onFailure: rollback', 'onFailure: halt').replace('  - { name: canary, size: 1 }\n', '');
    const { id } = (await call('POST', '/v1/rollouts', { token: server.adminToken, body: { plan } })).json;
    const report = (token: string, reportId: string, attempt: number, kind: string, ok: boolean) =>
      call('POST', '/v1/agent/reports', { token, body: { reports: [{ id: reportId, rolloutId: id, attempt, kind, ok }] } });
    await report(a, 'retry-a-apply-1', 1, 'apply', false);
    expect((await call('GET', `/v1/rollouts/${id}`, { token: server.adminToken })).json.state).toBe('halted');
    // b's apply finished after the halt: acknowledged, ignored.
    expect((await report(b, 'retry-b-apply-1', 1, 'apply', true)).json.accepted).toEqual(['retry-b-apply-1']);
    expect((await call('POST', `/v1/rollouts/${id}/retry`, { token: server.adminToken })).json.state).toBe('running');
    // The agent gets its apply (attempt 1) again and answers with the stored result, same id.
    await report(b, 'retry-b-apply-1', 1, 'apply', true);
    await report(b, 'retry-b-check-1', 1, 'check', true);
    await report(a, 'retry-a-apply-2', 2, 'apply', true);
    await report(a, 'retry-a-check-2', 2, 'check', true);
    const view = await rolloutWhenCompleted(id);
    expect(view.state).toBe('completed');
    expect(view.waves[0].hosts.map((h: any) => [h.name, h.state])).toEqual([
      ['retry-a', 'healthy'],
      ['retry-b', 'healthy'],
    ]);
  });

  it('serves metrics in Prometheus format', async () => {
    const res = await call('GET', '/metrics', { token: server.adminToken });
    expect(res.status).toBe(200);
    for (const name of ['sluice_rollouts{state="completed"}', 'sluice_hosts{status="online"}', 'sluice_heartbeats_total', 'sluice_engine_transition_seconds_bucket']) {
      expect(res.text).toContain(name);
    }
  });
});

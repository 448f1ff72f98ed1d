// The freeze routes and a closed window through the HTTP API, in-process on the embedded store:
// validation, one freeze at a time, 409s for starts and approvals during a freeze, the rollout
// view's `waiting` for a closed window, and the audit entries.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../src/server/start-server.ts';
import { silentLogger } from '../src/server/logger.ts';
import { callApi } from './helpers/processes.ts';
import { formatOpening } from '../src/core/plan/window.ts';

let server: RunningServer;
let viewer: string;

const call = (method: string, path: string, body?: unknown, token = server.adminToken) => callApi(server.url, token, method, path, body);

const plan = (name: string, extra = '', waves = '  - { name: all }') =>
  `name: ${name}\nchange: { command: { apply: ["true"], rollback: ["true"] } }\nhosts: { match: { team: ${name} } }\nwaves:\n${waves}\nconfirmWindow: 0s\n${extra}`;

beforeAll(async () => {
  server = await startServer({ listen: '127.0.0.1:0', memory: true, log: silentLogger(), tickMs: 50 });
  const created = await call('POST', '/v1/tokens', { name: 'freeze-viewer', owner: 'v', role: 'viewer' });
  viewer = created.json.secret;
  for (const name of ['win', 'frz', 'emg', 'apr']) {
    const res = await call('POST', '/v1/agent/enroll', { name: `${name}-1`, labels: { team: name }, facts: { allow: ['command'] } }, server.enrollToken);
    expect(res.status).toBe(200);
  }
});

afterAll(async () => {
  await server?.close();
});

describe('freeze API', () => {
  it('validates the body', async () => {
    expect((await call('POST', '/v1/freeze', { reason: 'x' })).status).toBe(400);
    expect((await call('POST', '/v1/freeze', { reason: 'ok then', until: 'tomorrow' })).status).toBe(400);
    expect((await call('POST', '/v1/freeze', { reason: 'ok then', until: '2001-01-01T00:00Z' })).status).toBe(400);
    expect((await call('POST', '/v1/freeze', { reason: 'ok then', for: '48h', until: '2099-01-01T00:00Z' })).status).toBe(400);
    expect((await call('POST', '/v1/freeze', { reason: 'ok then', for: '400d' })).status).toBe(400);
    expect((await call('POST', '/v1/freeze', { reason: 'ok then', extra: 1 })).status).toBe(400);
    expect((await call('GET', '/v1/freeze', undefined, viewer)).json).toEqual({ frozen: false, freeze: null });
    expect((await call('POST', '/v1/freeze/end', {})).status).toBe(409);
  });

  it('one freeze at a time; starts refused, emergency allowed, approvals refused; viewer reads, cannot start', async () => {
    // A rollout waiting for approval before the freeze.
    const apr = await call('POST', '/v1/rollouts', { plan: plan('apr', '', '  - { name: gate, approve: true }') });
    expect(apr.status).toBe(201);

    expect((await call('POST', '/v1/freeze', { reason: 'viewer cannot' }, viewer)).status).toBe(403);
    const started = await call('POST', '/v1/freeze', { reason: 'sales weekend', for: '2h' });
    expect(started.status).toBe(201);
    expect(started.json.freeze).toMatchObject({ reason: 'sales weekend', by: 'admin', endedAt: null });
    expect(started.json.freeze.until - started.json.freeze.startedAt).toBe(2 * 3600_000);
    expect((await call('POST', '/v1/freeze', { reason: 'second one' })).status).toBe(409);
    const read = await call('GET', '/v1/freeze', undefined, viewer);
    expect(read.json.frozen).toBe(true);
    expect(read.json.freeze.text).toMatch(/^fleet frozen \(sales weekend\) by admin until 20/);

    const refused = await call('POST', '/v1/rollouts', { plan: plan('frz') });
    expect(refused.status).toBe(409);
    expect(refused.json.error.message ?? JSON.stringify(refused.json)).toMatch(/cannot start: the fleet is frozen \(sales weekend\) by admin until/);
    const emergency = await call('POST', '/v1/rollouts', { plan: plan('emg', 'emergency: { reason: "hotfix for CVE" }') });
    expect(emergency.status).toBe(201);

    const approve = await call('POST', `/v1/rollouts/${apr.json.id}/approve`, {});
    expect(approve.status).toBe(409);
    expect(JSON.stringify(approve.json)).toContain('the fleet is frozen (sales weekend) by admin');

    const ended = await call('POST', '/v1/freeze/end', {});
    expect(ended.status).toBe(200);
    expect(ended.json).toMatchObject({ frozen: false, freeze: { reason: 'sales weekend', endedBy: 'admin' } });
    expect((await call('POST', `/v1/rollouts/${apr.json.id}/approve`, {})).status).toBe(200);

    const audit = (await call('GET', '/v1/audit?action=freeze.*')).json.entries as any[];
    // Refused (403) and failed (400, 409) attempts are audited too, after the handler.
    expect(audit.filter((e) => e.result !== 'failed').map((e) => `${e.action} ${e.result} ${e.actor}`)).toEqual(['freeze.start denied freeze-viewer', 'freeze.start ok admin', 'freeze.end ok admin']);
    expect(audit.find((e) => e.result === 'ok' && e.action === 'freeze.start').detail).toMatchObject({ reason: 'sales weekend' });
    expect(audit.filter((e) => e.result === 'failed').length).toBeGreaterThanOrEqual(2);
  });

  it('a rollout outside its window waits and says when it opens', async () => {
    const now = Date.now();
    const day = (t: number) => new Date(t).toISOString().slice(0, 10);
    const res = await call('POST', '/v1/rollouts', { plan: plan('win', `blackout: [${day(now)}/${day(now + 86_400_000)}]`) });
    expect(res.status).toBe(201);
    const opens = Date.parse(`${day(now + 2 * 86_400_000)}T00:00:00Z`);
    let view: any;
    for (let i = 0; i < 100; i++) {
      view = (await call('GET', `/v1/rollouts/${res.json.id}`)).json;
      if (view.waiting) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(view.state).toBe('running');
    expect(view.waiting).toBe(`waiting for window: opens ${formatOpening(opens, 'UTC', Date.now())}`);
    expect(view.waves[0].hosts.map((h: any) => h.state)).toEqual(['pending']);
    const events = (await call('GET', `/v1/rollouts/${res.json.id}/events`)).json.events as any[];
    expect(events.filter((e) => e.kind === 'rollout.waiting').map((e) => e.message)).toEqual([view.waiting]);
  });
});

// The remediation guard's routes in-process on the embedded store: who may ask (remediator,
// admin) and who may not, an unknown host, a freeze, an override, bad input, and the record.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../src/server/start-server.ts';
import { silentLogger } from '../src/server/logger.ts';
import { callApi } from './helpers/processes.ts';

let server: RunningServer;
const tokens: Record<string, string> = {};

const call = (method: string, path: string, body?: unknown, token = server.adminToken) => callApi(server.url, token, method, path, body);

const ask = (host: string, token = tokens.remediator) => call('POST', '/v1/remediation/requests', { host, action: 'replace', requester: 'test' }, token);

beforeAll(async () => {
  server = await startServer({ listen: '127.0.0.1:0', memory: true, log: silentLogger(), tickMs: 50 });
  for (const role of ['remediator', 'operator', 'viewer']) {
    tokens[role] = (await call('POST', '/v1/tokens', { name: `rm-${role}`, owner: role, role })).json.secret;
  }
  for (let i = 0; i < 4; i++) {
    const res = await call('POST', '/v1/agent/enroll', { name: `ra-${i}`, labels: { zone: 'z1' }, facts: {} }, server.enrollToken);
    expect(res.status).toBe(200);
  }
});

afterAll(async () => {
  await server?.close();
});

describe('remediation guard API', () => {
  it('answers a remediator (and an admin), refuses an operator and a viewer', async () => {
    const allowed = await ask('ra-0');
    expect(allowed.status).toBe(200);
    expect(allowed.json).toMatchObject({ host: 'ra-0', action: 'replace', decision: 'allow', requester: 'test', principal: 'rm-remediator', alert: false });
    expect((await ask('ra-1', server.adminToken)).json.principal).toBe('admin');
    for (const role of ['operator', 'viewer']) {
      const refused = await ask('ra-1', tokens[role]);
      expect(refused.status).toBe(403);
      expect(refused.json.error.message).toBe(`this needs the remediator role; rm-${role} has ${role}`);
    }
  });

  it('denies an unknown host, and refuses malformed requests with the reason', async () => {
    const unknown = await ask('no-such-host');
    expect(unknown.json).toMatchObject({ decision: 'deny', reason: 'no host named no-such-host is enrolled; the guard only answers for hosts it knows' });
    const bad = await call('POST', '/v1/remediation/requests', { host: 'ra-1', action: 'nuke' }, tokens.remediator);
    expect(bad.status).toBe(400);
    expect(bad.json.error.message).toMatch(/action/);
    const badOverride = await call('POST', '/v1/remediation/overrides', { scope: 'zone=z1', for: '30d', reason: 'x' }, tokens.operator);
    expect(badOverride.status).toBe(400);
    expect(badOverride.json.error.message).toBe('for: an override lasts at most 7 days');
  });

  it('denies during a freeze; an operator override lets it through, with its reason; ending it restores the guard', async () => {
    expect((await call('POST', '/v1/freeze', { reason: 'sales weekend' })).status).toBe(201);
    const frozen = await ask('ra-2');
    expect(frozen.json.decision).toBe('deny');
    expect(frozen.json.reason).toMatch(/the fleet is frozen \(sales weekend/);
    // A viewer cannot override; an operator can.
    expect((await call('POST', '/v1/remediation/overrides', { scope: 'zone=z1', for: '1h', reason: 'AZ power loss' }, tokens.viewer)).status).toBe(403);
    const o = await call('POST', '/v1/remediation/overrides', { scope: 'zone=z1', for: '1h', reason: 'AZ power loss' }, tokens.operator);
    expect(o.status).toBe(201);
    const through = await ask('ra-2');
    expect(through.json).toMatchObject({ decision: 'allow', reason: `allowed by override ${o.json.override.id} on zone=z1 (rm-operator: AZ power loss)` });
    expect((await call('GET', '/v1/remediation/overrides', undefined, tokens.viewer)).json.overrides.map((x: any) => x.id)).toEqual([o.json.override.id]);
    expect((await call('POST', `/v1/remediation/overrides/${o.json.override.id}/end`, {}, tokens.operator)).status).toBe(200);
    expect((await call('POST', `/v1/remediation/overrides/${o.json.override.id}/end`, {}, tokens.operator)).status).toBe(404);
    expect((await ask('ra-2')).json.decision).toBe('deny');
    expect((await call('POST', '/v1/freeze/end', {})).status).toBe(200);
  });

  it('keeps every request and answer, readable by a viewer, filterable', async () => {
    const all = (await call('GET', '/v1/remediation/requests', undefined, tokens.viewer)).json.requests as any[];
    expect(all.length).toBeGreaterThanOrEqual(6);
    const denied = (await call('GET', '/v1/remediation/requests?decision=deny&host=ra-2', undefined, tokens.viewer)).json.requests as any[];
    expect(denied.map((r) => r.reason)).toEqual([expect.stringMatching(/frozen/), expect.stringMatching(/frozen/)]);
    const audit = (await call('GET', '/v1/audit?action=remediation.override')).json.entries as any[];
    expect(audit.map((e) => [e.actor, e.result])).toEqual([['rm-operator', 'failed'], ['rm-viewer', 'denied'], ['rm-operator', 'ok']]);
  });
});

describe('remediation guard alert', () => {
  it('sends one remediation.denied_burst webhook per scope per window, naming the scope and the count', async () => {
    const { createServer } = await import('node:http');
    const bodies: any[] = [];
    const receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        bodies.push(JSON.parse(body));
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/alerts`;
    const s = await startServer({ listen: '127.0.0.1:0', memory: true, log: silentLogger(), tickMs: 50, heartbeatMs: 100, notify: { endpoints: [{ url, format: 'json', events: ['remediation.denied_burst'] }], pollMs: 50 } });
    try {
      for (let i = 0; i < 4; i++) {
        const res = await fetch(`${s.url}/v1/agent/enroll`, { method: 'POST', headers: { authorization: `Bearer ${s.enrollToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: `b-${i}`, labels: { zone: 'zb' } }) });
        expect(res.status).toBe(200);
      }
      // Nobody heartbeats: after 3 intervals (300 ms) every host is offline, a mass failure.
      await new Promise((r) => setTimeout(r, 1500));
      const askAs = async (host: string) => {
        const res = await fetch(`${s.url}/v1/remediation/requests`, { method: 'POST', headers: { authorization: `Bearer ${s.adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ host, action: 'replace' }) });
        return (await res.json()) as any;
      };
      const first = await askAs('b-0');
      expect(first).toMatchObject({ decision: 'deny', scope: 'zone=zb', alert: true });
      expect((await askAs('b-1')).alert).toBe(false);
      const deadline = Date.now() + 10_000;
      while (bodies.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 300));
      expect(bodies).toHaveLength(1);
      expect(bodies[0]).toMatchObject({ version: 1, event: 'remediation.denied_burst', rollout: null, host: 'b-0' });
      expect(bodies[0].message).toMatch(/^mass failure in zone=zb: 4 hosts unhealthy or remediated within the window, over the limit of 1/);
    } finally {
      await s.close();
      await new Promise<void>((r) => receiver.close(() => r()));
    }
  });
});

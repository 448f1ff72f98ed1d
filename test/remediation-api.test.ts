// The remediation guard's routes in-process on the embedded store: who may ask (remediator,
// admin) and who may not, an unknown host, a freeze, an override, bad input, and the record.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../src/server/start-server.ts';
import { silentLogger } from '../src/server/logger.ts';

let server: RunningServer;
const tokens: Record<string, string> = {};

async function call(method: string, path: string, body?: unknown, token = server.adminToken): Promise<{ status: number; json: any }> {
  const res = await fetch(server.url + path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

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

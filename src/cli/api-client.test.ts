import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ConflictError, NotFoundError, SluiceError, UnavailableError, ValidationError, exitCodeFor } from '../core/errors.ts';
import { createApiClient, errorFromResponse } from './api-client.ts';

interface Call {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: unknown;
}

function fakeFetch(status: number, body: unknown, calls: Call[] = []): typeof fetch {
  return (async (input: string | URL | Request, init?: RequestInit) => {
    calls.push({
      url: String(input),
      method: init?.method ?? 'GET',
      headers: init?.headers as Record<string, string>,
      body: init?.body === undefined ? undefined : JSON.parse(String(init.body)),
    });
    return new Response(typeof body === 'string' ? body : JSON.stringify(body), { status });
  }) as typeof fetch;
}

const rollout = {
  id: 'r_1',
  name: 'flag-on',
  state: 'running',
  reason: null,
  createdAt: 1,
  updatedAt: 2,
  waves: [{ name: 'canary', state: 'applying', startedAt: 1, bakeStartedAt: null, bakeEndsAt: null, failed: 0, hosts: [{ name: 'a', state: 'applying', message: null, updatedAt: 1 }] }],
  pendingWaves: ['prod'],
};

describe('createApiClient', () => {
  it('sends the bearer token and JSON body, and parses the answer', async () => {
    const calls: Call[] = [];
    const client = createApiClient({ server: 'http://sluice.test:7400/', token: 'adm_x', fetch: fakeFetch(201, { id: 'r_1', name: 'n', state: 'running' }, calls) });
    expect(await client.startRollout('name: n\n', 'n.yaml')).toEqual({ id: 'r_1', name: 'n', state: 'running' });
    expect(calls).toEqual([
      {
        url: 'http://sluice.test:7400/v1/rollouts',
        method: 'POST',
        headers: expect.objectContaining({ authorization: 'Bearer adm_x', 'content-type': 'application/json' }),
        body: { plan: 'name: n\n', file: 'n.yaml' },
      },
    ]);
  });

  it('escapes ids in paths and passes event cursors', async () => {
    const calls: Call[] = [];
    const client = createApiClient({ server: 'http://s', token: 't', fetch: fakeFetch(200, { events: [] }, calls) });
    await client.listEvents('r/../x', 41, 500);
    expect(calls[0]?.url).toBe('http://s/v1/rollouts/r%2F..%2Fx/events?after=41&limit=500');
  });

  it('posts retry like the other rollout actions, and maps its 409 to a conflict (exit 1) with the server\'s words', async () => {
    const calls: Call[] = [];
    const ok = createApiClient({ server: 'http://s', token: 't', fetch: fakeFetch(200, { id: 'r_1', state: 'running' }, calls) });
    expect(await ok.rolloutAction('r_1', 'retry')).toEqual({ id: 'r_1', state: 'running' });
    expect(calls.map((c) => [c.method, c.url])).toEqual([['POST', 'http://s/v1/rollouts/r_1/retry']]);
    const refused = createApiClient({ server: 'http://s', token: 't', fetch: fakeFetch(409, { error: { code: 'conflict', message: 'cannot retry a completed rollout' } }) });
    const error = await refused.rolloutAction('r_1', 'retry').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConflictError);
    expect((error as ConflictError).message).toBe('cannot retry a completed rollout');
    expect(exitCodeFor((error as ConflictError).code)).toBe(1);
  });

  it('reads rollbackHosts when the server sends it', async () => {
    const client = createApiClient({ server: 'http://s', token: 't', fetch: fakeFetch(200, { ...rollout, rollbackHosts: 3 }) });
    expect((await client.getRollout('r_1')).rollbackHosts).toBe(3);
  });

  it('fills optional fields a server may omit', async () => {
    const { pendingWaves: _p, ...withoutPending } = rollout;
    const client = createApiClient({ server: 'http://s', token: 't', fetch: fakeFetch(200, withoutPending) });
    const view = await client.getRollout('r_1');
    expect(view.pendingWaves).toEqual([]);
    expect(view.waves[0]?.hosts[0]).toEqual({ name: 'a', state: 'applying', message: null, updatedAt: 1 });
  });

  it('rejects an answer of the wrong shape with a clear error', async () => {
    const client = createApiClient({ server: 'http://s', token: 't', fetch: fakeFetch(200, { hosts: [{ name: 1 }] }) });
    await expect(client.listHosts()).rejects.toThrow(/unexpected answer from the Sluice server at http:\/\/s \(GET \/v1\/hosts\?limit=1000\)/);
  });

  it.each([
    [400, { error: { code: 'invalid', message: 'bad plan', problems: [{ line: 2, col: 3, message: 'x' }] } }, ValidationError, 2],
    [401, { error: { code: 'unauthenticated', message: 'invalid token' } }, SluiceError, 2],
    [403, { error: { code: 'forbidden', message: 'no' } }, SluiceError, 2],
    [404, { error: { code: 'not_found', message: 'no rollout r_9' } }, NotFoundError, 2],
    [409, { error: { code: 'conflict', message: 'cannot pause a completed rollout' } }, ConflictError, 1],
    [503, { error: { code: 'unavailable', message: 'store down' } }, UnavailableError, 1],
    [502, '<html>bad gateway</html>', SluiceError, 1],
    [404, 'not json', SluiceError, 2],
  ])('maps HTTP %s to the matching error and exit code', async (status, body, type, exit) => {
    const client = createApiClient({ server: 'http://s', token: 't', fetch: fakeFetch(status, body) });
    const error = await client.rolloutAction('r_1', 'pause').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(type);
    expect(exitCodeFor((error as SluiceError).code)).toBe(exit);
  });

  it("keeps the server's message and problems", () => {
    const error = errorFromResponse(400, { error: { code: 'invalid', message: 'bad plan', problems: [{ line: 2, col: 3, message: 'x' }] } });
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.message).toBe('bad plan');
    expect((error as ValidationError).problems).toEqual([{ line: 2, col: 3, message: 'x' }]);
    expect(errorFromResponse(409, { error: { code: 'conflict', message: 'rollout is completed' } }).message).toBe('rollout is completed');
    expect(errorFromResponse(401, { error: { code: 'unauthenticated', message: 'bad token' } }).message).toMatch(/bad token.*--token/);
  });

  it('reports a refused connection as unavailable, naming the server', async () => {
    // A port that was just free: nothing listens there.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const client = createApiClient({ server: `http://127.0.0.1:${port}`, token: 't' });
    const error = await client.listHosts().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnavailableError);
    expect((error as Error).message).toBe(`cannot reach the Sluice server at http://127.0.0.1:${port}: is \`sluice server\` running?`);
  });

  it('asks for drift and updates with their query, parsed like every other answer', async () => {
    const calls: Call[] = [];
    const drift = { summary: { hosts: 0, hostsWithDrift: 0, open: {}, hostsByKind: {} }, hosts: [], events: [] };
    const client = createApiClient({ server: 'http://s', token: 't', fetch: fakeFetch(200, drift, calls) });
    expect(await client.getDrift('web-1')).toEqual(drift);
    await client.getDrift();
    expect(calls.map((c) => c.url)).toEqual(['http://s/v1/drift?limit=200&host=web-1', 'http://s/v1/drift?limit=200']);
    const updatesCalls: Call[] = [];
    const updates = createApiClient({ server: 'http://s', token: 't', fetch: fakeFetch(200, { updates: [], hosts: [] }, updatesCalls) });
    await updates.getUpdates(true);
    await updates.getUpdates(false);
    expect(updatesCalls.map((c) => c.url)).toEqual(['http://s/v1/updates?all=true', 'http://s/v1/updates']);
    await expect(updates.getDrift()).rejects.toThrow(/unexpected answer from the Sluice server at http:\/\/s \(GET \/v1\/drift\?limit=200\)/);
  });

  it('gives up on a server that does not answer', async () => {
    const hanging = ((_input: unknown, init?: RequestInit) =>
      new Promise((_resolve, reject) => {
        init?.signal?.addEventListener('abort', () => reject(init.signal?.reason));
      })) as typeof fetch;
    const client = createApiClient({ server: 'http://s', token: 't', fetch: hanging, timeoutMs: 20 });
    await expect(client.listHosts()).rejects.toThrow(/did not answer within/);
  });
});

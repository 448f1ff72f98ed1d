// The heartbeat's fast path (src/server/agent-fast-path.ts) answers exactly what the Hono route
// answers: the same requests go to a server with it and to one without it (agentFastPath: false),
// and every status, body, content type, metric, audit entry and rate-limit answer must match. Its
// validator accepts nothing the route's zod schema refuses, with the same output.
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer, type ServerOptions } from '../src/server/start-server.ts';
import { silentLogger } from '../src/server/logger.ts';
import { heartbeatBody, heartbeatBodyFast } from '../src/server/schemas.ts';
import { MAX_BODY_BYTES } from '../src/server/app.ts';

interface Answer {
  readonly status: number;
  readonly body: string;
  readonly type: string | null;
}

/** A request on a keep-alive agent of its own (one socket): the answer, and whether the socket was reused. */
function send(agent: http.Agent, url: string, opts: { method?: string; path: string; token?: string; body?: string; headers?: Record<string, string> }): Promise<Answer & { reused: boolean }> {
  return new Promise((resolve, reject) => {
    const u = new URL(opts.path, url);
    const req = http.request(
      {
        agent,
        host: u.hostname,
        port: u.port,
        path: u.pathname + u.search,
        method: opts.method ?? 'POST',
        headers: {
          ...(opts.token !== undefined ? { authorization: `Bearer ${opts.token}` } : {}),
          ...(opts.body !== undefined ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(opts.body)) } : {}),
          ...opts.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString('utf8'), type: res.headers['content-type'] ?? null, reused: req.reusedSocket }));
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Credentials, tokens, ids and times the two servers issued differ: masked in what is compared. */
const masked = (a: { status: number; body: string; type: string | null }): Answer => ({
  status: a.status,
  body: a.body.replace(/\b(shc|sle)_[A-Za-z0-9_-]{20,}/g, '$1_…').replace(/\b1\d{12}\b/g, 'TIME').replace(/"id":"[^"]+"/g, '"id":"…"'),
  type: a.type,
});

const ADMIN = 'sla_fastpath_admin_0123456789';
const ENROLL = 'sle_fastpath_enroll_0123456789';

/** Two servers on the embedded store, alike but for the fast path: [with it, without it]. */
function startPair(extra: Partial<ServerOptions> = {}): Promise<[RunningServer, RunningServer]> {
  const common = { listen: '127.0.0.1:0', memory: true, log: silentLogger(), adminToken: ADMIN, enrollToken: ENROLL, ...extra } as const;
  return Promise.all([startServer({ ...common, agentFastPath: true }), startServer({ ...common, agentFastPath: false })]);
}

/** The same story told to a server: every answer, in order, and what its metrics and audit say after. */
async function story(server: RunningServer): Promise<{ answers: Answer[]; reused: boolean[]; metrics: string[]; audit: unknown[] }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const answers: Answer[] = [];
  const reused: boolean[] = [];
  const ask = async (opts: Parameters<typeof send>[2]) => {
    const a = await send(agent, server.url, opts);
    answers.push(masked(a));
    reused.push(a.reused);
    return JSON.parse(a.body || 'null');
  };
  const heartbeat = (token: string | undefined, body: unknown, extra: Partial<Parameters<typeof send>[2]> = {}) =>
    ask({ path: '/v1/agent/heartbeat', ...(token !== undefined ? { token } : {}), body: typeof body === 'string' ? body : JSON.stringify(body), ...extra });

  const a = (await ask({ path: '/v1/agent/enroll', token: ENROLL, body: JSON.stringify({ name: 'fp-a', labels: { role: 'web' }, facts: { kernel: '6.8' } }) })).credential as string;
  const b = (await ask({ path: '/v1/agent/enroll', token: ENROLL, body: JSON.stringify({ name: 'fp-b', labels: { role: 'web' } }) })).credential as string;
  await heartbeat(a, { labels: { role: 'web' } }); // a cache miss: the route, which caches the credential
  await heartbeat(b, { labels: { role: 'web' } });
  // The happy path: cached credentials.
  await heartbeat(a, { labels: { role: 'web' }, facts: { kernel: '6.8' } });
  await heartbeat(a, {});
  await heartbeat(a, { facts: { kernel: '6.9', 'bad\u0000key': 'x\u0000y', nested: { list: [1, 'two', null] } } }); // changed facts: written
  // Unknown, missing and wrong kinds of credentials.
  await heartbeat('shc_not_a_credential_of_anyone', { labels: { role: 'web' } });
  await heartbeat(undefined, { labels: { role: 'web' } });
  await heartbeat(ADMIN, {});
  await heartbeat(ENROLL, {});
  // Bodies the route refuses, from a cached credential (read by the fast path, handed on).
  await heartbeat(a, '{"labels":');
  await heartbeat(a, 'null');
  await heartbeat(a, '[]');
  await heartbeat(a, { labels: { role: 5 } });
  await heartbeat(a, { labels: { 'bad key!': 'x' } });
  await heartbeat(a, { labels: { role: 'a\tb' } });
  await heartbeat(a, { labels: { role: 'x'.repeat(254) } });
  await heartbeat(a, { labels: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v'])) });
  await heartbeat(a, { labels: null });
  await heartbeat(a, { facts: [] });
  await heartbeat(a, { facts: { ['k'.repeat(129)]: 1 } });
  await heartbeat(a, { extra: true });
  await heartbeat(a, '{"__proto__":{"x":1}}');
  await heartbeat(a, '{"labels":{"__proto__":"x"}}');
  await heartbeat(a, '{"labels":{"role":"\\ud800"}}');
  // Oversized, declared: refused before it is read.
  await heartbeat(a, JSON.stringify({ facts: { big: 'x'.repeat(MAX_BODY_BYTES) } }), { headers: {} });
  // Not the exact path, or not a POST: the route (or a 404).
  await heartbeat(a, {}, { path: '/v1/agent/heartbeat?x=1' });
  await heartbeat(a, {}, { path: '/v1/agent/heartbeat/' });
  await ask({ method: 'GET', path: '/v1/agent/heartbeat', token: a });
  // Labels changed: written, and seen by the engine.
  await heartbeat(a, { labels: { role: 'db' } });
  await heartbeat(a, { labels: { role: 'db' } });
  // A reset host's credential, cached a moment ago, is refused at once.
  await ask({ path: '/v1/hosts/fp-b/reset', token: ADMIN, body: '{}' });
  await heartbeat(b, { labels: { role: 'web' } });
  await heartbeat(b, {});
  // A rotation: the old credential within its grace, then the new one (its first use confirms it).
  const rotated = (await ask({ path: '/v1/agent/rotate', token: a, body: '{}' })).credential as string;
  await heartbeat(a, {});
  await heartbeat(rotated, {});
  await heartbeat(rotated, {});
  await heartbeat(a, {}); // the first use of the new one ended the old one's grace
  // Labels an enrollment token constrains: refused (403, audited) on a heartbeat.
  const scoped = (await ask({ path: '/v1/enroll-tokens', token: ADMIN, body: JSON.stringify({ name: 'eu-only', labels: { region: 'eu-west-1' } }) })).token as string;
  const c = (await ask({ path: '/v1/agent/enroll', token: scoped, body: JSON.stringify({ name: 'fp-c', labels: { region: 'eu-west-1' } }) })).credential as string;
  await heartbeat(c, { labels: { region: 'eu-west-1' } });
  await heartbeat(c, { labels: { region: 'us-east-1' } });
  await heartbeat(c, { labels: { region: 'eu-west-1', zone: 'a' } });

  const metricsText = (await send(agent, server.url, { method: 'GET', path: '/metrics', token: ADMIN })).body;
  const metrics = metricsText.split('\n').filter((l) => /^sluice_heartbeats_total|^sluice_http_requests_total\{[^}]*route="\/v1\/agent\/heartbeat/.test(l));
  const audit = ((await send(agent, server.url, { method: 'GET', path: '/v1/audit?limit=200', token: ADMIN })).body && JSON.parse((await send(agent, server.url, { method: 'GET', path: '/v1/audit?limit=200', token: ADMIN })).body).entries) ?? [];
  agent.destroy();
  return {
    answers,
    reused,
    metrics,
    audit: (audit as any[]).filter((e) => e.action !== 'GET /v1/audit').map((e) => ({ action: e.action, actor: e.actor, target: e.target, result: e.result })),
  };
}

describe('the heartbeat fast path', () => {
  let fast: RunningServer;
  let route: RunningServer;
  beforeAll(async () => {
    [fast, route] = await startPair();
  });
  afterAll(async () => {
    await Promise.all([fast?.close(), route?.close()]);
  });

  it('answers every request as the Hono route does: statuses, bodies, metrics, audit', async () => {
    const withFast = await story(fast);
    const without = await story(route);
    expect(route.fastPath).toBeNull();
    // It did take the happy path, and it did hand bodies it had read on to the route.
    expect(fast.fastPath!.answered).toBeGreaterThanOrEqual(6);
    expect(fast.fastPath!.handedOn).toBeGreaterThanOrEqual(14);
    for (let i = 0; i < without.answers.length; i++) expect(withFast.answers[i], `request ${i}`).toEqual(without.answers[i]);
    expect(withFast.answers.length).toBe(without.answers.length);
    expect(withFast.answers.filter((a) => a.status === 200).length).toBeGreaterThan(10);
    expect(new Set(withFast.answers.map((a) => a.status))).toEqual(new Set([200, 201, 400, 401, 403, 404, 413]))
    // Unknown (401), admin token (403), bad bodies (400), __proto__ label (200: zod drops it), oversized (413), reset (401), refused labels (403).
    expect(withFast.answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 200, 200, 401, 401, 403, 401, 400, 400, 400, 400, 400, 400, 400, 400, 400, 400, 400, 400, 400, 200, 400, 413, 200, 404, 404, 200, 200, 200, 401, 401, 200, 200, 200, 200, 401, 201, 200, 200, 403, 200]);
    expect(withFast.metrics).toEqual(without.metrics);
    expect(withFast.metrics.some((l) => l.includes('status="200"'))).toBe(true);
    expect(withFast.audit).toEqual(without.audit);
    expect(withFast.audit).toContainEqual(expect.objectContaining({ action: 'host.labels_refused', target: 'fp-c' }));
    // A body handed on does not cost the agent its keep-alive connection (the 413 may close it, on both).
    expect(withFast.reused).toEqual(without.reused);
  });

  it('leaves a throttled address to the route: known credentials still get through, guesses get 429', async () => {
    const servers = await startPair({ rateLimits: { failedAuth: { perSecond: 0.001, burst: 3 } } });
    try {
      const runs = await Promise.all(
        servers.map(async (server) => {
          const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
          const out: Answer[] = [];
          const ask = async (opts: Parameters<typeof send>[2]) => {
            const r = await send(agent, server.url, opts);
            out.push(masked(r));
            return JSON.parse(r.body);
          };
          const cred = (await ask({ path: '/v1/agent/enroll', token: ENROLL, body: JSON.stringify({ name: 'th-a' }) })).credential as string;
          await ask({ path: '/v1/agent/heartbeat', token: cred, body: '{}' });
          await ask({ path: '/v1/agent/heartbeat', token: cred, body: '{}' });
          for (let i = 0; i < 5; i++) await ask({ path: '/v1/agent/heartbeat', token: `shc_guess_${i}`, body: '{}' });
          await ask({ path: '/v1/agent/heartbeat', token: cred, body: '{}' });
          await ask({ path: '/v1/agent/heartbeat', token: 'shc_guess_again', body: '{}' });
          agent.destroy();
          return out;
        }),
      );
      expect(runs[0]).toEqual(runs[1]);
      expect(runs[0]!.map((a) => a.status)).toEqual([200, 200, 200, 401, 401, 401, 429, 429, 200, 429]);
    } finally {
      await Promise.all(servers.map((s) => s.close()));
    }
  });
});

describe("a long-poll's wait in front of the route", () => {
  let fast: RunningServer;
  let route: RunningServer;
  beforeAll(async () => {
    [fast, route] = await startPair();
  });
  afterAll(async () => {
    await Promise.all([fast?.close(), route?.close()]);
  });

  /** Polls as an agent does; the answers (masked) and how long each took. */
  async function polls(server: RunningServer): Promise<{ answers: Answer[]; ms: number[] }> {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const admin = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const answers: Answer[] = [];
    const ms: number[] = [];
    const ask = async (opts: Parameters<typeof send>[2], via = agent) => {
      const t0 = performance.now();
      const a = await send(via, server.url, opts);
      answers.push(masked(a));
      ms.push(performance.now() - t0);
      return JSON.parse(a.body || 'null');
    };
    const cred = (await ask({ path: '/v1/agent/enroll', token: ENROLL, body: JSON.stringify({ name: 'lp-a' }) })).credential as string;
    await ask({ path: '/v1/agent/heartbeat', token: cred, body: '{}' }); // cached from here on
    const version = (await ask({ method: 'GET', path: '/v1/agent/assignments?waitMs=0', token: cred })).version as string;
    await ask({ method: 'GET', path: `/v1/agent/assignments?waitMs=800&version=${version}`, token: cred }); // waits 800 ms
    await ask({ method: 'GET', path: '/v1/agent/assignments?waitMs=5000&version=other', token: cred }); // changed: at once
    await ask({ method: 'GET', path: `/v1/agent/assignments?waitMs=abc&version=${version}`, token: cred }); // 400
    await ask({ method: 'GET', path: `/v1/agent/assignments?waitMs=30001&version=${version}`, token: cred }); // 400
    await ask({ method: 'GET', path: `/v1/agent/assignments?waitMs=800&version=${version}`, token: 'shc_nobody_0123456789abcdef' }); // 401
    // Reset while the poll waits: the answer after the wait refuses the old credential.
    const held = ask({ method: 'GET', path: `/v1/agent/assignments?waitMs=2000&version=${version}`, token: cred });
    await new Promise((r) => setTimeout(r, 300));
    await ask({ path: '/v1/hosts/lp-a/reset', token: ADMIN, body: '{}' }, admin);
    await held;
    agent.destroy();
    admin.destroy();
    return { answers, ms };
  }

  it('waits as the route waits, then the route answers: same statuses and bodies, a reset during the wait refused with the same 401', async () => {
    const [withFast, without] = await Promise.all([polls(fast), polls(route)]);
    // The reset during the wait: the same 401 and code; its message is the authentication's
    // ("unknown host credential"), not the route's own after-the-wait wording.
    const resetAnswer = (a: Answer) => ({ status: a.status, code: JSON.parse(a.body).error.code });
    expect(resetAnswer(withFast.answers.at(-1)!)).toEqual({ status: 401, code: 'unauthenticated' });
    expect(resetAnswer(without.answers.at(-1)!)).toEqual({ status: 401, code: 'unauthenticated' });
    expect(withFast.answers.slice(0, -1)).toEqual(without.answers.slice(0, -1));
    expect(withFast.answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 400, 400, 401, 200, 401]);
    expect(fast.fastPath!.pollsWaited).toBe(2);
    for (const run of [withFast, without]) {
      expect(run.ms[3]).toBeGreaterThanOrEqual(750); // held for its wait
      expect(run.ms[4]).toBeLessThan(750); // a changed version is answered at once
    }
  });
});

describe('heartbeatBodyFast', () => {
  const bodies: unknown[] = [
    {},
    { labels: {} },
    { facts: {} },
    { labels: { role: 'web', zone: 'z1' } },
    { labels: { role: 'web' }, facts: { kernel: '6.8', allow: ['apt'], n: 1.5, deep: { a: [{ b: null }] } } },
    { facts: { s: 'a\u0000b', '\ud800k': '\udc00', big: 'x'.repeat(70_000), nan: 1e400 } },
    { facts: { ['k'.repeat(128)]: 1 } },
    { facts: { ['k'.repeat(129)]: 1 } },
    { labels: { ['k'.repeat(63)]: 'v' } },
    { labels: { ['k'.repeat(64)]: 'v' } },
    { labels: { role: 'x'.repeat(253) } },
    { labels: { role: 'x'.repeat(254) } },
    { labels: Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`k${i}`, 'v'])) },
    { labels: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v'])) },
    { labels: { role: 'é😀' } },
    { labels: { role: '\ud800' } },
    { labels: { role: 'a\u0085b' } },
    { labels: { role: 'a\u007fb' } },
    { labels: { role: '' } },
    { labels: { '': 'v' } },
    { labels: { 'a/b.c_d-e': 'v' } },
    { labels: { 'a b': 'v' } },
    { labels: { role: 1 } },
    { labels: { role: null } },
    { labels: [] },
    { labels: null },
    { labels: 'web' },
    { facts: null },
    { facts: [] },
    { facts: 'x' },
    { other: 1 },
    { labels: {}, other: 1 },
    null,
    [],
    'text',
    3,
    true,
    JSON.parse('{"__proto__":{"labels":{}}}'),
    JSON.parse('{"labels":{"__proto__":"x"}}'),
    JSON.parse('{"facts":{"__proto__":{"x":1}}}'),
    JSON.parse('{"facts":{"a":{"__proto__":{"x":1}}}}'),
    JSON.parse('{"labels":{"1":"a","b":"c","0":"d"}}'),
  ];

  it('accepts only what the zod schema accepts, with the same output', () => {
    let accepted = 0;
    for (const raw of bodies) {
      const fastOut = heartbeatBodyFast(raw);
      const zod = heartbeatBody.safeParse(raw);
      const what = JSON.stringify(raw)?.slice(0, 120);
      if (fastOut === null) continue; // left to zod: always allowed
      accepted += 1;
      expect(zod.success, what).toBe(true);
      expect(fastOut, what).toStrictEqual(zod.data);
      expect(JSON.stringify(fastOut), what).toBe(JSON.stringify(zod.data));
    }
    // ...and it does take the bodies agents send.
    expect(accepted).toBeGreaterThanOrEqual(14);
    expect(heartbeatBodyFast({ labels: { role: 'web' }, facts: { kernel: '6.8' } })).not.toBeNull();
  });

  it('leaves to zod everything zod refuses', () => {
    for (const raw of bodies) if (!heartbeatBody.safeParse(raw).success) expect(heartbeatBodyFast(raw), JSON.stringify(raw)?.slice(0, 120)).toBeNull();
  });
});

// Webhook notifications (issue 12) with a real server and real agents: the receiver fails (HTTP
// 500s, then answers nothing past the delivery timeout) through the whole rollout, which never
// waits on it and completes; then it recovers and every event arrives exactly once by delivery
// id, in order per endpoint, with a valid signature; the Slack endpoint gets `{text}`.
import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../src/server/start-server.ts';
import { ENROLL_TOKEN, startAgentProc, tempDir, waitFor, type Proc } from './helpers/processes.ts';
import { silentLogger } from '../src/server/logger.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Received {
  readonly path: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
  readonly answered: number | null;
}

describe('webhook notifications', () => {
  it('a failing, then hanging, then recovered receiver: every event once, in order, signed; the rollout never waits', async () => {
    const secret = 'plan-secret-0123456789';
    const serverSecret = 'server-secret-9876543210';
    process.env.SLUICE_TEST_HOOK_SECRET = secret;
    cleanups.push(() => void delete process.env.SLUICE_TEST_HOOK_SECRET);

    let mode: 'fail' | 'hang' | 'ok' = 'fail';
    let failed = 0;
    const received: Received[] = [];
    const hanging: ServerResponse[] = [];
    const receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        if (mode === 'fail' && ++failed >= 4) mode = 'hang'; // 500s first, then no answer at all
        if (mode === 'hang') {
          received.push({ path: req.url ?? '', headers: req.headers, body, answered: null });
          hanging.push(res);
          return;
        }
        const status = mode === 'fail' ? 500 : 204;
        received.push({ path: req.url ?? '', headers: req.headers, body, answered: status });
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise<void>((r) => {
      for (const h of hanging) h.destroy();
      receiver.closeAllConnections();
      receiver.close(() => r());
    }));
    const base = `http://127.0.0.1:${(receiver.address() as { port: number }).port}`;

    const server: RunningServer = await startServer({
      listen: '127.0.0.1:0',
      memory: true,
      enrollToken: ENROLL_TOKEN,
      log: silentLogger(),
      notify: { endpoints: [{ url: `${base}/slack`, format: 'slack', secret: serverSecret }], timeoutMs: 300, pollMs: 50, backoffBaseMs: 50, backoffMaxMs: 400 },
    });
    cleanups.push(() => server.close());
    const dir = tempDir('notify');
    cleanups.push(() => dir.remove());
    const agents: Proc[] = ['n1', 'n2'].map((name) => startAgentProc(server.url, { name, labels: {}, stateDir: join(dir.path, name) }));
    cleanups.push(async () => void (await Promise.all(agents.map((a) => a.kill()))));
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(server.url + path, {
        method,
        headers: { authorization: `Bearer ${server.adminToken}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
      return JSON.parse(text);
    };
    await waitFor('agents online', async () => (await call('GET', '/v1/hosts')).hosts.filter((h: any) => h.status === 'online').length === 2, 30_000, 200);

    const plan = `
name: notified
change:
  command: { apply: ["true"], rollback: ["true"], timeout: 10s }
waves:
  - { name: canary, size: 1, bake: 1s }
  - { name: rest, bake: 1s, approve: true }
confirmWindow: 0s
notify:
  - url: ${base}/hook
    secretEnv: SLUICE_TEST_HOOK_SECRET
    format: json
    events: [wave.started, wave.awaiting_approval, rollout.completed]
`;
    const startedAt = Date.now();
    const { id } = await call('POST', '/v1/rollouts', { plan, file: 'notified.yaml' });
    await waitFor('the approval wait', async () => (await call('GET', `/v1/rollouts/${id}`)).waves[1]?.state === 'awaiting_approval', 30_000, 100);
    await call('POST', `/v1/rollouts/${id}/approve`);
    const done = await waitFor('the rollout to complete', async () => {
      const v = await call('GET', `/v1/rollouts/${id}`);
      return v.state === 'completed' ? v : null;
    }, 30_000, 100);
    expect(done.state).toBe('completed');
    // The receiver never answered 2xx so far: the rollout did not wait for it.
    expect(received.some((r) => r.answered === 204)).toBe(false);
    expect(received.length).toBeGreaterThan(0);
    expect(Date.now() - startedAt).toBeLessThan(30_000);
    const pending = (await call('GET', `/v1/notifications?rollout=${id}`)).deliveries;
    expect(pending.some((d: any) => d.state === 'pending' && d.attempts > 0 && d.lastError)).toBe(true);

    mode = 'ok';
    const deliveries = await waitFor('every delivery delivered', async () => {
      const list = (await call('GET', `/v1/notifications?rollout=${id}`)).deliveries as any[];
      return list.length > 0 && list.every((d) => d.state === 'delivered') ? list : null;
    }, 30_000, 100);
    // The events, from the event log: what the plan endpoint asked for, in order.
    const events = (await call('GET', `/v1/rollouts/${id}/events?limit=1000`)).events as any[];
    const wanted = events.filter((e) => ['wave.started', 'wave.awaiting_approval', 'rollout.completed'].includes(e.kind)).map((e) => e.kind);
    expect(wanted).toEqual(['wave.started', 'wave.awaiting_approval', 'wave.started', 'rollout.completed']);

    const ok = (path: string) => received.filter((r) => r.path === path && r.answered === 204);
    const hook = ok('/hook');
    const bodies = hook.map((r) => JSON.parse(r.body));
    // Once each by delivery id, in order.
    expect(new Set(bodies.map((b) => b.id)).size).toBe(bodies.length);
    expect(bodies.map((b) => b.event)).toEqual(wanted);
    expect(bodies.map((b) => b.wave ?? null)).toEqual(['canary', 'rest', 'rest', null]);
    expect(deliveries.filter((d) => d.endpoint === base && d.format === 'json')).toHaveLength(4);
    for (const r of hook) {
      const b = JSON.parse(r.body);
      expect(Object.keys(b)).toEqual(['version', 'id', 'event', 'at', 'rollout', ...(b.wave ? ['wave'] : []), 'message']);
      expect(b).toMatchObject({ version: 1, rollout: { id, name: 'notified' } });
      expect(r.headers['x-sluice-delivery']).toBe(b.id);
      expect(r.headers['x-sluice-event']).toBe(b.event);
      expect(r.headers['x-sluice-signature']).toBe(`sha256=${createHmac('sha256', secret).update(r.body).digest('hex')}`);
    }
    // Every delivery attempt of an id carried the same bytes (the signature holds across retries).
    for (const b of bodies) {
      const attempts = received.filter((r) => r.path === '/hook' && r.headers['x-sluice-delivery'] === b.id);
      expect(new Set(attempts.map((a) => a.body)).size).toBe(1);
    }
    // The server-wide Slack endpoint: every event (no filter), as {text}, signed with the server secret.
    const slack = ok('/slack');
    const texts = slack.map((r) => JSON.parse(r.body).text as string);
    expect(texts.length).toBe(wanted.length);
    expect(new Set(slack.map((r) => r.headers['x-sluice-delivery'])).size).toBe(slack.length);
    expect(texts[0]).toMatch(/^\[sluice\] Wave started: \*notified\* \(r_\w+, running\) wave canary: wave canary started/);
    expect(texts.at(-1)).toMatch(/Rollout completed/);
    for (const r of slack) expect(r.headers['x-sluice-signature']).toBe(`sha256=${createHmac('sha256', serverSecret).update(r.body).digest('hex')}`);
    // The failures were retried: some delivery took more than one attempt.
    expect(deliveries.some((d) => d.attempts > 1)).toBe(true);
    expect(received.some((r) => r.answered === 500)).toBe(true);
    expect(received.some((r) => r.answered === null)).toBe(true);
  }, 90_000);
});

describe('drift.found', () => {
  it('new drift from an agent goes to the server-wide webhooks once (a re-send notifies nothing)', async () => {
    const bodies: any[] = [];
    const receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        bodies.push({ body: JSON.parse(body), event: req.headers['x-sluice-event'] });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise<void>((r) => receiver.close(() => r())));
    const url = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/drift`;
    const server = await startServer({ listen: '127.0.0.1:0', memory: true, log: silentLogger(), notify: { endpoints: [{ url, format: 'json', events: ['drift.found'] }], pollMs: 50 } });
    cleanups.push(() => server.close());
    const post = async (path: string, token: string, body: unknown) => {
      const res = await fetch(server.url + path, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return res.json() as Promise<any>;
    };
    const { credential } = await post('/v1/agent/enroll', server.enrollToken, { name: 'drifty', labels: {} });
    const event = { id: 'evt-00000001', kind: 'package-changed', subject: 'curl', message: 'curl changed outside a rollout', at: 1, open: true };
    expect(await post('/v1/agent/drift', credential, { events: [event] })).toEqual({ recorded: 1 });
    expect(await post('/v1/agent/drift', credential, { events: [event] })).toEqual({ recorded: 0 });
    await waitFor('the drift webhook', () => bodies.length >= 1, 10_000, 50);
    await new Promise((r) => setTimeout(r, 300));
    expect(bodies).toHaveLength(1);
    expect(bodies[0].event).toBe('drift.found');
    expect(bodies[0].body).toMatchObject({ version: 1, event: 'drift.found', rollout: null, host: 'drifty', message: 'drifty: package-changed curl: curl changed outside a rollout' });
  });
});

describe('sluice server notification and gate flags', () => {
  it('refuses a bad --notify-url, --prometheus-url, --notify-format or an unreadable secret file (exit 2), naming no URL path', async () => {
    const { runCli } = await import('./helpers/processes.ts');
    const dir = tempDir('notify-flags');
    cleanups.push(() => dir.remove());
    const base = ['server', '--listen', '127.0.0.1:0', '--data-dir', join(dir.path, 'data')];
    const cases: [string[], RegExp][] = [
      [['--notify-url', 'ftp://hooks.example.com/T/SECRET'], /--notify-url must be an http\(s\) URL/],
      [['--prometheus-url', 'prometheus:9090'], /--prometheus-url must be an http\(s\) URL/],
      [['--notify-url', 'http://h/x', '--notify-format', 'xml'], /--notify-format must be json or slack/],
      [['--notify-url', 'http://h/x', '--notify-secret-file', join(dir.path, 'missing')], /--notify-secret-file/],
      [['--notify-secret-file', join(dir.path, 'missing')], /--notify-secret-file needs --notify-url/],
    ];
    for (const [flags, message] of cases) {
      const r = await runCli([...base, ...flags], {}, 30_000);
      expect(r.code, flags.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toContain('SECRET');
    }
  }, 60_000);
});

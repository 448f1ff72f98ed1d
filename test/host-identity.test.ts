// Host identity against the real server (in-process, embedded PGlite store) and in-process agents:
// a host name cannot be taken over with the enrollment token, an admin reset lets it enroll
// again, long-polls re-check the credential, scoped tokens hold their limits, failed
// authentication and enrollment are rate limited, and credentials rotate without downtime.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type AgentHandle } from '../src/agent/agent.ts';
import { createMemoryLog } from '../src/agent/log.ts';
import { createLogger, silentLogger } from '../src/server/logger.ts';
import { startServer, type RunningServer } from '../src/server/start-server.ts';
import { waitFor } from './helpers/processes.ts';
import { postgresTestDatabase } from './helpers/postgres.ts';
import type { Command } from 'commander';
import { runCli } from '../src/cli/run-cli.ts';
import { createTestIo } from '../src/cli/test-io.ts';
import { registerHostsCommand, registerHostsReset } from '../src/cli/hosts-command.ts';
import { registerEnrollTokensCommand } from '../src/cli/enroll-tokens-command.ts';
import { registerAgentCommand } from '../src/cli/agent-command.ts';

interface Answer {
  status: number;
  json: any;
  headers: Headers;
}

async function call(server: RunningServer, method: string, path: string, token: string | null, body?: unknown): Promise<Answer> {
  const res = await fetch(server.url + path, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null, headers: res.headers };
}

let server: RunningServer;
let dir: string;
const logLines: any[] = [];
const agents: AgentHandle[] = [];

const admin = (method: string, path: string, body?: unknown) => call(server, method, path, server.adminToken, body);
const enroll = (token: string, body: Record<string, unknown>) => call(server, 'POST', '/v1/agent/enroll', token, { labels: {}, ...body });
const heartbeat = (credential: string, body: Record<string, unknown> = {}) => call(server, 'POST', '/v1/agent/heartbeat', credential, body);
const audits = (action: string, target: string) => logLines.filter((l) => l.audit === true && l.action === action && l.target === target);

beforeAll(async () => {
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) logLines.push(JSON.parse(line));
      done();
    },
  });
  server = await startServer({
    listen: '127.0.0.1:0',
    memory: true,
    log: createLogger({ level: 'info', destination: sink }),
    tickMs: 50,
    heartbeatMs: 200,
    rotationGraceMs: 1500,
    // This suite's own failures must not throttle it (the limits have their own server below).
    rateLimits: { failedAuth: { perSecond: 100, burst: 1000 }, enroll: { perSecond: 100, burst: 1000 } },
  });
  dir = await mkdtemp(join(tmpdir(), 'sluice-host-identity-'));
});

afterAll(async () => {
  await Promise.all(agents.map((a) => a.stop()));
  await server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function agentFor(name: string, labels: Record<string, string>, extra: { rotateEveryMs?: number; log?: ReturnType<typeof createMemoryLog> } = {}): Promise<AgentHandle> {
  return startAgent({
    server: server.url,
    token: server.enrollToken,
    name,
    labels,
    allow: ['command'],
    stateDir: join(dir, name),
    heartbeatMs: 200,
    pollWaitMs: 2000,
    backoff: { initialMs: 20, maxMs: 200 },
    log: extra.log ?? createMemoryLog(),
    ...(extra.rotateEveryMs !== undefined ? { rotateEveryMs: extra.rotateEveryMs } : {}),
  }).then((a) => {
    agents.push(a);
    return a;
  });
}

async function hostView(name: string): Promise<any> {
  const { json } = await admin('GET', '/v1/hosts');
  return json.hosts.find((h: any) => h.name === name);
}

/** The credential in the agent's state dir (waits for the agent to have written it). */
async function credentialOf(name: string): Promise<string> {
  return waitFor(`${name}'s credential file`, async () => {
    try {
      return JSON.parse(await readFile(join(dir, name, 'credential.json'), 'utf8')).credential as string;
    } catch {
      return null; // not written yet (or being replaced)
    }
  });
}

describe('a host name cannot be taken over', () => {
  it('refuses an impostor enrolling an existing name (409, audited); the real host keeps heartbeating and gets its assignments', async () => {
    await agentFor('web-1', { suite: 'takeover', env: 'prod' });
    await waitFor('web-1 online', async () => (await hostView('web-1'))?.status === 'online');
    const real = await credentialOf('web-1');

    const impostor = await enroll(server.enrollToken, { name: 'web-1', labels: { suite: 'takeover', env: 'evil' } });
    expect(impostor.status).toBe(409);
    expect(impostor.json.error.code).toBe('conflict');
    expect(impostor.json.error.message).toContain('sluice hosts reset web-1');
    // a guessed credential does no better
    expect((await enroll(server.enrollToken, { name: 'web-1', currentCredential: 'shc_guess' })).status).toBe(409);
    const refused = audits('host.enroll_refused', 'web-1');
    expect(refused.length).toBe(2);
    expect(refused[0]).toMatchObject({ ok: false, actor: 'enroll:bootstrap' });
    expect(JSON.stringify(refused)).not.toContain(server.enrollToken);
    // ... and in the audit log table, with the source address.
    const table = (await admin('GET', '/v1/audit?action=host.enroll_refused&target=web-1')).json.entries as any[];
    expect(table.map((e) => [e.actor, e.result])).toEqual([['enroll:bootstrap', 'denied'], ['enroll:bootstrap', 'denied']]);
    expect(table[0].sourceIp).toMatch(/127\.0\.0\.1/);

    // The real host's credential still works, its labels are untouched.
    expect((await heartbeat(real, { labels: { suite: 'takeover', env: 'prod' } })).status).toBe(200);
    expect((await hostView('web-1')).labels).toEqual({ suite: 'takeover', env: 'prod' });

    const plan = `
name: takeover-flag
hosts: { match: { suite: takeover } }
change:
  command:
    apply: ["sh", "-c", "echo on >> ${dir}/takeover-flag"]
    rollback: ["true"]
    timeout: 10s
waves:
  - { name: all }
checks:
  - name: flag-set
    command: ["test", "-f", "${dir}/takeover-flag"]
checkInterval: 100ms
budget: { failedPerWave: 0, failedTotal: 0, silentAfter: 60s }
onFailure: rollback
confirmWindow: 0s
`;
    const created = await admin('POST', '/v1/rollouts', { plan });
    expect(created.status).toBe(201);
    await waitFor(
      'rollout completed',
      async () => {
        const r = (await admin('GET', `/v1/rollouts/${created.json.id}`)).json;
        if (['halted', 'rolled_back', 'aborted'].includes(r.state)) throw new Error(`rollout ended ${r.state}`);
        return r.state === 'completed';
      },
      30_000,
    );
    expect((await readFile(join(dir, 'takeover-flag'), 'utf8')).trim()).toBe('on');
  });

  it('re-enrolls a name when the agent presents its current credential', async () => {
    const first = await enroll(server.enrollToken, { name: 'own-1' });
    expect(first.status).toBe(200);
    const again = await enroll(server.enrollToken, { name: 'own-1', currentCredential: first.json.credential, labels: { zone: 'b' } });
    expect(again.status).toBe(200);
    expect(again.json.credential).not.toBe(first.json.credential);
    expect((await heartbeat(first.json.credential)).status).toBe(401);
    expect((await heartbeat(again.json.credential)).status).toBe(200);
  });

  it('an admin reset lets the next enrollment of the name in, once; only admins can reset', async () => {
    const first = await enroll(server.enrollToken, { name: 'lost-1' });
    expect(first.status).toBe(200);
    expect((await call(server, 'POST', '/v1/hosts/lost-1/reset', server.enrollToken, {})).status).toBe(403);
    expect((await call(server, 'POST', '/v1/hosts/lost-1/reset', first.json.credential, {})).status).toBe(403);
    expect((await call(server, 'POST', '/v1/hosts/lost-1/reset', null, {})).status).toBe(401);
    expect((await admin('POST', '/v1/hosts/nobody-here/reset', {})).status).toBe(404);

    const reset = await admin('POST', '/v1/hosts/lost-1/reset', {});
    expect(reset.status).toBe(200);
    expect(reset.json).toMatchObject({ host: 'lost-1', reset: true });
    expect(audits('host.reset', 'lost-1')[0]).toMatchObject({ ok: true, actor: 'admin' });
    expect((await heartbeat(first.json.credential)).status).toBe(401);

    const fresh = await enroll(server.enrollToken, { name: 'lost-1' });
    expect(fresh.status).toBe(200);
    expect((await heartbeat(fresh.json.credential)).status).toBe(200);
    expect((await enroll(server.enrollToken, { name: 'lost-1' })).status).toBe(409);
  });

  it('an agent whose host was reset enrolls again by itself and carries on', async () => {
    await agentFor('web-2', { suite: 'reset-agent' });
    await waitFor('web-2 online', async () => (await hostView('web-2'))?.status === 'online');
    const before = await credentialOf('web-2');
    expect((await admin('POST', '/v1/hosts/web-2/reset', {})).status).toBe(200);
    await waitFor('web-2 enrolled again', async () => (await credentialOf('web-2')) !== before, 10_000);
    expect((await heartbeat(before)).status).toBe(401);
  });
});

describe('an agent that lost its state directory', () => {
  it('is refused (409), logs the command that resets it, and enrolls once an admin ran it', async () => {
    const first = await enroll(server.enrollToken, { name: 'lost-agent' });
    expect(first.status).toBe(200);
    const log = createMemoryLog();
    await agentFor('lost-agent', { suite: 'lost' }, { log });
    await waitFor('the 409 logged', () => JSON.stringify(log.lines).includes('sluice hosts reset lost-agent'), 10_000);
    expect((await heartbeat(first.json.credential)).status).toBe(200); // the enrolled host is untouched
    expect((await admin('POST', '/v1/hosts/lost-agent/reset', {})).status).toBe(200);
    const credential = await credentialOf('lost-agent');
    expect(credential).not.toBe(first.json.credential);
    await waitFor('lost-agent online', async () => (await heartbeat(credential)).status === 200);
  });
});

describe('long-polls re-check the credential', () => {
  async function version(credential: string): Promise<string> {
    const r = await call(server, 'GET', '/v1/agent/assignments?waitMs=0', credential);
    expect(r.status).toBe(200);
    return r.json.version;
  }

  it('a long-poll opened before a reset answers 401 at once', async () => {
    const { json } = await enroll(server.enrollToken, { name: 'lp-1' });
    const v = await version(json.credential);
    const started = Date.now();
    const poll = call(server, 'GET', `/v1/agent/assignments?waitMs=20000&version=${v}`, json.credential);
    await new Promise((r) => setTimeout(r, 300));
    expect((await admin('POST', '/v1/hosts/lp-1/reset', {})).status).toBe(200);
    const answer = await poll;
    expect(answer.status).toBe(401);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('a long-poll opened before a re-enrollment answers 401, never an assignment', async () => {
    const { json } = await enroll(server.enrollToken, { name: 'lp-2' });
    const v = await version(json.credential);
    const poll = call(server, 'GET', `/v1/agent/assignments?waitMs=20000&version=${v}`, json.credential);
    await new Promise((r) => setTimeout(r, 300));
    expect((await enroll(server.enrollToken, { name: 'lp-2', currentCredential: json.credential })).status).toBe(200);
    expect((await poll).status).toBe(401);
  });

  it('a long-poll with a credential rotated away during the wait answers 401', async () => {
    const { json } = await enroll(server.enrollToken, { name: 'lp-3' });
    const v = await version(json.credential);
    const poll = call(server, 'GET', `/v1/agent/assignments?waitMs=1500&version=${v}`, json.credential);
    await new Promise((r) => setTimeout(r, 200));
    const rotated = await call(server, 'POST', '/v1/agent/rotate', json.credential, {});
    expect(rotated.status).toBe(200);
    expect((await heartbeat(rotated.json.credential)).status).toBe(200); // the new one is used: the old one is done
    expect((await poll).status).toBe(401);
  });
});

describe('scoped enrollment tokens', () => {
  async function createToken(body: Record<string, unknown>): Promise<any> {
    const r = await admin('POST', '/v1/enroll-tokens', body);
    expect(r.status, JSON.stringify(r.json)).toBe(201);
    return r.json;
  }

  it('never enrolls more hosts than max uses, even concurrently', async () => {
    const t = await createToken({ name: 'batch-5', maxUses: 5 });
    expect(t.token).toMatch(/^sle_/);
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => enroll(t.token, { name: `batch-${i}` })));
    expect(results.filter((r) => r.status === 200)).toHaveLength(5);
    expect(results.filter((r) => r.status === 401)).toHaveLength(7);
    const list = (await admin('GET', '/v1/enroll-tokens')).json.tokens;
    expect(list.find((x: any) => x.name === 'batch-5')).toMatchObject({ uses: 5, maxUses: 5, state: 'used up' });
    expect(JSON.stringify(list)).not.toContain(t.token);
  });

  it('expires, and can be revoked; the bootstrap token keeps working', async () => {
    const short = await createToken({ name: 'short', expiresInS: 1 });
    expect((await enroll(short.token, { name: 'short-1' })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1200));
    expect((await enroll(short.token, { name: 'short-2' })).status).toBe(401);

    const revoked = await createToken({ name: 'to-revoke' });
    const r = await admin('POST', `/v1/enroll-tokens/${revoked.id}/revoke`, {});
    expect(r.status).toBe(200);
    expect(r.json.state).toBe('revoked');
    expect((await enroll(revoked.token, { name: 'rv-1' })).status).toBe(401);
    expect((await admin('POST', '/v1/enroll-tokens/no-such-token/revoke', {})).status).toBe(404);
    expect((await enroll(server.enrollToken, { name: 'boot-1' })).status).toBe(200);
    expect(audits('enroll_token.revoked', 'to-revoke')).toHaveLength(1);
  });

  it('only enrolls hosts whose labels match its constraints, at enrollment and on heartbeats', async () => {
    const t = await createToken({ name: 'eu-only', labels: { region: 'eu-west-1' } });
    expect(t.labels).toEqual({ region: ['eu-west-1'] });
    const wrong = await enroll(t.token, { name: 'eu-1', labels: { region: 'us-east-1' } });
    expect(wrong.status).toBe(403);
    expect(wrong.json.error.message).toContain('region=us-east-1');
    expect((await enroll(t.token, { name: 'eu-1', labels: { zone: 'a' } })).status).toBe(403);
    expect(audits('host.labels_refused', 'eu-1')).toHaveLength(2);
    const ok = await enroll(t.token, { name: 'eu-1', labels: { region: 'eu-west-1', zone: 'a' } });
    expect(ok.status).toBe(200);
    // a refused claim cost no use: 1 of them
    expect((await admin('GET', '/v1/enroll-tokens')).json.tokens.find((x: any) => x.name === 'eu-only').uses).toBe(1);
    expect((await heartbeat(ok.json.credential, { labels: { region: 'us-east-1', zone: 'a' } })).status).toBe(403);
    expect((await heartbeat(ok.json.credential, { labels: { region: 'eu-west-1', zone: 'b' } })).status).toBe(200);
    expect((await hostView('eu-1')).labels).toEqual({ region: 'eu-west-1', zone: 'b' });
  });

  it('is admin-only to manage, and cannot call operator routes', async () => {
    const t = await createToken({ name: 'plain' });
    expect((await call(server, 'GET', '/v1/enroll-tokens', t.token)).status).toBe(403);
    expect((await call(server, 'GET', '/v1/hosts', t.token)).status).toBe(403);
    expect((await call(server, 'POST', '/v1/enroll-tokens', server.enrollToken, { name: 'x' })).status).toBe(403);
    expect((await admin('POST', '/v1/enroll-tokens', { name: 'plain' })).status).toBe(409);
    expect((await admin('POST', '/v1/enroll-tokens', { name: 'bad name!' })).status).toBe(400);
  });
});

describe('credential rotation', () => {
  it('the old credential stays valid until the new one is used', async () => {
    const { json } = await enroll(server.enrollToken, { name: 'rot-1' });
    const rotated = await call(server, 'POST', '/v1/agent/rotate', json.credential, {});
    expect(rotated.status).toBe(200);
    expect(rotated.json.host).toBe('rot-1');
    expect((await heartbeat(json.credential)).status).toBe(200); // in its grace
    expect((await heartbeat(rotated.json.credential)).status).toBe(200);
    expect((await heartbeat(json.credential)).status).toBe(401);
    expect(audits('host.credential_rotated', 'rot-1')).toHaveLength(1);
  });

  it('or until its grace ends', async () => {
    const { json } = await enroll(server.enrollToken, { name: 'rot-2' });
    const rotated = await call(server, 'POST', '/v1/agent/rotate', json.credential, {});
    expect((await heartbeat(json.credential)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1700)); // rotationGraceMs 1500
    expect((await heartbeat(json.credential)).status).toBe(401);
    expect((await heartbeat(rotated.json.credential)).status).toBe(200);
    // a credential past its grace cannot rotate either
    expect((await call(server, 'POST', '/v1/agent/rotate', json.credential, {})).status).toBe(401);
  });

  it('an agent rotates on its schedule, writes the new credential to its state dir and stays online', async () => {
    await agentFor('rot-agent', { suite: 'rotation' }, { rotateEveryMs: 1000 });
    await waitFor('rot-agent online', async () => (await hostView('rot-agent'))?.status === 'online');
    const first = await credentialOf('rot-agent');
    await waitFor('rotated', async () => (await credentialOf('rot-agent')) !== first, 10_000);
    await waitFor('the old credential refused', async () => (await heartbeat(first)).status === 401, 10_000);
    expect((await hostView('rot-agent')).status).toBe('online');
    expect(audits('host.enrolled', 'rot-agent')).toHaveLength(1); // rotated, never re-enrolled
  });
});

describe('the CLI', () => {
  async function sluice(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const io = createTestIo({ env: { SLUICE_SERVER: server.url, SLUICE_TOKEN: server.adminToken } });
    const code = await runCli(args, io, (program: Command) => {
      registerAgentCommand(program);
      registerHostsReset(registerHostsCommand(program, io), io);
      registerEnrollTokensCommand(program, io);
    });
    return { code, stdout: io.stdout.text, stderr: io.stderr.text };
  }

  it('sluice hosts reset NAME, and enroll-tokens create | list | revoke', async () => {
    const first = await enroll(server.enrollToken, { name: 'cli-1' });
    const reset = await sluice('hosts', 'reset', 'cli-1');
    expect(reset.code, reset.stderr).toBe(0);
    expect(reset.stdout).toContain('the next enrollment of cli-1 is accepted');
    expect((await heartbeat(first.json.credential)).status).toBe(401);
    expect((await sluice('hosts', 'reset', 'no-such-host')).code).toBe(2);

    const created = await sluice('enroll-tokens', 'create', 'cli-tok', '--max-uses', '2', '--expires-in', '1h', '--label', 'region=eu-west-1|eu-west-2');
    expect(created.code, created.stderr).toBe(0);
    const secret = created.stdout.trim();
    expect(secret).toMatch(/^sle_/);
    expect((await enroll(secret, { name: 'cli-2', labels: { region: 'eu-west-2' } })).status).toBe(200);
    const list = await sluice('enroll-tokens', 'list');
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/cli-tok\s+et_\S+\s+active\s+1\/2/);
    expect(list.stdout).toContain('region=eu-west-1|eu-west-2');
    expect(list.stdout).not.toContain(secret);
    const revoked = await sluice('enroll-tokens', 'revoke', 'cli-tok');
    expect(revoked.code, revoked.stderr).toBe(0);
    expect((await enroll(secret, { name: 'cli-3', labels: { region: 'eu-west-2' } })).status).toBe(401);
    expect((await sluice('enroll-tokens', 'create', 'x', '--max-uses', 'lots')).code).toBe(2);
  });

  it('sluice agent rotate replaces the credential in the state dir; the old one works within its grace', async () => {
    const { json } = await enroll(server.enrollToken, { name: 'cli-rot' });
    const stateDir = join(dir, 'cli-rot-state');
    const { StateDir } = await import('../src/agent/state-dir.ts');
    const state = await StateDir.open(stateDir, createMemoryLog());
    await state.writeCredential({ server: server.url, host: 'cli-rot', credential: json.credential });
    const r = await sluice('agent', 'rotate', '--state-dir', stateDir);
    expect(r.code, r.stderr).toBe(0);
    const now = (await state.readCredential())!;
    expect(now.credential).not.toBe(json.credential);
    expect((await heartbeat(json.credential)).status).toBe(200);
    expect((await heartbeat(now.credential)).status).toBe(200);
    expect((await heartbeat(json.credential)).status).toBe(401);
  });
});

describe('rate limits', () => {
  let limited: RunningServer;
  beforeAll(async () => {
    limited = await startServer({
      listen: '127.0.0.1:0',
      memory: true,
      log: silentLogger(),
      rateLimits: { failedAuth: { perSecond: 0.05, burst: 10 }, enroll: { perSecond: 1, burst: 5 } },
    });
  });
  afterAll(async () => {
    await limited?.close();
  });

  it('many wrong tokens get 429 with Retry-After; a real host and the admin are unaffected', async () => {
    const real = await call(limited, 'POST', '/v1/agent/enroll', limited.enrollToken, { name: 'real-1', labels: {} });
    expect(real.status).toBe(200);
    expect((await call(limited, 'POST', '/v1/agent/heartbeat', real.json.credential, {})).status).toBe(200);
    expect((await call(limited, 'GET', '/v1/hosts', limited.adminToken)).status).toBe(200);

    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 30; i++) {
      const r = await call(limited, 'POST', '/v1/agent/heartbeat', `shc_wrong_${i}`, {});
      statuses.push(r.status);
      if (r.status === 429) retryAfter = r.headers.get('retry-after');
    }
    expect(statuses.slice(0, 10).every((s) => s === 401)).toBe(true);
    expect(statuses.slice(10).every((s) => s === 429)).toBe(true);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    // a wrong enrollment token is throttled too, before it is checked
    expect((await call(limited, 'POST', '/v1/agent/enroll', 'sle_wrong', { name: 'x', labels: {} })).status).toBe(429);

    for (let i = 0; i < 5; i++) expect((await call(limited, 'POST', '/v1/agent/heartbeat', real.json.credential, {})).status).toBe(200);
    expect((await call(limited, 'GET', '/v1/hosts', limited.adminToken)).status).toBe(200);
    // a request without a token guesses nothing: 401, not counted
    expect((await call(limited, 'GET', '/v1/hosts', null)).status).toBe(401);
    // credentials the server issues while the address is throttled work at once
    const rotated = await call(limited, 'POST', '/v1/agent/rotate', real.json.credential, {});
    expect(rotated.status).toBe(200);
    expect((await call(limited, 'POST', '/v1/agent/heartbeat', rotated.json.credential, {})).status).toBe(200);
    const newcomer = await call(limited, 'POST', '/v1/agent/enroll', limited.enrollToken, { name: 'new-1', labels: {} });
    expect(newcomer.status).toBe(200);
    expect((await call(limited, 'POST', '/v1/agent/heartbeat', newcomer.json.credential, {})).status).toBe(200);
    // the old credential, rotated away, is refused: 401 (it authenticates no more; it was good, so no 429)
    expect((await call(limited, 'POST', '/v1/agent/heartbeat', real.json.credential, {})).status).toBe(401);
  });

  it('enrollments per address are limited (429 with Retry-After)', async () => {
    // real-1 and new-1 took two of the 5; enrollment has its own bucket
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => call(limited, 'POST', '/v1/agent/enroll', limited.enrollToken, { name: `burst-${i}`, labels: {} })));
    const ok = results.filter((r) => r.status === 200).length;
    const throttled = results.filter((r) => r.status === 429);
    expect(ok).toBeLessThanOrEqual(3);
    expect(throttled.length).toBeGreaterThanOrEqual(5);
    expect(Number(throttled[0]!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });
});

const pgdb = await postgresTestDatabase();

describe.skipIf(pgdb === null)('on PostgreSQL, two replicas', () => {
  let a: RunningServer;
  let b: RunningServer;
  const ADMIN = 'sla_hostid_pg_admin_0123456789';
  const ENROLL = 'sle_hostid_pg_enroll_0123456789';
  beforeAll(async () => {
    const common = { listen: '127.0.0.1:0', databaseUrl: pgdb!.url, log: silentLogger(), adminToken: ADMIN, enrollToken: ENROLL, lease: { ttlMs: 3000, renewMs: 1000, pollMs: 500 } };
    a = await startServer(common);
    b = await startServer(common);
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
    await pgdb?.cleanup();
  });

  it('a scoped token never enrolls more than its max uses across replicas; an impostor is refused on either', async () => {
    const t = await call(a, 'POST', '/v1/enroll-tokens', ADMIN, { name: 'pg-batch', maxUses: 5 });
    expect(t.status).toBe(201);
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => call(i % 2 === 0 ? a : b, 'POST', '/v1/agent/enroll', t.json.token, { name: `pg-${i}`, labels: {} })),
    );
    expect(results.filter((r) => r.status === 200)).toHaveLength(5);
    const taken = results.find((r) => r.status === 200)!.json.host as string;
    expect((await call(b, 'POST', '/v1/agent/enroll', ENROLL, { name: taken, labels: {} })).status).toBe(409);
    expect((await call(a, 'POST', '/v1/agent/enroll', ENROLL, { name: taken, labels: {} })).status).toBe(409);
  });

  it('a reset on one replica: new assignments are never handed to the old credential on the other', async () => {
    const e = await call(a, 'POST', '/v1/agent/enroll', ENROLL, { name: 'pg-reset', labels: {} });
    expect(e.status).toBe(200);
    // b verifies (and caches) the credential
    expect((await call(b, 'POST', '/v1/agent/heartbeat', e.json.credential, {})).status).toBe(200);
    expect((await call(a, 'POST', '/v1/hosts/pg-reset/reset', ADMIN, {})).status).toBe(200);
    // b's cache may still accept a heartbeat for up to 60 s, but an answer with assignments the
    // agent does not have yet (here: the first one) checks the database
    expect((await call(b, 'GET', '/v1/agent/assignments?waitMs=0', e.json.credential)).status).toBe(401);
    // and the reset name enrolls again, once
    expect((await call(b, 'POST', '/v1/agent/enroll', ENROLL, { name: 'pg-reset', labels: {} })).status).toBe(200);
    expect((await call(a, 'POST', '/v1/agent/enroll', ENROLL, { name: 'pg-reset', labels: {} })).status).toBe(409);
  });

  it('rotation: the previous credential works on the other replica until the new one is used', async () => {
    const e = await call(a, 'POST', '/v1/agent/enroll', ENROLL, { name: 'pg-rot', labels: {} });
    const r = await call(a, 'POST', '/v1/agent/rotate', e.json.credential, {});
    expect(r.status).toBe(200);
    expect((await call(b, 'POST', '/v1/agent/heartbeat', e.json.credential, {})).status).toBe(200);
    expect((await call(b, 'POST', '/v1/agent/heartbeat', r.json.credential, {})).status).toBe(200);
    expect((await call(b, 'GET', '/v1/agent/assignments?waitMs=0', e.json.credential)).status).toBe(401);
  });
});

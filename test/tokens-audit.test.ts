// Named tokens and the audit log through the HTTP API on the embedded store (PGlite): create,
// list, revoke and expiry; audit entries for a start, an approval and refusals, each written once;
// a plan with `distinctApprover: true` refusing the starter's approval; and no secret in the logs.
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../src/server/start-server.ts';
import { createLogger } from '../src/server/logger.ts';
import { runCli } from '../src/cli/run-cli.ts';
import { registerTokensCommand } from '../src/cli/tokens-command.ts';
import { registerAuditCommand } from '../src/cli/audit-command.ts';
import { registerRolloutCommands } from '../src/cli/rollout-command.ts';
import { createTestIo } from '../src/cli/test-io.ts';
import { silentLogger } from '../src/server/logger.ts';
import { postgresTestDatabase } from './helpers/postgres.ts';

let server: RunningServer;
let logText = '';

async function call(method: string, path: string, token?: string, body?: unknown): Promise<{ status: number; json: any; text: string; headers: Headers }> {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(server.url + path, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  const text = await res.text();
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, json, text, headers: res.headers };
}

async function createToken(name: string, role: string, owner: string, extra: Record<string, unknown> = {}): Promise<string> {
  const res = await call('POST', '/v1/tokens', server.adminToken, { name, owner, role, ...extra });
  expect(res.status, res.text).toBe(201);
  return res.json.secret as string;
}

async function audit(query: string): Promise<any[]> {
  const res = await call('GET', `/v1/audit?${query}`, server.adminToken);
  expect(res.status, res.text).toBe(200);
  return res.json.entries;
}

const PLAN = `
name: four-eyes
change:
  command: { apply: ["true"], rollback: ["true"] }
waves:
  - { name: prod, approve: true }
budget: { failedPerWave: 0, failedTotal: 0, silentAfter: 60s }
confirmWindow: 0s
distinctApprover: true
`;

const secrets: string[] = [];

beforeAll(async () => {
  const sink = new Writable({
    write(chunk, _enc, done) {
      logText += String(chunk);
      done();
    },
  });
  server = await startServer({ listen: '127.0.0.1:0', memory: true, log: createLogger({ level: 'debug', destination: sink }), tickMs: 50 });
  const enrolled = await call('POST', '/v1/agent/enroll', server.enrollToken, { name: 'web-1', labels: {}, facts: { allow: ['command'] } });
  expect(enrolled.status).toBe(200);
});

afterAll(async () => {
  await server?.close();
});

describe('named tokens', () => {
  it('creates a token whose secret is shown once: the list has neither secret nor hash', async () => {
    const secret = await createToken('ci-viewer', 'viewer', 'ci');
    secrets.push(secret);
    expect(secret).toMatch(/^slt_/);
    expect((await call('GET', '/v1/rollouts', secret)).status).toBe(200);

    const list = await call('GET', '/v1/tokens', server.adminToken);
    expect(list.status).toBe(200);
    const row = list.json.tokens.find((t: any) => t.name === 'ci-viewer');
    expect(row).toMatchObject({ name: 'ci-viewer', owner: 'ci', role: 'viewer', state: 'active', createdBy: 'admin', expiresAt: null, revokedAt: null });
    expect(list.text).not.toContain(secret);
    expect(list.text).not.toMatch(/hash/i);
    // used: last_used_at recorded
    expect(row.lastUsedAt).toBeGreaterThan(0);
  });

  it('refuses a taken name, an unknown role, a bad expiry, and a non-admin creator', async () => {
    expect((await call('POST', '/v1/tokens', server.adminToken, { name: 'ci-viewer', owner: 'x', role: 'viewer' })).status).toBe(409);
    const reserved = await call('POST', '/v1/tokens', server.adminToken, { name: 'admin', owner: 'x', role: 'admin' });
    expect(reserved.status).toBe(400);
    expect(reserved.json.error.message).toContain('reserved');
    const badRole = await call('POST', '/v1/tokens', server.adminToken, { name: 'x1', owner: 'x', role: 'root' });
    expect(badRole.status).toBe(400);
    expect(badRole.json.error.message).toMatch(/role/);
    const badExpiry = await call('POST', '/v1/tokens', server.adminToken, { name: 'x2', owner: 'x', role: 'viewer', expiresIn: 'soon' });
    expect(badExpiry.status).toBe(400);
    expect(badExpiry.json.error.message).toContain('expiresIn takes a duration');
    const operator = await createToken('op-creator', 'operator', 'ops');
    const byOperator = await call('POST', '/v1/tokens', operator, { name: 'x3', owner: 'x', role: 'admin' });
    expect(byOperator.status).toBe(403);
    expect(byOperator.json.error.message).toBe('this needs the admin role; op-creator has operator');
  });

  it('refuses a revoked token at once on this replica, with a message that says so', async () => {
    const secret = await createToken('to-revoke', 'viewer', 'temp');
    expect((await call('GET', '/v1/rollouts', secret)).status).toBe(200);
    const revoked = await call('POST', '/v1/tokens/to-revoke/revoke', server.adminToken);
    expect(revoked.status).toBe(200);
    expect(revoked.json.token).toMatchObject({ name: 'to-revoke', state: 'revoked' });
    const after = await call('GET', '/v1/rollouts', secret);
    expect(after.status).toBe(401);
    expect(after.json.error.message).toMatch(/^token to-revoke was revoked at \d{4}-.*; ask an admin for a new one$/);
    expect((await call('POST', '/v1/tokens/no-such/revoke', server.adminToken)).status).toBe(404);
    // the refused attempt is audited under the token's name: a revoked token still in use is worth seeing
    const refused = (await audit('actor=to-revoke&result=denied')).map((e) => [e.action, e.detail.status]);
    expect(refused).toEqual([['GET /v1/rollouts', 401]]);
  });

  it('takes a revocation made elsewhere (another replica, straight in the store) within a second', async () => {
    const secret = await createToken('elsewhere', 'viewer', 'temp');
    expect((await call('GET', '/v1/rollouts', secret)).status).toBe(200); // cached now
    const started = Date.now();
    await server.store.revokeApiToken('elsewhere', Date.now());
    let status = 200;
    while (status === 200 && Date.now() - started < 3000) {
      status = (await call('GET', '/v1/rollouts', secret)).status;
      if (status === 200) await new Promise((r) => setTimeout(r, 50));
    }
    expect(status).toBe(401);
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('refuses an expired token, saying when it expired', async () => {
    const secret = await createToken('short-lived', 'viewer', 'temp', { expiresIn: '1s' });
    expect((await call('GET', '/v1/rollouts', secret)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1100));
    const res = await call('GET', '/v1/rollouts', secret);
    expect(res.status).toBe(401);
    expect(res.json.error.message).toMatch(/^token short-lived expired at \d{4}-/);
    const list = await call('GET', '/v1/tokens', server.adminToken);
    expect(list.json.tokens.find((t: any) => t.name === 'short-lived').state).toBe('expired');
  });
});

describe('audit log and approvals', () => {
  let aliceOp: string;
  let aliceAp: string;
  let bobAp: string;
  let rolloutId: string;

  beforeAll(async () => {
    aliceOp = await createToken('alice-op', 'operator', 'alice');
    aliceAp = await createToken('alice-ap', 'approver', 'alice');
    bobAp = await createToken('bob-ap', 'approver', 'bob');
    secrets.push(aliceOp, aliceAp, bobAp);
  });

  it('audits refusals: no token (anonymous, 401) and a viewer starting a rollout (403)', async () => {
    expect((await call('POST', '/v1/rollouts', undefined, { plan: PLAN })).status).toBe(401);
    expect((await call('POST', '/v1/rollouts', secrets[0], { plan: PLAN })).status).toBe(403);
    const denied = await audit('action=rollout.start&result=denied');
    expect(denied.map((e) => [e.actor, e.role, e.detail.status])).toEqual([
      ['anonymous', null, 401],
      ['ci-viewer', 'viewer', 403],
    ]);
    expect(denied[1].detail.error).toBe('this needs the operator role; ci-viewer has viewer');
    expect(denied[1].tokenId).toMatch(/^tok_/);
    expect(denied[1].sourceIp).toMatch(/127\.0\.0\.1/);
  });

  it('audits a start once, written with the rollout', async () => {
    const res = await call('POST', '/v1/rollouts', aliceOp, { plan: PLAN });
    expect(res.status, res.text).toBe(201);
    rolloutId = res.json.id;
    const entries = await audit(`target=${rolloutId}`);
    expect(entries.map((e) => [e.actor, e.action, e.result])).toEqual([['alice-op', 'rollout.start', 'ok']]);
    expect(entries[0].detail).toEqual({ plan: 'four-eyes' });
    const view = (await call('GET', `/v1/rollouts/${rolloutId}`, secrets[0])).json;
    expect(view.startedBy).toBe('alice-op');
    expect(view.waves[0].state).toBe('awaiting_approval');
  });

  it('refuses the approval of the starter’s other token (same owner) and of an operator, and audits both', async () => {
    const same = await call('POST', `/v1/rollouts/${rolloutId}/approve`, aliceAp);
    expect(same.status).toBe(403);
    expect(same.json.error.message).toContain('requires a distinct approver');
    expect(same.json.error.message).toContain('started by alice-op (owner alice)');
    const starter = await call('POST', `/v1/rollouts/${rolloutId}/approve`, aliceOp);
    expect(starter.status).toBe(403);
    expect(starter.json.error.message).toBe('this needs the approver role; alice-op has operator');
    const entries = await audit(`target=${rolloutId}&action=rollout.approve`);
    expect(entries.map((e) => [e.actor, e.result])).toEqual([
      ['alice-ap', 'denied'],
      ['alice-op', 'denied'],
    ]);
  });

  it('takes the approval of another person, records who in the event log and the view, audits it once', async () => {
    const res = await call('POST', `/v1/rollouts/${rolloutId}/approve`, bobAp);
    expect(res.status, res.text).toBe(200);
    const view = (await call('GET', `/v1/rollouts/${rolloutId}`, secrets[0])).json;
    expect(view.approvals).toEqual([{ wave: 'prod', by: 'bob-ap', at: expect.any(Number) }]);
    const events = (await call('GET', `/v1/rollouts/${rolloutId}/events`, secrets[0])).json.events;
    expect(events.map((e: any) => e.message)).toContain('wave prod approved by bob-ap');

    // approving again: nothing awaits approval (409), audited as failed
    expect((await call('POST', `/v1/rollouts/${rolloutId}/approve`, bobAp)).status).toBe(409);
    const entries = await audit(`target=${rolloutId}&actor=bob-ap`);
    expect(entries.map((e) => [e.action, e.result, e.detail?.status ?? null])).toEqual([
      ['rollout.approve', 'ok', null],
      ['rollout.approve', 'failed', 409],
    ]);
  });

  it('pages, filters by time and prefix, answers JSON lines, and is admin only', async () => {
    const all = await audit('limit=1000');
    expect(all.length).toBeGreaterThan(8);
    const page = await call('GET', '/v1/audit?limit=3', server.adminToken);
    const next = await call('GET', `/v1/audit?limit=3&cursor=${page.json.nextCursor}`, server.adminToken);
    expect([...page.json.entries, ...next.json.entries].map((e: any) => e.id)).toEqual(all.slice(0, 6).map((e) => e.id));
    expect((await audit('action=token.*')).every((e) => e.action.startsWith('token.'))).toBe(true);
    const mid = all[4].at;
    expect((await audit(`since=${mid}&limit=1000`)).every((e) => e.at >= mid)).toBe(true);
    expect((await audit(`until=${new Date(mid).toISOString()}&limit=1000`)).every((e) => e.at < mid)).toBe(true);

    const lines = await call('GET', '/v1/audit?format=jsonl&limit=2', server.adminToken);
    expect(lines.headers.get('content-type')).toContain('application/x-ndjson');
    const parsed = lines.text.trim().split('\n').map((l) => JSON.parse(l));
    expect(parsed.map((e) => e.id)).toEqual(all.slice(0, 2).map((e) => e.id));
    expect(lines.headers.get('x-next-cursor')).toBe(String(all[1].id));

    expect((await call('GET', '/v1/audit?since=yesterday', server.adminToken)).status).toBe(400);
    expect((await call('GET', '/v1/audit?nope=1', server.adminToken)).status).toBe(400);
    expect((await call('GET', '/v1/audit', secrets[0])).status).toBe(403);
  });

  it('audits token management and host enrollment, and logs no secret anywhere', async () => {
    const tokenEntries = await audit('action=token.');
    expect(tokenEntries.some((e) => e.action === 'token.create' && e.target === 'alice-op' && e.result === 'ok')).toBe(true);
    expect(tokenEntries.some((e) => e.action === 'token.revoke' && e.target === 'to-revoke' && e.result === 'ok')).toBe(true);
    expect(tokenEntries.some((e) => e.action === 'token.create' && e.result === 'failed' && e.detail.status === 409)).toBe(true);
    expect((await audit('action=host.enrolled')).map((e) => [e.actor, e.target, e.result])).toEqual([['enroll:bootstrap', 'web-1', 'ok']]);
    const everything = JSON.stringify(await audit('limit=1000'));
    for (const s of [...secrets, server.adminToken, server.enrollToken]) {
      expect(everything).not.toContain(s);
      expect(logText).not.toContain(s);
    }
    expect(logText).toContain('token created');
  });
});

async function sluice(args: string[], token = server.adminToken): Promise<{ code: number; stdout: string; stderr: string }> {
  const io = createTestIo({ env: { SLUICE_SERVER: server.url, SLUICE_TOKEN: token }, now: Date.now() });
  const code = await runCli(args, io, (program) => {
    registerTokensCommand(program, io);
    registerAuditCommand(program, io);
    registerRolloutCommands(program, io);
  });
  return { code, stdout: io.stdout.text, stderr: io.stderr.text };
}

describe('sluice tokens and sluice audit', () => {
  it('creates a token (the secret alone on stdout), lists it, revokes it', async () => {
    const created = await sluice(['tokens', 'create', 'cli-bot', '--role', 'operator', '--owner', 'ci', '--expires', '30d']);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toMatch(/^slt_\S+\n$/);
    expect(created.stderr).toContain('Created token cli-bot (role operator, owner ci, expires 20');
    expect(created.stderr).toContain('shown this once');
    const secret = created.stdout.trim();

    const list = await sluice(['tokens', 'list']);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/NAME\s+ROLE\s+OWNER\s+STATE/);
    expect(list.stdout).toMatch(/cli-bot\s+operator\s+ci\s+active/);
    expect(list.stdout).not.toContain(secret);
    const json = JSON.parse((await sluice(['tokens', 'list', '--json'])).stdout);
    expect(json.find((t: any) => t.name === 'cli-bot')).toMatchObject({ role: 'operator', state: 'active' });

    // the new token cannot manage tokens: a clear 403, exit 2
    const denied = await sluice(['tokens', 'list'], secret);
    expect(denied.code).toBe(2);
    expect(denied.stderr).toContain('this needs the admin role; cli-bot has operator');

    const revoked = await sluice(['tokens', 'revoke', 'cli-bot']);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toContain('Revoked token cli-bot');
    expect((await sluice(['tokens', 'list'], secret)).stderr).toContain('token cli-bot was revoked');
    expect((await sluice(['tokens', 'revoke', 'no-such-token'])).code).toBe(2);
  });

  it('refuses bad flags with a message that says what is expected', async () => {
    const role = await sluice(['tokens', 'create', 'x', '--role', 'root', '--owner', 'me']);
    expect(role.code).toBe(2);
    expect(role.stderr).toContain('--role is one of viewer, operator, approver, remediator, admin');
    const expires = await sluice(['tokens', 'create', 'x', '--role', 'viewer', '--owner', 'me', '--expires', 'someday']);
    expect(expires.code).toBe(2);
    expect(expires.stderr).toContain('--expires takes a duration');
    expect((await sluice(['audit', '--since', 'yesterday'])).stderr).toContain('--since takes a duration back from now');
  });

  it('shows the audit log as a table, JSON and JSON lines, filtered', async () => {
    const table = await sluice(['audit', '--since', '1h', '--action', 'token.*']);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/TIME \(UTC\)\s+ACTOR\s+ACTION\s+TARGET\s+RESULT/);
    expect(table.stdout).toMatch(/admin \(admin\)\s+token\.revoke\s+cli-bot\s+ok/);
    const lines = (await sluice(['audit', '--jsonl', '--result', 'denied'])).stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.length).toBeGreaterThan(2);
    expect(lines.every((e) => e.result === 'denied')).toBe(true);
    const json = JSON.parse((await sluice(['audit', '--json', '--actor', 'cli-bot'])).stdout);
    // refused for its role (403), then as revoked (401)
    expect(json.map((e: any) => [e.action, e.result, e.detail.status])).toEqual([
      ['GET /v1/tokens', 'denied', 403],
      ['GET /v1/tokens', 'denied', 401],
    ]);
    expect((await sluice(['audit', '--actor', 'nobody-at-all'])).stdout).toBe('No audit entries match.\n');
  });

  it('rollout status says who started the rollout and who approved its wave', async () => {
    const status = await sluice(['rollout', 'status', 'latest']);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/created .* by alice-op/);
    expect(status.stdout).toContain('approved by bob-ap');
  });

  it('--follow prints entries written after it started, as JSON lines', async () => {
    const io = createTestIo({ env: { SLUICE_SERVER: server.url, SLUICE_TOKEN: server.adminToken }, now: Date.now() });
    let polls = 0;
    const followIo = {
      ...io,
      sleep: async () => {
        polls += 1;
        if (polls === 1) await call('POST', '/v1/tokens', server.adminToken, { name: 'followed', owner: 'x', role: 'viewer' });
        if (polls === 3) throw new Error('stop following');
      },
    };
    const code = await runCli(['audit', '--jsonl', '--follow', '--action', 'token.create'], followIo, (program) => {
      registerAuditCommand(program, followIo);
    });
    expect(code).not.toBe(0); // stopped by the thrown sleep
    const lines = io.stdout.text.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.at(-1)).toMatchObject({ action: 'token.create', target: 'followed', result: 'ok' });
    expect(lines.filter((e) => e.target === 'followed')).toHaveLength(1);
  });

  it('explains itself in --help', async () => {
    const help = await sluice(['tokens', '--help']);
    expect(help.stdout).toContain('approver  viewer, plus approve waves');
    expect((await sluice(['audit', '--help'])).stdout).toContain('sluice audit --jsonl --follow');
  });
});

// Two replicas on one PostgreSQL database: a token made on one works on the other, a revocation
// on one is refused by the other within a second (its lookup cache), and a rollout started
// through the follower (forwarded to the leader, whose store is fenced) is audited once, with
// who started it.
const pgDb = await postgresTestDatabase();
describe.skipIf(pgDb === null)('tokens and audit across replicas (PostgreSQL)', () => {
  const admin = 'sla_tokens_pg_admin_0123456789';
  let leader: RunningServer;
  let follower: RunningServer;

  beforeAll(async () => {
    const common = { listen: '127.0.0.1:0', databaseUrl: pgDb!.url, log: silentLogger(), tickMs: 50, adminToken: admin, enrollToken: 'sle_tokens_pg_enroll_0123456789' };
    leader = await startServer(common);
    follower = await startServer(common);
  });
  afterAll(async () => {
    await follower?.close();
    await leader?.close();
    await pgDb?.cleanup();
  });

  const at = async (s: RunningServer, method: string, path: string, token: string, body?: unknown) => {
    const res = await fetch(s.url + path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, json: (await res.json()) as any };
  };

  it('revokes on one replica, refused on the other within a second', async () => {
    const created = await at(leader, 'POST', '/v1/tokens', admin, { name: 'pg-op', owner: 'carol', role: 'operator' });
    expect(created.status).toBe(201);
    const secret = created.json.secret as string;
    expect((await at(follower, 'GET', '/v1/rollouts', secret)).status).toBe(200); // cached on the follower now
    expect((await at(leader, 'POST', '/v1/tokens/pg-op/revoke', admin)).status).toBe(200);
    const started = Date.now();
    let res = await at(follower, 'GET', '/v1/rollouts', secret);
    while (res.status === 200 && Date.now() - started < 3000) {
      await new Promise((r) => setTimeout(r, 50));
      res = await at(follower, 'GET', '/v1/rollouts', secret);
    }
    expect(res.status).toBe(401);
    expect(res.json.error.message).toContain('token pg-op was revoked');
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('audits a start sent to the follower once, on the leader, with who started it', async () => {
    expect((await at(leader, 'GET', '/v1/health', admin)).json.role).toBe('leader');
    const secret = (await at(follower, 'POST', '/v1/tokens', admin, { name: 'pg-starter', owner: 'dave', role: 'operator' })).json.secret as string;
    const plan = 'name: pg-audit\nchange:\n  command: { apply: ["true"] }\nwaves:\n  - { name: all }\nconfirmWindow: 0s\n';
    const started = await at(follower, 'POST', '/v1/rollouts', secret, { plan });
    expect(started.status).toBe(201);
    const entries = (await at(follower, 'GET', `/v1/audit?target=${started.json.id}`, admin)).json.entries;
    expect(entries.map((e: any) => [e.actor, e.action, e.result])).toEqual([['pg-starter', 'rollout.start', 'ok']]);
    expect(entries[0].detail.forwardedBy).toBeTruthy();
    expect((await at(leader, 'GET', `/v1/rollouts/${started.json.id}`, admin)).json.startedBy).toBe('pg-starter');
  });
});

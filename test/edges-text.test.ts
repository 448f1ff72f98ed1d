// Any bytes in, valid text out (issue 7, case 9): a real `sluice server` process, on PGlite and on
// PostgreSQL, fed agent-like HTTP requests carrying NUL bytes, lone surrogates, invalid UTF-8,
// terminal escape sequences and oversized text. Host output is stored made safe and bounded
// (never stuck in an outbox, never a 500); bad labels, facts keys or plans from operators and
// agents get a 400 that says why; the CLI prints host text without control sequences.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, ENROLL_TOKEN, runCli, startServerProc, tempDir, waitFor, type ServerProc } from './helpers/processes.ts';
import { hasLoneSurrogate } from '../src/core/text.ts';
import { postgresTestDatabase, type PostgresTestDatabase } from './helpers/postgres.ts';

const NASTY = 'boom\u0000 \ud800 lone \x1b[31mred\x1b[0m \x1b]0;pwned\x07 \x1b[2J end';

interface Target {
  readonly name: string;
  server?: ServerProc;
  dir?: { path: string; remove(): void };
  db?: PostgresTestDatabase | null;
}

const pg: PostgresTestDatabase | null = await postgresTestDatabase();
const targets: Target[] = [{ name: 'PGlite' }, ...(pg ? [{ name: 'PostgreSQL', db: pg }] : [])];

beforeAll(async () => {
  await Promise.all(
    targets.map(async (t) => {
      t.dir = tempDir('edges-text');
      t.server = await startServerProc(t.dir.path, 0, t.db ? { SLUICE_DATABASE_URL: t.db.url } : {});
    }),
  );
});

afterAll(async () => {
  for (const t of targets) {
    await t.server?.kill();
    t.dir?.remove();
  }
  await pg?.cleanup();
});

async function call(t: Target, method: string, path: string, token: string, body?: unknown, raw?: Uint8Array | string): Promise<{ status: number; json: any; text: string }> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  let payload: BodyInit | undefined;
  if (raw !== undefined) payload = raw as BodyInit;
  else if (body !== undefined) payload = JSON.stringify(body);
  if (payload !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(t.server!.url + path, { method, headers, ...(payload !== undefined ? { body: payload } : {}) });
  const text = await res.text();
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, json, text };
}

/** JSON text with a lone surrogate escape, which JSON.stringify of a JS string also produces. */
function rawJson(value: unknown): string {
  return JSON.stringify(value);
}

function noUnsafe(s: string): void {
  expect(s).not.toContain('\u0000');
  expect(hasLoneSurrogate(s)).toBe(false);
  expect(s).not.toMatch(/\\u0000|\\ud[89ab][0-9a-f]{2}(?!\\ud[c-f])/i);
}

const PLAN = (match: string) => `
name: edges-text
change:
  command: { apply: ["true"], rollback: ["true"] }
hosts: { match: { role: ${match} } }
waves:
  - { name: all }
budget: { failedPerWave: 0, failedTotal: 0, silentAfter: 60s }
onFailure: halt
`;

describe.each(targets)('on $name', (t) => {
  let credential = '';
  const host = `nasty-${t.name.toLowerCase()}`;

  it('refuses NUL, lone surrogates and control characters in labels with a 400 that says why', async () => {
    for (const value of ['a\u0000b', 'a\ud800b', 'a\x1b[2Jb']) {
      const res = await call(t, 'POST', '/v1/agent/enroll', ENROLL_TOKEN, undefined, rawJson({ name: host, labels: { role: value } }));
      expect(res.status, res.text).toBe(400);
      expect(res.json.error.message).toMatch(/labels\.role: .*(NUL|surrogate|control)/);
    }
  });

  it('stores facts with NUL and lone surrogates (keys and values) made safe', async () => {
    const facts = { allow: ['command', 'apt', 'file', 'command-check'], os: 'linux\u0000', 'weird\u0000key': 'x\ud800', nested: { list: ['a\u0000', '\udc00', 1] }, big: 'y'.repeat(200_000) };
    const res = await call(t, 'POST', '/v1/agent/enroll', ENROLL_TOKEN, undefined, rawJson({ name: host, labels: { role: 'edge' }, facts }));
    expect(res.status, res.text).toBe(200);
    credential = res.json.credential;
    const hb = await call(t, 'POST', '/v1/agent/heartbeat', credential, undefined, rawJson({ facts: { ...facts, os: 'again\u0000\ud83d' } }));
    expect(hb.status, hb.text).toBe(200);
    const hosts = await call(t, 'GET', '/v1/hosts', ADMIN_TOKEN);
    expect(hosts.status).toBe(200);
    const row = hosts.json.hosts.find((h: any) => h.name === host);
    expect(row.facts.os).toBe('again\ufffd');
    expect(row.facts.weirdkey).toBe('x\ufffd');
    expect(row.facts.nested.list).toEqual(['a', '\ufffd', 1]);
    expect(row.facts.big.length).toBeLessThan(200_000);
    noUnsafe(hosts.text);
  });

  it('refuses a plan with NUL or a lone surrogate with a 400, never a 500', async () => {
    for (const bad of ['"ed\\0ge"', '"ed\\ud800ge"']) {
      const res = await call(t, 'POST', '/v1/rollouts', ADMIN_TOKEN, undefined, rawJson({ plan: PLAN(bad) }));
      expect(res.status, res.text).toBe(400);
    }
    for (const bad of ['ed\u0000ge', 'ed\ud800ge']) {
      const res = await call(t, 'POST', '/v1/rollouts', ADMIN_TOKEN, undefined, rawJson({ plan: PLAN(`"${bad}"`) }));
      expect(res.status, res.text).toBe(400);
      expect(res.json.error.message).toMatch(/NUL|surrogate/);
    }
  });

  it('stores a report whose message has NUL, lone surrogates, escapes and 100 KB: accepted, applied, bounded', async () => {
    const started = await call(t, 'POST', '/v1/rollouts', ADMIN_TOKEN, { plan: PLAN('edge') });
    expect(started.status, started.text).toBe(201);
    const id = started.json.id as string;
    await waitFor('the host to be assigned', async () => {
      const a = await call(t, 'GET', '/v1/agent/assignments', credential);
      return a.json.assignments.length === 1;
    });
    const message = `${NASTY} ${'z'.repeat(100_000)}`;
    const report = { id: `nasty-report-${t.name}`, rolloutId: id, attempt: 1, kind: 'apply', ok: false, message, details: { 'k\u0000': 'v\u0000\ud800' } };
    const res = await call(t, 'POST', '/v1/agent/reports', credential, undefined, rawJson({ reports: [report] }));
    expect(res.status, res.text).toBe(200);
    expect(res.json.accepted).toEqual([report.id]);
    const view = await waitFor('the rollout to halt on the failed apply', async () => {
      const v = await call(t, 'GET', `/v1/rollouts/${id}`, ADMIN_TOKEN);
      return v.json.state === 'halted' ? v : null;
    });
    const step = view.json.waves[0].hosts[0];
    expect(step.state).toBe('failed');
    expect(step.message).toContain('boom');
    expect(step.message.length).toBeLessThan(20_000);
    noUnsafe(view.text);
    const events = await call(t, 'GET', `/v1/rollouts/${id}/events`, ADMIN_TOKEN);
    expect(events.text).toContain('boom');
    noUnsafe(events.text);

    // The CLI prints the host's text without its escape sequences.
    const env = { SLUICE_SERVER: t.server!.url, SLUICE_TOKEN: ADMIN_TOKEN, NO_COLOR: '1' };
    for (const args of [['rollout', 'events', id], ['rollout', 'status', id]]) {
      const out = await runCli(args, env);
      expect(out.code, out.stderr).toBe(0);
      expect(out.stdout).toContain('boom');
      expect(out.stdout).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/);
    }
  });

  it('records drift with NUL, lone surrogates and escapes, and the CLI prints it clean', async () => {
    const event = { id: `drift-nasty-${t.name}`, kind: 'package-changed', subject: 'pkg\u0000', message: NASTY, at: Date.now(), open: true, details: { 'from\u0000': '\ud800' } };
    const res = await call(t, 'POST', '/v1/agent/drift', credential, undefined, rawJson({ events: [event] }));
    expect(res.status, res.text).toBe(200);
    expect(res.json.recorded).toBe(1);
    const drift = await call(t, 'GET', '/v1/drift', ADMIN_TOKEN);
    expect(drift.status).toBe(200);
    expect(drift.text).toContain('boom');
    noUnsafe(drift.text);
    const out = await runCli(['drift'], { SLUICE_SERVER: t.server!.url, SLUICE_TOKEN: ADMIN_TOKEN, NO_COLOR: '1' });
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toContain('boom');
    expect(out.stdout).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/);
  });

  it('answers invalid UTF-8, malformed JSON and odd ids with 4xx, never a 500', async () => {
    const bytes = Buffer.concat([Buffer.from('{"labels":{"role":"a'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"}}')]);
    const hb = await call(t, 'POST', '/v1/agent/heartbeat', credential, undefined, new Uint8Array(bytes));
    expect(hb.status, hb.text).toBeLessThan(500);
    const bad = await call(t, 'POST', '/v1/agent/heartbeat', credential, undefined, '{"facts": {"a": ');
    expect(bad.status).toBe(400);
    for (const path of ['/v1/rollouts/%00', '/v1/rollouts/%ED%A0%80', '/v1/rollouts/r%00x/events', '/v1/drift?host=%00']) {
      const res = await call(t, 'GET', path, ADMIN_TOKEN);
      expect(res.status, `${path}: ${res.text}`).toBeGreaterThanOrEqual(400);
      expect(res.status, `${path}: ${res.text}`).toBeLessThan(500);
    }
    const action = await call(t, 'POST', '/v1/rollouts/%00/pause', ADMIN_TOKEN, {});
    expect(action.status, action.text).toBeLessThan(500);
    const report = await call(t, 'POST', '/v1/agent/reports', credential, undefined, rawJson({ reports: [{ id: 'odd-rollout-id-1', rolloutId: 'r\u0000x', attempt: 1, kind: 'apply', ok: true }] }));
    expect(report.status, report.text).toBeLessThan(500);
    // The server is still fine.
    expect((await call(t, 'GET', '/v1/hosts', ADMIN_TOKEN)).status).toBe(200);
  });
});

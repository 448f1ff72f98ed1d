// Small things a user hit (issue 7), each through the real CLI and server processes:
// `sluice --version`; `sluice --help | head` without an EPIPE stack trace; rollout ids as unique
// prefixes and `latest` in the API and the CLI; the server banner with --listen and --data-dir;
// a PostgreSQL search_path schema that does not exist.
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, ENROLL_TOKEN, REPO, SLUICE, api, runCli, startProc, startServerProc, tempDir, waitFor, type ServerProc } from './helpers/processes.ts';
import { postgresTestDatabase, type PostgresTestDatabase } from './helpers/postgres.ts';

const VERSION = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;

describe('sluice --version', () => {
  it('prints the version and exits 0', async () => {
    for (const flag of ['--version', '-V']) {
      const out = await runCli([flag]);
      expect(out.code, out.stderr).toBe(0);
      expect(out.stdout.trim()).toBe(VERSION);
    }
  });
});

describe('stdout closed early (sluice --help | head)', () => {
  it('exits 0 quietly, without an EPIPE stack trace', async () => {
    for (const args of [['--help'], ['rollout', '--help'], ['plan', 'check', join(REPO, 'examples', 'flag-on.yaml')]]) {
      const child = spawn(SLUICE, args, { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
      // The reader goes away before the CLI has written anything (it takes a while to start).
      child.stdout.destroy();
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const code = await new Promise<number | string>((r) => child.once('exit', (c, s) => r(c ?? s ?? 'unknown')));
      expect(stderr, args.join(' ')).not.toMatch(/EPIPE|Error|\n\s+at /);
      expect(code, `${args.join(' ')}: ${stderr}`).toBe(0);
    }
  });
});

describe('rollout ids: a unique prefix or `latest`', () => {
  let dir: { path: string; remove(): void };
  let server: ServerProc;
  const ids: string[] = [];

  beforeAll(async () => {
    dir = tempDir('edges-ref');
    server = await startServerProc(dir.path);
    for (const name of ['ref-a', 'ref-b']) {
      const res = await fetch(`${server.url}/v1/agent/enroll`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ENROLL_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name, labels: { role: name }, facts: { allow: ['command', 'apt', 'file', 'command-check'] } }),
      });
      expect(res.status).toBe(200);
      // Each waits for approval, so both stay active and nothing is assigned.
      const plan = `name: ${name}\nchange:\n  command: { apply: ["true"] }\nhosts: { match: { role: ${name} } }\nwaves:\n  - { name: all, approve: true }\n`;
      ids.push((await api(server.url, 'POST', '/v1/rollouts', { plan })).id);
    }
  });

  afterAll(async () => {
    await server?.kill();
    dir?.remove();
  });

  /** The shortest prefix of `id` that is not a prefix of `other`. */
  function uniquePrefix(id: string, other: string): string {
    let n = 1;
    while (other.startsWith(id.slice(0, n))) n++;
    return id.slice(0, n);
  }

  async function get(path: string): Promise<{ status: number; json: any }> {
    const res = await fetch(server.url + path, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    return { status: res.status, json: await res.json() };
  }

  it('resolves `latest` and unique prefixes on every rollout route', async () => {
    const [a, b] = ids as [string, string];
    expect((await get('/v1/rollouts/latest')).json.id).toBe(b);
    const pa = uniquePrefix(a, b);
    expect((await get(`/v1/rollouts/${pa}`)).json.id).toBe(a);
    const events = await get(`/v1/rollouts/${uniquePrefix(b, a)}/events`);
    expect(events.status).toBe(200);
    expect(events.json.events.length).toBeGreaterThan(0);
    expect((await get(`/v1/rollouts/${a}`)).json.id).toBe(a);
  });

  it('refuses an ambiguous prefix with a 409 that lists the candidates, an unknown one with 404, a malformed one with 400', async () => {
    const [a, b] = ids as [string, string];
    const ambiguous = await get('/v1/rollouts/r_');
    expect(ambiguous.status).toBe(409);
    expect(ambiguous.json.error.message).toContain(a);
    expect(ambiguous.json.error.message).toContain(b);
    expect((await get('/v1/rollouts/r_zzzzzzzzzzzzzzzz')).status).toBe(404);
    expect((await get('/v1/rollouts/r%20x')).status).toBe(400);
  });

  it('works in every CLI command that takes a rollout id', async () => {
    const [a, b] = ids as [string, string];
    const env = { SLUICE_SERVER: server.url, SLUICE_TOKEN: ADMIN_TOKEN, NO_COLOR: '1' };
    const status = await runCli(['rollout', 'status', 'latest', '--json'], env);
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout).id).toBe(b);
    const events = await runCli(['rollout', 'events', uniquePrefix(a, b), '--json'], env);
    expect(events.code, events.stderr).toBe(0);
    expect(JSON.parse(events.stdout).length).toBeGreaterThan(0);
    const ambiguous = await runCli(['rollout', 'abort', 'r_'], env);
    expect(ambiguous.code).toBe(1);
    expect(ambiguous.stderr).toContain(a);
    const aborted = await runCli(['rollout', 'abort', uniquePrefix(a, b)], env);
    expect(aborted.code, aborted.stderr).toBe(0);
    expect(aborted.stdout.trim()).toBe('aborted');
    const latest = await runCli(['rollout', 'abort', 'latest'], env);
    expect(latest.code, latest.stderr).toBe(0);
    expect((await get(`/v1/rollouts/${b}`)).json.state).toBe('aborted');
  });
});

describe('the server banner', () => {
  it('names the real address and data dir when --listen and --data-dir are set', async () => {
    const dir = tempDir('edges-banner');
    const data = join(dir.path, 'elsewhere');
    // No token env: the server generates them under the data dir and must say where.
    const env: Record<string, string> = { SLUICE_ADMIN_TOKEN: '', SLUICE_ENROLL_TOKEN: '' };
    const proc = startProc(['server', '--listen', '127.0.0.1:0', '--data-dir', data], env, dir.path);
    try {
      const out = await waitFor('the banner', () => (/sluice rollout start/.test(proc.output()) ? proc.output() : null), 60_000);
      const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
      expect(url).toBeDefined();
      expect(url).not.toMatch(/:0$/);
      expect(out).toContain(`embedded, ${data}`);
      expect(out).toContain(`SLUICE_SERVER=${url}`);
      expect(out).toContain(join(data, 'admin.token'));
      expect(out).toContain(join(data, 'enroll.token'));
      expect(out).not.toContain('./.sluice/admin.token by itself');
    } finally {
      await proc.kill();
      dir.remove();
    }
  });
});

const pg: PostgresTestDatabase | null = await postgresTestDatabase();

describe.skipIf(pg === null)('PostgreSQL search_path naming a schema that does not exist', () => {
  afterAll(async () => {
    await pg?.cleanup();
  });

  it('refuses to start with exit 2 and says the schema is missing', async () => {
    const url = new URL(pg!.url);
    url.searchParams.set('options', '-c search_path=sluice_no_such_schema');
    const dir = tempDir('edges-schema');
    try {
      const out = await runCli(['server', '--listen', '127.0.0.1:0', '--data-dir', dir.path, '--database-url', url.toString()], {
        SLUICE_ADMIN_TOKEN: ADMIN_TOKEN,
        SLUICE_ENROLL_TOKEN: ENROLL_TOKEN,
      }, 60_000);
      expect(out.code, out.stderr).toBe(2);
      expect(out.stderr).toMatch(/schema "sluice_no_such_schema".*does not exist/);
      expect(out.stderr).not.toMatch(/another sluice server/);
    } finally {
      dir.remove();
    }
  });
});

describe("the README's clean-up command", () => {
  it('matches the agents the quick start starts (checked with pgrep, nothing else is killed)', async () => {
    const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
    const pattern = /pkill -f '([^']+)'/.exec(readme)?.[1];
    expect(pattern).toBeDefined();
    const dir = tempDir('edges-pkill');
    // As the tour does: from the repository-like directory, state under .sluice-agents/NAME.
    const agent = startProc(
      ['agent', '--server', 'http://127.0.0.1:9', '--token', ENROLL_TOKEN, '--name', 'web-1', '--labels', 'env=staging', '--allow', 'command', '--state-dir', '.sluice-agents/web-1'],
      {},
      dir.path,
    );
    try {
      const pids = await waitFor('pgrep to find the agent', () => {
        let out = '';
        try {
          out = execFileSync('pgrep', ['-f', pattern!], { encoding: 'utf8' });
        } catch {
          return null; // exit 1: nothing matched yet
        }
        const found = out.split('\n').filter(Boolean).map(Number);
        return found.includes(agent.child.pid!) ? found : null;
      });
      expect(pids).toContain(agent.child.pid);
    } finally {
      await agent.kill();
      dir.remove();
    }
  });
});

describe('temporary files of the test run', () => {
  it("land under the run's own root, in a directory of this file's that is removed when it ends", () => {
    // test/helpers/global-setup.ts and per-file-tmp.ts (vitest.config.ts): a run leaves nothing in /tmp.
    expect(tmpdir()).toMatch(/\/sluice-test-run-[^/]+\/file-[^/]+$/);
  });
});

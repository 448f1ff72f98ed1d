// End to end: a real server in-process, the real CLI (`./bin/sluice`) as a child process, exactly
// as an operator or a script runs it. Hosts enroll through the API; where a rollout must finish,
// the test plays the agent through the agent API.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../src/server/start-server.ts';
import type { RunningServer } from '../src/server/start-server.ts';
import { silentLogger } from '../src/server/logger.ts';

const BIN = resolve(import.meta.dirname, '../bin/sluice');
const ADMIN = 'sla_cli_test_admin';
const ENROLL = 'sle_cli_test_enroll';

const GOOD_PLAN = `name: flag-on
change:
  command:
    apply: ["/usr/local/bin/flag", "on"]
    rollback: ["/usr/local/bin/flag", "off"]
hosts: { match: { env: [staging, prod] } }
waves:
  - { name: canary, match: { env: staging }, size: 1, bake: 0s }
  - { name: prod, match: { env: prod }, bake: 0s }
budget: { failedPerWave: 0, failedTotal: 0, silentAfter: 10m }
onFailure: halt
confirmWindow: 0s
`;

const BAD_PLAN = `name: flag-on
change:
  command: { apply: [flag, on] }
wavs: []
`;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

let server: RunningServer;
let dir: string;
const credentials = new Map<string, string>();

/** Runs ./bin/sluice with a clean environment: only what the test passes reaches the CLI. */
function sluice(args: readonly string[], options: { env?: Record<string, string>; cwd?: string } = {}): Promise<Run> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, NO_COLOR: '1', ...options.env };
  return new Promise((resolvePromise) => {
    execFile(BIN, [...args], { cwd: options.cwd ?? dir, env, timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolvePromise({ code, stdout, stderr });
    });
  });
}

const asAdmin = () => ({ env: { SLUICE_SERVER: server.url, SLUICE_TOKEN: ADMIN } });

async function api(path: string, token: string, body?: unknown): Promise<unknown> {
  const response = await fetch(`${server.url}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status} ${await response.text()}`);
  return response.json();
}

async function enroll(name: string, labels: Record<string, string>): Promise<void> {
  const answer = (await api('/v1/agent/enroll', ENROLL, { name, labels, facts: { allow: ['command', 'apt', 'file', 'command-check'] } })) as { credential: string };
  credentials.set(name, answer.credential);
}

/** Plays every enrolled agent once: reports success for whatever it was asked to do. */
async function actAsAgents(): Promise<void> {
  for (const [host, credential] of credentials) {
    await api('/v1/agent/heartbeat', credential, {});
    const { assignments } = (await api('/v1/agent/assignments?waitMs=0', credential)) as {
      assignments: { rolloutId: string; attempt: number; action: string }[];
    };
    const reports = assignments.flatMap((a) => {
      const report = (kind: string) => ({ id: crypto.randomUUID(), rolloutId: a.rolloutId, attempt: a.attempt, kind, ok: true, message: `${host} ok`, at: Date.now() });
      if (a.action === 'apply') return [report('apply'), report('check')];
      if (a.action === 'verify') return [report('check')];
      return [report('rollback')];
    });
    if (reports.length > 0) await api('/v1/agent/reports', credential, { reports });
  }
}

async function startRollout(): Promise<string> {
  const started = await sluice(['rollout', 'start', 'good.yaml'], asAdmin());
  expect(started).toMatchObject({ code: 0, stderr: '' });
  expect(started.stdout).toMatch(/^\S+\n$/);
  return started.stdout.trim();
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-cli-'));
  await writeFile(join(dir, 'good.yaml'), GOOD_PLAN);
  await writeFile(join(dir, 'bad.yaml'), BAD_PLAN);
  server = await startServer({ listen: '127.0.0.1:0', memory: true, adminToken: ADMIN, enrollToken: ENROLL, tickMs: 100, log: silentLogger() });
  await enroll('stg-1', { env: 'staging', zone: 'a' });
  await enroll('prod-1', { env: 'prod', zone: 'a' });
  await enroll('prod-2', { env: 'prod', zone: 'b' });
}, 60_000);

afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('sluice CLI against a real server', { timeout: 60_000 }, () => {
  it('rollout start on an invalid plan prints located errors and exits 2, starting nothing', async () => {
    const run = await sluice(['rollout', 'start', 'bad.yaml'], asAdmin());
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^bad\.yaml:1:1: missing required key "waves"/m);
    expect(run.stderr).toMatch(/^bad\.yaml:4:1: unknown key "wavs"/m);
    const list = await sluice(['rollout', 'list', '--json'], asAdmin());
    expect(JSON.parse(list.stdout)).toEqual([]);
  });

  it('hosts --json has exactly [{name, labels, status, lastSeen, facts}] with ISO times', async () => {
    const run = await sluice(['hosts', '--json'], asAdmin());
    expect(run.code).toBe(0);
    const hosts = JSON.parse(run.stdout) as Record<string, unknown>[];
    expect(hosts.map((h) => h['name']).sort()).toEqual(['prod-1', 'prod-2', 'stg-1']);
    for (const host of hosts) {
      expect(Object.keys(host).sort()).toEqual(['facts', 'labels', 'lastSeen', 'name', 'status']);
      expect(host['status']).toBe('online');
      expect(new Date(host['lastSeen'] as string).toISOString()).toBe(host['lastSeen']);
    }
    expect(hosts.find((h) => h['name'] === 'stg-1')?.['labels']).toEqual({ env: 'staging', zone: 'a' });
  });

  it('hosts prints an aligned table', async () => {
    const run = await sluice(['hosts'], asAdmin());
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+STATUS\s+LAST-SEEN\s+LABELS$/);
    expect(lines).toContainEqual(expect.stringMatching(/^stg-1\s+online\s+\d+s ago\s+env=staging,zone=a$/));
  });

  it('rollout start prints only the id; status --json has the documented shape; pause/resume/abort steer it; a bad transition exits 1', async () => {
    const id = await startRollout();

    const [status, human] = await Promise.all([sluice(['rollout', 'status', id, '--json'], asAdmin()), sluice(['rollout', 'status', id], asAdmin())]);
    expect(status.code).toBe(0);
    const view = JSON.parse(status.stdout) as { id: string; name: string; state: string; waves: { name: string; state: string; hosts: { name: string; state: string }[] }[] };
    expect(Object.keys(view)).toEqual(expect.arrayContaining(['id', 'name', 'state', 'waves']));
    expect(view).toMatchObject({ id, name: 'flag-on', state: 'running' });
    expect(view.waves[0]).toMatchObject({ name: 'canary', hosts: [{ name: 'stg-1', state: expect.any(String) }] });
    expect(Object.keys(view.waves[0] ?? {}).sort()).toEqual(['hosts', 'name', 'state']);

    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(new RegExp(`^flag-on {2}${id} {2}running\n`));
    expect(human.stdout).toMatch(/^ {2}canary\s+\S+\s+\[[#x-]{20}\]\s+0\/1 healthy/m);
    expect(human.stdout).toMatch(/^ {2}prod\s+not started$/m);

    expect(await sluice(['rollout', 'pause', id], asAdmin())).toMatchObject({ code: 0, stdout: 'paused\n' });
    expect(await sluice(['rollout', 'resume', id], asAdmin())).toMatchObject({ code: 0, stdout: 'running\n' });
    expect(await sluice(['rollout', 'abort', id], asAdmin())).toMatchObject({ code: 0, stdout: 'aborted\n' });

    const again = await sluice(['rollout', 'pause', id], asAdmin());
    expect(again.code).toBe(1);
    expect(again.stdout).toBe('');
    expect(again.stderr).toMatch(/^error: .+\n$/);

    const [list, events] = await Promise.all([sluice(['rollout', 'list', '--json'], asAdmin()), sluice(['rollout', 'events', id, '--json'], asAdmin())]);
    expect(JSON.parse(list.stdout)).toContainEqual(expect.objectContaining({ id, name: 'flag-on', state: 'aborted' }));
    expect(events.code).toBe(0);
    expect((JSON.parse(events.stdout) as unknown[]).length).toBeGreaterThan(0);
  });

  it('rollout start --wait exits 0 when the rollout completes', async () => {
    const waiting = sluice(['rollout', 'start', 'good.yaml', '--wait'], asAdmin());
    let done: Run | undefined;
    void waiting.then((run) => (done = run));
    // Bounded: the agents act every 200 ms for at most 60 s.
    for (let i = 0; i < 300 && done === undefined; i++) {
      await actAsAgents();
      await new Promise((r) => setTimeout(r, 200));
    }
    const run = await waiting;
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^\S+\n$/);
    expect(run.stderr).toMatch(/completed/);
    const status = await sluice(['rollout', 'status', run.stdout.trim(), '--json'], asAdmin());
    const view = JSON.parse(status.stdout) as { state: string; waves: { hosts: { state: string }[] }[] };
    expect(view.state).toBe('completed');
    expect(view.waves.flatMap((w) => w.hosts.map((h) => h.state))).toEqual(['healthy', 'healthy', 'healthy']);
  });

  it('rollout start --wait exits 1 when the rollout ends any other way', async () => {
    const waiting = sluice(['rollout', 'start', 'good.yaml', '--wait'], asAdmin());
    // Find the new rollout (newest first) and abort it from the side.
    let aborted = false;
    for (let i = 0; i < 100 && !aborted; i++) {
      const { rollouts } = (await api('/v1/rollouts', ADMIN)) as { rollouts: { id: string; state: string }[] };
      const running = rollouts.find((r) => r.state === 'running');
      if (running !== undefined) {
        await api(`/v1/rollouts/${running.id}/abort`, ADMIN, {});
        aborted = true;
      } else {
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    const run = await waiting;
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/error: rollout \S+ ended aborted/);
  });

  it('an unknown rollout is bad input (exit 2)', async () => {
    const run = await sluice(['rollout', 'status', 'r_does_not_exist'], asAdmin());
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^error: .*r_does_not_exist/);
  });

  it('a wrong token exits 2 and says how to pass one', async () => {
    const run = await sluice(['hosts'], { env: { SLUICE_SERVER: server.url, SLUICE_TOKEN: 'wrong' } });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^error: .*--token/);
  });

  it('no token at all exits 2; the token file in ./.sluice is used when present', async () => {
    const none = await sluice(['hosts'], { env: { SLUICE_SERVER: server.url } });
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/no admin token: pass --token-file FILE or set SLUICE_TOKEN_FILE or SLUICE_TOKEN/);

    const project = await mkdtemp(join(dir, 'project-'));
    await mkdir(join(project, '.sluice'));
    await writeFile(join(project, '.sluice', 'admin.token'), `${ADMIN}\n`, { mode: 0o600 });
    const found = await sluice(['hosts', '--json', '--server', server.url], { cwd: project });
    expect(found.code).toBe(0);
    expect(found.stderr).toBe('');
  });

  it('an unreachable server exits 1 with a clear message', async () => {
    const port = await freePort();
    const run = await sluice(['hosts'], { env: { SLUICE_SERVER: `http://127.0.0.1:${port}`, SLUICE_TOKEN: ADMIN } });
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(`error: cannot reach the Sluice server at http://127.0.0.1:${port}: is \`sluice server\` running?\n`);
  });

  it('unknown commands and flags exit 2; --help exits 0 and lists the commands', async () => {
    const [unknownCommand, unknownFlag, help] = await Promise.all([sluice(['rollout', 'frobnicate']), sluice(['hosts', '--jsn']), sluice(['--help'])]);
    expect(unknownCommand.code).toBe(2);
    expect(unknownFlag.code).toBe(2);
    expect(unknownFlag.stderr).toMatch(/unknown option '--jsn'/);
    expect(help.code).toBe(0);
    for (const command of ['server', 'agent', 'plan', 'rollout', 'hosts']) expect(help.stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
  });
});

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((r) => probe.close(() => r()));
  return port;
}

// `sluice rollout rollback` and `sluice rollout retry` run in-process (runCli with a test io: no
// terminal, or a terminal that answers) against a real in-memory server; the test plays the
// agents through the agent API. Each test has its own hosts, so its rollout shares none.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerRolloutCommands } from '../src/cli/rollout-command.ts';
import { runCli } from '../src/cli/run-cli.ts';
import { createTestIo, type TestIo } from '../src/cli/test-io.ts';
import { silentLogger } from '../src/server/logger.ts';
import { startServer, type RunningServer } from '../src/server/start-server.ts';

const ADMIN = 'sla_cli_rollback_admin';
const ENROLL = 'sle_cli_rollback_enroll';

let server: RunningServer;
const credentials = new Map<string, string>();

beforeAll(async () => {
  server = await startServer({ listen: '127.0.0.1:0', memory: true, adminToken: ADMIN, enrollToken: ENROLL, tickMs: 50, log: silentLogger() });
}, 60_000);

afterAll(async () => {
  await server?.close();
});

async function api(path: string, token: string, body?: unknown): Promise<unknown> {
  const response = await fetch(`${server.url}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status} ${await response.text()}`);
  return response.json();
}

interface View {
  id: string;
  name: string;
  state: string;
  rollbackHosts: number;
  waves: { name: string; hosts: { name: string; state: string }[] }[];
}
const view = async (id: string) => (await api(`/v1/rollouts/${id}`, ADMIN)) as View;
const hostStates = (v: View) => Object.fromEntries(v.waves.flatMap((w) => w.hosts.map((h) => [h.name, h.state])));

/** Enrolls `names` under label set=<set> and starts a plan over them: the first host is the canary wave, the others the next. */
async function startOver(set: string, names: string[], onFailure: 'halt' | 'rollback' = 'halt'): Promise<string> {
  for (const [i, name] of names.entries()) {
    const labels = { set, role: i === 0 ? 'canary' : 'rest' };
    const answer = (await api('/v1/agent/enroll', ENROLL, { name, labels, facts: { allow: ['command', 'command-check'] } })) as { credential: string };
    credentials.set(name, answer.credential);
  }
  const plan = `name: ${set}
change:
  command: { apply: ["true"], rollback: ["true"] }
hosts: { match: { set: ${set} } }
waves:
  - { name: canary, match: { role: canary }, bake: 0s }
  - { name: rest, bake: 0s }
budget: { failedPerWave: 0, failedTotal: 0, silentAfter: 10m }
onFailure: ${onFailure}
confirmWindow: 0s
`;
  return ((await api('/v1/rollouts', ADMIN, { plan })) as { id: string }).id;
}

interface Assigned {
  host: string;
  action: string;
  attempt: number;
}

/**
 * Plays the hosts once: each reports on what it was asked (ok unless `fails` says otherwise) and
 * the assignments are returned.
 */
async function actAs(hosts: string[], fails: (a: Assigned) => boolean = () => false): Promise<Assigned[]> {
  const seen: Assigned[] = [];
  for (const host of hosts) {
    const credential = credentials.get(host)!;
    await api('/v1/agent/heartbeat', credential, {});
    const { assignments } = (await api('/v1/agent/assignments?waitMs=0', credential)) as { assignments: { rolloutId: string; attempt: number; action: string }[] };
    const reports = assignments.flatMap((a) => {
      seen.push({ host, action: a.action, attempt: a.attempt });
      const ok = !fails({ host, action: a.action, attempt: a.attempt });
      const report = (kind: string) => ({ id: crypto.randomUUID(), rolloutId: a.rolloutId, attempt: a.attempt, kind, ok, message: `${host} ${ok ? 'ok' : 'broke'}`, at: Date.now() });
      if (a.action === 'apply') return ok ? [report('apply'), report('check')] : [report('apply')];
      if (a.action === 'verify') return [report('check')];
      return [report('rollback')];
    });
    if (reports.length > 0) await api('/v1/agent/reports', credential, { reports });
  }
  return seen;
}

/** Plays the hosts until the rollout is in `state` (bounded). */
async function until(id: string, state: string, hosts: string[], fails?: (a: Assigned) => boolean): Promise<Assigned[]> {
  const all: Assigned[] = [];
  for (let i = 0; i < 200; i++) {
    if ((await view(id)).state === state) return all;
    all.push(...(await actAs(hosts, fails)));
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`rollout ${id} never reached ${state}: ${JSON.stringify(await view(id))}`);
}

/** An io whose sleeps are real (watches poll the real server), on a terminal or not. */
function io(options: { tty?: boolean; answers?: string[] } = {}): TestIo {
  const base = createTestIo({ env: { SLUICE_SERVER: server.url, SLUICE_TOKEN: ADMIN, NO_COLOR: '1' }, ...options });
  return { ...base, sleep: (ms: number) => new Promise((r) => setTimeout(r, Math.min(ms, 50))) };
}

const sluice = (argv: string[], testIo: TestIo) => runCli(argv, testIo, (program) => registerRolloutCommands(program, testIo));

describe('sluice rollout rollback', { timeout: 60_000 }, () => {
  it('--yes: says how many hosts, posts at once, prints the new state', async () => {
    const hosts = ['yes-1', 'yes-2'];
    const id = await startOver('yes', hosts);
    await until(id, 'completed', hosts);
    expect((await view(id)).rollbackHosts).toBe(2);

    const out = io();
    expect(await sluice(['rollout', 'rollback', id, '--yes'], out)).toBe(0);
    expect(out.asked).toEqual([]);
    expect(out.stderr.text).toBe(`rolling back 2 hosts of rollout ${id} (yes)\n`);
    expect(out.stdout.text).toBe('rolling_back\n');
    await until(id, 'rolled_back', hosts);
    expect(hostStates(await view(id))).toEqual({ 'yes-1': 'rolled_back', 'yes-2': 'rolled_back' });
    expect((await view(id)).rollbackHosts).toBe(0);
  });

  it('without a terminal and without --yes: refuses with exit 2 and posts nothing', async () => {
    const hosts = ['notty-1'];
    const id = await startOver('notty', hosts);
    await until(id, 'completed', hosts);

    const out = io();
    expect(await sluice(['rollout', 'rollback', id], out)).toBe(2);
    expect(out.stdout.text).toBe('');
    expect(out.stderr.text).toBe(
      `error: not rolling back 1 host of rollout ${id} (notty): stdin or stdout is not a terminal, so nobody can confirm; pass --yes to roll back without asking\n`,
    );
    expect(out.asked).toEqual([]);
    expect((await view(id)).state).toBe('completed');
    expect(await actAs(hosts)).toEqual([]); // no rollback handed out
  });

  it('on a terminal: asks; "n" posts nothing, "y" rolls back (and `latest` names the rollout asked about)', async () => {
    const hosts = ['tty-1', 'tty-2', 'tty-3'];
    const id = await startOver('tty', hosts);
    await until(id, 'completed', hosts);

    const no = io({ tty: true, answers: ['n'] });
    expect(await sluice(['rollout', 'rollback', id], no)).toBe(1);
    expect(no.asked).toEqual([`Roll back 3 hosts of rollout ${id} (tty)? [y/N] `]);
    expect(no.stdout.text).toBe('');
    expect(no.stderr.text).toBe('error: not rolled back (the answer was not yes); nothing was sent\n');
    expect((await view(id)).state).toBe('completed');

    const empty = io({ tty: true, answers: [''] });
    expect(await sluice(['rollout', 'rollback', id], empty)).toBe(1);
    const ended = io({ tty: true, answers: [] }); // Ctrl-D
    expect(await sluice(['rollout', 'rollback', id], ended)).toBe(1);
    expect((await view(id)).state).toBe('completed');

    const yes = io({ tty: true, answers: [' Yes '] });
    expect(await sluice(['rollout', 'rollback', 'latest'], yes)).toBe(0);
    expect(yes.asked).toEqual([`Roll back 3 hosts of rollout ${id} (tty)? [y/N] `]);
    expect(yes.stdout.text).toBe('rolling_back\n');
    const handed = await until(id, 'rolled_back', hosts);
    expect(handed.filter((a) => a.action === 'rollback').map((a) => a.host).sort()).toEqual(hosts);
  });

  it('a refused rollback exits 1 with the server\'s words; an unknown rollout exits 2, before any question', async () => {
    const hosts = ['refused-1'];
    const id = await startOver('refused', hosts);
    await until(id, 'completed', hosts);
    expect(await sluice(['rollout', 'rollback', id, '--yes'], io())).toBe(0);
    await until(id, 'rolled_back', hosts);

    const again = io();
    expect(await sluice(['rollout', 'rollback', id, '--yes'], again)).toBe(1);
    expect(again.stderr.text).toMatch(/^rolling back 0 hosts of rollout \S+ \(refused\)\nerror: .+\n$/);

    const unknown = io({ tty: true, answers: ['y'] });
    expect(await sluice(['rollout', 'rollback', 'r_nosuchrollout'], unknown)).toBe(2);
    expect(unknown.asked).toEqual([]);
  });

  it('--help says it asks, and how scripts skip the question', async () => {
    const out = io();
    expect(await sluice(['rollout', 'rollback', '--help'], out)).toBe(0);
    expect(out.stdout.text).toMatch(/-y, --yes/);
    expect(out.stdout.text).toMatch(/Roll back N hosts of rollout ID \(NAME\)\? \[y\/N\]/);
  });
});

describe('sluice rollout retry', { timeout: 60_000 }, () => {
  it('resumes a halted rollout: only the failed host gets a new attempt, the healthy one is kept; --wait exits 0 once completed', async () => {
    const hosts = ['retry-ok', 'retry-bad'];
    const id = await startOver('retry', hosts);
    const first = await until(id, 'halted', hosts, (a) => a.host === 'retry-bad');
    expect(first.filter((a) => a.action === 'apply').map((a) => `${a.host}#${a.attempt}`).sort()).toEqual(['retry-bad#1', 'retry-ok#1']);
    expect(hostStates(await view(id))).toEqual({ 'retry-ok': 'healthy', 'retry-bad': 'failed' });

    const out = io();
    const waiting = sluice(['rollout', 'retry', id.slice(0, -2), '--wait'], out); // a unique prefix works too
    const second = await until(id, 'completed', hosts);
    expect(await waiting).toBe(0);
    expect(out.stdout.text).toBe('running\n');
    expect(out.stderr.text).toMatch(/completed/);
    expect(second.filter((a) => a.action === 'apply')).toEqual([{ host: 'retry-bad', action: 'apply', attempt: 2 }]);
    expect(hostStates(await view(id))).toEqual({ 'retry-ok': 'healthy', 'retry-bad': 'healthy' });
  });

  it('a rollout that is not halted: the server\'s explanation and exit 1', async () => {
    const hosts = ['notretry-1'];
    const id = await startOver('notretry', hosts);
    await until(id, 'completed', hosts);
    const out = io();
    expect(await sluice(['rollout', 'retry', id], out)).toBe(1);
    expect(out.stdout.text).toBe('');
    expect(out.stderr.text).toMatch(/^error: .+\n$/);
  });

  it('--help explains what a retry does', async () => {
    const out = io();
    expect(await sluice(['rollout', 'retry', '--help'], out)).toBe(0);
    expect(out.stdout.text).toMatch(/Resume a halted rollout from its failed wave/);
    expect(out.stdout.text).toMatch(/new\s+attempt/);
    expect(out.stdout.text).toMatch(/healthy waves are kept/);
    expect(out.stdout.text).toMatch(/--wait/);
  });
});

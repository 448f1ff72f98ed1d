// The agent against a stand-in server: enrollment and credential, allowlist, the journal across
// restarts, exactly-once delivery through the outbox while the server is down, and bad answers.
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startAgent, type AgentHandle, type AgentOptions } from '../src/agent/agent.ts';
import { createMemoryLog } from '../src/agent/log.ts';
import { startFakePeer, waitFor, type FakePeer } from './agent-fake-peer.ts';

let peer: FakePeer;
let dir: string;
const agents: AgentHandle[] = [];

beforeEach(async () => {
  peer = await startFakePeer();
  dir = await mkdtemp(join(tmpdir(), 'sluice-agent-'));
});

afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.stop()));
  await peer.close();
});

function sh(script: string): string[] {
  return ['sh', '-c', script];
}

function assignment(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    rolloutId: 'r_1',
    rolloutName: 'flag-on',
    attempt: 1,
    action: 'apply',
    change: { kind: 'command', apply: sh(`echo applied >> ${dir}/count`), rollback: sh(`echo undone >> ${dir}/undo`), timeout: 10_000 },
    checks: [],
    checkInterval: 60_000,
    confirmWindow: 0,
    preflight: 'warn',
    ...over,
  };
}

async function agent(over: Partial<AgentOptions> = {}, log = createMemoryLog()): Promise<AgentHandle> {
  const handle = await startAgent({
    server: peer.url,
    token: peer.enrollToken,
    name: 'web-1',
    labels: { env: 'test' },
    allow: ['command'],
    stateDir: join(dir, 'state'),
    heartbeatMs: 200,
    pollWaitMs: 2000,
    backoff: { initialMs: 20, maxMs: 200 },
    log,
    ...over,
  });
  agents.push(handle);
  return handle;
}

async function lines(file: string): Promise<string[]> {
  return existsSync(file) ? (await readFile(file, 'utf8')).trim().split('\n') : [];
}

const reportsOf = (kind: string) => peer.processed.filter((r) => r.kind === kind);

describe('agent against a stand-in server', () => {
  it('enrolls once, keeps its credential 0600 in a 0700 dir, heartbeats, and never logs secrets', async () => {
    const log = createMemoryLog();
    const a = await agent({}, log);
    await waitFor('two heartbeats', () => peer.heartbeats.length >= 2);
    expect(peer.enrolls).toHaveLength(1);
    expect(peer.enrolls[0]).toMatchObject({ name: 'web-1', labels: { env: 'test' } });
    const credFile = join(dir, 'state', 'credential.json');
    expect((await stat(credFile)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, 'state'))).mode & 0o777).toBe(0o700);
    const cred = JSON.parse(await readFile(credFile, 'utf8')) as { server: string; host: string; credential: string };
    expect(cred).toMatchObject({ server: peer.url, host: 'web-1' });
    // The heartbeat uses the credential, not the enrollment token.
    expect(peer.authSeen.filter((s) => s === cred.credential).length).toBeGreaterThanOrEqual(2);
    // Facts go with enrollment; unchanged facts are not sent again.
    expect(peer.heartbeats.every((h) => h.facts === undefined)).toBe(true);
    expect(peer.heartbeats[0]?.labels).toEqual({ env: 'test' });
    await a.stop();

    // A restart uses the stored credential: no second enrollment.
    await agent({}, log);
    const before = peer.heartbeats.length;
    await waitFor('a heartbeat after restart', () => peer.heartbeats.length > before);
    expect(peer.enrolls).toHaveLength(1);
    const logged = JSON.stringify(log.lines);
    expect(logged).not.toContain(peer.enrollToken);
    expect(logged).not.toContain(cred.credential);
  });

  it('enrolls again with its token when the server answers 401 to its credential', async () => {
    await agent();
    await waitFor('first heartbeat', () => peer.heartbeats.length >= 1);
    peer.revokeCredentials();
    await waitFor('second enrollment', () => peer.enrolls.length === 2);
    const n = peer.heartbeats.length;
    await waitFor('heartbeats with the new credential', () => peer.heartbeats.length > n);
  });

  it('refuses a change kind not in --allow: reports the failure and runs nothing', async () => {
    peer.setAssignments([assignment({ change: { kind: 'command', apply: sh(`touch ${dir}/pwned`), timeout: 10_000 } })]);
    await agent({ allow: [] });
    await waitFor('the apply report', () => reportsOf('apply').length === 1);
    expect(reportsOf('apply')[0]).toMatchObject({
      rolloutId: 'r_1',
      attempt: 1,
      ok: false,
      message: 'change kind "command" is not allowed on this host (agent --allow: none)',
    });
    expect(existsSync(join(dir, 'pwned'))).toBe(false);
    expect(reportsOf('check')).toHaveLength(0);
  });

  it('applies once, reports apply and checks, and after a restart re-sends the stored result instead of applying again', async () => {
    peer.setAssignments([
      assignment({
        checks: [{ kind: 'command', name: 'applied', command: ['test', '-f', `${dir}/count`], timeout: 5000 }],
      }),
    ]);
    const first = await agent();
    await waitFor('apply and check reports', () => reportsOf('apply').length === 1 && reportsOf('check').length === 1);
    expect(reportsOf('apply')[0]).toMatchObject({ ok: true, attempt: 1 });
    expect(reportsOf('check')[0]).toMatchObject({ ok: true });
    await first.stop();

    await agent();
    const applyId = reportsOf('apply')[0]!.id;
    await waitFor('the stored apply report sent again', () => peer.deliveries.get(applyId) === 2);
    expect(await lines(join(dir, 'count'))).toEqual(['applied']);
    expect(reportsOf('apply')).toHaveLength(1); // same id: the server saw nothing new
  });

  it('does not re-run an apply the agent died in the middle of', async () => {
    const { StateDir } = await import('../src/agent/state-dir.ts');
    const state = await StateDir.open(join(dir, 'state'), createMemoryLog());
    await state.writeJournal({
      rolloutId: 'r_1',
      apply: { attempt: 1, state: 'started', startedAt: 1, ran: true, reports: [] },
      rollback: null,
      baseline: null,
      unknown: null,
    });
    peer.setAssignments([assignment()]);
    await agent();
    await waitFor('the apply report', () => reportsOf('apply').length === 1);
    expect(reportsOf('apply')[0]).toMatchObject({ ok: false, message: 'agent restarted during apply; host state unknown' });
    expect(existsSync(join(dir, 'count'))).toBe(false);
  });

  it('delivers results finished while the server was down once it is back, exactly once', async () => {
    const gate = join(dir, 'gate');
    peer.setAssignments([
      assignment({
        change: {
          kind: 'command',
          apply: sh(`touch ${dir}/started; while [ ! -f ${gate} ]; do sleep 0.02; done; echo applied >> ${dir}/count`),
          timeout: 20_000,
        },
        checks: [{ kind: 'command', name: 'ok', command: ['true'], timeout: 5000 }],
      }),
    ]);
    await agent();
    await waitFor('the apply command started', () => existsSync(join(dir, 'started')));
    await peer.down();
    await writeFile(gate, '');
    const outbox = join(dir, 'state', 'outbox');
    await waitFor('apply and check reports in the outbox', async () => (await readdir(outbox)).filter((n) => n.endsWith('.json')).length === 2);
    expect(peer.processed).toHaveLength(0);

    await peer.up();
    await waitFor('both reports processed', () => peer.processed.length === 2);
    await waitFor('outbox emptied', async () => (await readdir(outbox)).length === 0);
    expect(peer.processed.map((r) => r.kind).sort()).toEqual(['apply', 'check']);
    for (const r of peer.processed) expect(peer.deliveries.get(r.id)).toBe(1);
    expect(await lines(join(dir, 'count'))).toEqual(['applied']);
  });

  it('rolls back with the step environment, once per attempt', async () => {
    const env = sh(`echo "$SLUICE_HOST $SLUICE_ROLLOUT_ID $SLUICE_ACTION" >> ${dir}/env`);
    const change = { kind: 'command', apply: env, rollback: env, timeout: 10_000 };
    peer.setAssignments([assignment({ change })]);
    await agent();
    await waitFor('apply report', () => reportsOf('apply').length === 1);
    peer.setAssignments([assignment({ change, action: 'rollback', attempt: 2 })]);
    await waitFor('rollback report', () => reportsOf('rollback').length === 1);
    expect(reportsOf('rollback')[0]).toMatchObject({ ok: true, attempt: 2 });
    peer.setAssignments([assignment({ change, action: 'rollback', attempt: 2, rolloutName: 'again' })]);
    await waitFor('a heartbeat', () => peer.heartbeats.length >= 3);
    expect(await lines(join(dir, 'env'))).toEqual(['web-1 r_1 apply', 'web-1 r_1 rollback']);
  });

  it('reports a failing command with its exit code and stderr', async () => {
    peer.setAssignments([assignment({ change: { kind: 'command', apply: sh('echo disk full >&2; exit 4'), timeout: 10_000 } })]);
    await agent();
    await waitFor('apply report', () => reportsOf('apply').length === 1);
    expect(reportsOf('apply')[0]?.ok).toBe(false);
    expect(reportsOf('apply')[0]?.message).toMatch(/exited with code 4: disk full/);
  });

  it('runs checks through the bake and reports each run', async () => {
    peer.setAssignments([
      assignment({
        action: 'verify',
        checkInterval: 50,
        checks: [
          { kind: 'command', name: 'ok', command: ['true'], timeout: 5000 },
          { kind: 'futureCheck', name: 'new', timeout: 5000 },
        ],
      }),
    ]);
    await agent();
    await waitFor('three check reports', () => reportsOf('check').length >= 3);
    expect(reportsOf('check')[0]).toMatchObject({ ok: false, message: 'new: check kind futureCheck is not supported by this agent' });
    expect(existsSync(join(dir, 'count'))).toBe(false);
  });

  it('survives malformed answers and reports an assignment it cannot understand', async () => {
    peer.setRawAssignments('{"version": 3, "assignments": "nope"');
    const log = createMemoryLog();
    await agent({}, log);
    await waitFor('a complaint in the log', () => log.lines.some((l) => l.msg.startsWith('polling assignments failed')));
    peer.setRawAssignments(null);
    peer.setAssignments([assignment({ change: { kind: 'command', apply: 'rm -rf /', timeout: 1000 } })]);
    await waitFor('the failure report', () => reportsOf('apply').length === 1);
    expect(reportsOf('apply')[0]?.ok).toBe(false);
    expect(reportsOf('apply')[0]?.message).toMatch(/could not understand this assignment/);
  });

  it('enrolls once the server comes up, and stop() works while it is still down', async () => {
    await peer.down();
    const early = await agent();
    await early.stop();
    expect(peer.enrolls).toHaveLength(0);
    await agent();
    await peer.up();
    await waitFor('enrollment', () => peer.enrolls.length === 1);
    await waitFor('a heartbeat', () => peer.heartbeats.length >= 1);
  });

  it('stop() lets a running apply finish; its report is delivered by the next start', async () => {
    const gate = join(dir, 'gate');
    peer.setAssignments([
      assignment({
        change: {
          kind: 'command',
          apply: sh(`touch ${dir}/started; while [ ! -f ${gate} ]; do sleep 0.02; done; echo applied >> ${dir}/count`),
          timeout: 20_000,
        },
      }),
    ]);
    const first = await agent();
    await waitFor('the apply command started', () => existsSync(join(dir, 'started')));
    let stopped = false;
    const stopping = first.stop().then(() => {
      stopped = true;
    });
    await writeFile(gate, '');
    await stopping;
    expect(stopped).toBe(true);
    expect(await lines(join(dir, 'count'))).toEqual(['applied']);
    await agent();
    await waitFor('the apply report', () => reportsOf('apply').length === 1);
    expect(reportsOf('apply')[0]).toMatchObject({ ok: true });
    expect(await lines(join(dir, 'count'))).toEqual(['applied']);
  });

  it('stop() ends a long-poll promptly', async () => {
    const a = await agent({ pollWaitMs: 30_000 });
    await waitFor('a heartbeat', () => peer.heartbeats.length >= 1);
    await a.stop();
    await a.done;
  });
});

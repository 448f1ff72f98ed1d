// The agent when the server assigns a step again at a higher attempt in the same rollout: a retry's
// apply runs afresh (never the stored result of the earlier attempt), a rollback asked again after
// one that succeeded is answered without touching the host, and one that failed or was cut short
// runs again. Real agent, real commands and files, a real state dir, a stand-in server.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startAgent, type AgentHandle, type AgentOptions } from '../src/agent/agent.ts';
import { createMemoryLog } from '../src/agent/log.ts';
import { StateDir } from '../src/agent/state-dir.ts';
import { startFakePeer, waitFor, type FakePeer } from './agent-fake-peer.ts';

let peer: FakePeer;
let dir: string;
const agents: AgentHandle[] = [];

beforeEach(async () => {
  peer = await startFakePeer();
  dir = await mkdtemp(join(tmpdir(), 'sluice-agent-retry-'));
});

afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.stop()));
  await peer.close();
  await rm(dir, { recursive: true, force: true });
});

const sh = (script: string) => ['sh', '-c', script];

function assignment(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    rolloutId: 'r_1',
    rolloutName: 'flag-on',
    attempt: 1,
    action: 'apply',
    // Fails until the operator "fixes" the host (creates ./fixed); every run leaves a line.
    change: {
      kind: 'command',
      apply: sh(`echo apply >> ${dir}/runs; test -f ${dir}/fixed || { echo not fixed >&2; exit 3; }`),
      rollback: sh(`echo rollback >> ${dir}/runs; test ! -f ${dir}/rollback-breaks || exit 5`),
      timeout: 10_000,
    },
    checks: [{ kind: 'command', name: 'fixed', command: ['test', '-f', `${dir}/fixed`], timeout: 5000 }],
    checkInterval: 60_000,
    confirmWindow: 0,
    preflight: 'warn',
    ...over,
  };
}

async function agent(over: Partial<AgentOptions> = {}): Promise<AgentHandle> {
  const handle = await startAgent({
    server: peer.url,
    token: peer.enrollToken,
    name: 'web-1',
    labels: { env: 'test' },
    allow: ['command', 'file', 'command-check'],
    stateDir: join(dir, 'state'),
    heartbeatMs: 200,
    pollWaitMs: 2000,
    backoff: { initialMs: 20, maxMs: 200 },
    log: createMemoryLog(),
    ...over,
  });
  agents.push(handle);
  return handle;
}

async function runs(): Promise<string[]> {
  const file = join(dir, 'runs');
  return existsSync(file) ? (await readFile(file, 'utf8')).trim().split('\n') : [];
}

const reportsOf = (kind: string, attempt?: number) => peer.processed.filter((r) => r.kind === kind && (attempt === undefined || r.attempt === attempt));

describe('a step assigned again at a higher attempt', () => {
  it('retry: apply attempt 1 fails, apply attempt 2 runs afresh and reports attempt 2 with its own checks', async () => {
    peer.setAssignments([assignment()]);
    await agent();
    await waitFor('the failed apply of attempt 1', () => reportsOf('apply', 1).length === 1);
    expect(reportsOf('apply', 1)[0]).toMatchObject({ ok: false });
    expect(reportsOf('apply', 1)[0]!.message).toMatch(/exit.*3[\s\S]*not fixed/);

    await writeFile(join(dir, 'fixed'), '');
    peer.setAssignments([assignment({ attempt: 2 })]);
    await waitFor('apply and check of attempt 2', () => reportsOf('apply', 2).length === 1 && reportsOf('check', 2).length === 1);
    expect(await runs()).toEqual(['apply', 'apply']);
    const [again] = reportsOf('apply', 2);
    expect(again).toMatchObject({ ok: true });
    expect(again!.id).not.toBe(reportsOf('apply', 1)[0]!.id);
    expect(reportsOf('check', 2)[0]).toMatchObject({ ok: true });

    // The journal holds attempt 2 as the apply, attempt 1 kept as an earlier entry.
    const journal = await (await StateDir.open(join(dir, 'state'), createMemoryLog())).readJournal('r_1');
    expect(journal?.apply).toMatchObject({ attempt: 2, state: 'done', ok: true });
    expect(journal?.earlier?.map((e) => [e.attempt, e.ok])).toEqual([[1, false]]);
  });

  it('retry after a failed check: the fresh apply keeps the way back to the state before the first attempt', async () => {
    const files = join(dir, 'etc');
    await mkdir(files);
    const target = join(files, 'app.conf');
    await writeFile(target, 'original\n');
    const change = { kind: 'file', path: target, content: 'changed\n', mode: 0o644, timeout: 10_000 };
    peer.setAssignments([assignment({ change })]);
    await agent({ fileDirs: [files] });
    await waitFor('apply ok and check failed at attempt 1', () => reportsOf('apply', 1).length === 1 && reportsOf('check', 1).length === 1);
    expect(reportsOf('apply', 1)[0]).toMatchObject({ ok: true });
    expect(reportsOf('check', 1)[0]).toMatchObject({ ok: false });

    await writeFile(join(dir, 'fixed'), '');
    peer.setAssignments([assignment({ change, attempt: 2 })]);
    await waitFor('apply and check of attempt 2', () => reportsOf('apply', 2).length === 1 && reportsOf('check', 2).length === 1);
    expect(reportsOf('apply', 2)[0]).toMatchObject({ ok: true, message: `already applied: ${target} has the wanted content and mode` });
    expect(reportsOf('check', 2)[0]).toMatchObject({ ok: true });

    peer.setAssignments([assignment({ change, action: 'rollback', attempt: 3 })]);
    await waitFor('the rollback of attempt 3', () => reportsOf('rollback', 3).length === 1);
    expect(reportsOf('rollback', 3)[0]).toMatchObject({ ok: true, message: `restored the previous content of ${target}` });
    expect(await readFile(target, 'utf8')).toBe('original\n');
  });

  it('rollback asked again (attempt 3) after a completed rollback (attempt 2): reported ok, nothing runs again', async () => {
    await writeFile(join(dir, 'fixed'), '');
    peer.setAssignments([assignment()]);
    await agent();
    await waitFor('apply of attempt 1', () => reportsOf('apply', 1).length === 1);
    peer.setAssignments([assignment({ action: 'rollback', attempt: 2 })]);
    await waitFor('the rollback of attempt 2', () => reportsOf('rollback', 2).length === 1);
    expect(reportsOf('rollback', 2)[0]).toMatchObject({ ok: true });
    expect(await runs()).toEqual(['apply', 'rollback']);

    peer.setAssignments([assignment({ action: 'rollback', attempt: 3 })]);
    await waitFor('the answer for attempt 3', () => reportsOf('rollback', 3).length === 1);
    expect(reportsOf('rollback', 3)[0]).toMatchObject({ ok: true });
    expect(reportsOf('rollback', 3)[0]!.message).toMatch(/^already rolled back \(attempt 2\): /);
    expect(await runs()).toEqual(['apply', 'rollback']);

    // A late assignment of an older attempt changes nothing.
    peer.setAssignments([assignment({ action: 'rollback', attempt: 2, rolloutName: 'late' })]);
    const beats = peer.heartbeats.length;
    await waitFor('two heartbeats', () => peer.heartbeats.length >= beats + 2);
    expect(await runs()).toEqual(['apply', 'rollback']);
    expect(reportsOf('rollback')).toHaveLength(2);
  });

  it('rollback asked again after a failed rollback: it runs again', async () => {
    await writeFile(join(dir, 'fixed'), '');
    await writeFile(join(dir, 'rollback-breaks'), '');
    peer.setAssignments([assignment()]);
    await agent();
    await waitFor('apply of attempt 1', () => reportsOf('apply', 1).length === 1);
    peer.setAssignments([assignment({ action: 'rollback', attempt: 2 })]);
    await waitFor('the failed rollback of attempt 2', () => reportsOf('rollback', 2).length === 1);
    expect(reportsOf('rollback', 2)[0]).toMatchObject({ ok: false });

    await rm(join(dir, 'rollback-breaks'));
    peer.setAssignments([assignment({ action: 'rollback', attempt: 3 })]);
    await waitFor('the rollback of attempt 3', () => reportsOf('rollback', 3).length === 1);
    expect(reportsOf('rollback', 3)[0]).toMatchObject({ ok: true });
    expect(await runs()).toEqual(['apply', 'rollback', 'rollback']);
  });

  it('rollback after an interrupted rollback (the agent died in it): it runs again at the new attempt', async () => {
    const state = await StateDir.open(join(dir, 'state'), createMemoryLog());
    await state.writeJournal({
      rolloutId: 'r_1',
      apply: { attempt: 1, state: 'done', startedAt: 1, finishedAt: 2, ok: true, message: 'ok', ran: true, reports: [] },
      rollback: { attempt: 2, state: 'started', startedAt: 3, ran: true, reports: [] },
      baseline: null,
      unknown: null,
    });
    peer.setAssignments([assignment({ action: 'rollback', attempt: 3 })]);
    await agent();
    await waitFor('the rollback of attempt 3', () => reportsOf('rollback', 3).length === 1);
    expect(reportsOf('rollback', 3)[0]).toMatchObject({ ok: true });
    expect(await runs()).toEqual(['rollback']);
    expect((await state.readJournal('r_1'))?.rollback).toMatchObject({ attempt: 3, state: 'done', ok: true });
  });
});

// The allow-list covers every piece of plan code: `sluice agent` processes against a stand-in server.
// A plan's `command` check runs only on an agent whose --allow has command-check (or command);
// built-in checks always run; the agent reports its --allow in its facts.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startProc, type Proc } from './helpers/processes.ts';
import { startFakePeer, waitFor, type FakePeer } from './agent-fake-peer.ts';

let peer: FakePeer | undefined;
let proc: Proc | undefined;
let dir = '';
let tcp: Server;
let tcpPort = 0;

beforeAll(async () => {
  tcp = createServer((s) => s.end());
  await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
  tcpPort = (tcp.address() as AddressInfo).port;
});
afterAll(async () => {
  await new Promise<void>((r) => tcp.close(() => r()));
});
afterEach(async () => {
  await proc?.kill();
  proc = undefined;
  await peer?.close();
  peer = undefined;
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = '';
});

async function agentProcess(allow: string, extra: string[] = []): Promise<FakePeer> {
  peer = await startFakePeer();
  dir = await mkdtemp(join(tmpdir(), 'sluice-agent-allow-'));
  proc = startProc(['agent', '--name', 'web-1', '--allow', allow, '--state-dir', join(dir, 'state'), '--heartbeat', '200ms', ...extra], {
    SLUICE_SERVER: peer.url,
    SLUICE_ENROLL_TOKEN: peer.enrollToken,
    SLUICE_TOKEN: peer.enrollToken,
  });
  await waitFor('enrollment', () => peer!.enrolls.length === 1, 30_000);
  return peer;
}

function assignment(over: Record<string, unknown>): Record<string, unknown> {
  return { rolloutId: 'r_1', rolloutName: 'allow', attempt: 1, checks: [], checkInterval: 60_000, confirmWindow: 0, preflight: 'warn', ...over };
}

const touch = (marker: string) => ({ kind: 'command', name: 'marker', command: ['sh', '-c', `touch ${marker}`], timeout: 5000 });
const reachable = () => ({ kind: 'tcp', name: 'reachable', host: '127.0.0.1', port: tcpPort, timeout: 2000 });
const REFUSED = 'marker: not run: this agent does not allow command checks (--allow lacks command-check)';

describe('command checks and the allow-list (agent processes)', () => {
  it('--allow apt,file: the file change runs, its command check does not, and the step fails saying why', async () => {
    const p = await agentProcess('apt,file', ['--file-dir', tmpdir()]);
    expect((p.enrolls[0]!.facts as { allow?: unknown }).allow).toEqual(['apt', 'file']);
    const marker = join(dir, 'MARKER');
    const target = join(dir, 'app.conf');
    p.setAssignments([
      assignment({ action: 'apply', change: { kind: 'file', path: target, content: 'on\n', mode: 0o644, timeout: 10_000 }, checks: [touch(marker), reachable()] }),
    ]);
    await waitFor('apply and check reports', () => p.processed.some((r) => r.kind === 'check'), 30_000);
    expect(p.processed.find((r) => r.kind === 'apply')).toMatchObject({ ok: true });
    expect(p.processed.find((r) => r.kind === 'check')).toMatchObject({ ok: false, message: REFUSED });
    expect(existsSync(target)).toBe(true);
    expect(existsSync(marker)).toBe(false);
  });

  it('an agent that allows nothing: built-in checks run, the command check does not', async () => {
    const p = await agentProcess('none');
    expect((p.enrolls[0]!.facts as { allow?: unknown }).allow).toEqual([]);
    const marker = join(dir, 'MARKER');
    p.setAssignments([assignment({ action: 'verify', change: { kind: 'command', apply: ['true'], timeout: 10_000 }, checks: [touch(marker), reachable()] })]);
    await waitFor('a check report', () => p.processed.some((r) => r.kind === 'check'), 30_000);
    expect(p.processed.filter((r) => r.kind === 'check')[0]).toMatchObject({ ok: false, message: REFUSED });
    expect(existsSync(marker)).toBe(false);
    // Only a failed command check: with it gone the tcp check alone passes.
    p.setAssignments([assignment({ action: 'verify', attempt: 2, change: { kind: 'command', apply: ['true'], timeout: 10_000 }, checks: [reachable()] })]);
    await waitFor('a passing check report', () => p.processed.some((r) => r.kind === 'check' && r.attempt === 2), 30_000);
    expect(p.processed.find((r) => r.kind === 'check' && r.attempt === 2)).toMatchObject({ ok: true });
  });

  it('--allow command-check runs command checks (and no command changes)', async () => {
    const p = await agentProcess('command-check');
    expect((p.enrolls[0]!.facts as { allow?: unknown }).allow).toEqual(['command-check']);
    const marker = join(dir, 'MARKER');
    const applied = join(dir, 'APPLIED');
    p.setAssignments([assignment({ action: 'apply', change: { kind: 'command', apply: ['touch', applied], timeout: 10_000 }, checks: [] })]);
    await waitFor('an apply report', () => p.processed.some((r) => r.kind === 'apply'), 30_000);
    expect(p.processed.find((r) => r.kind === 'apply')).toMatchObject({ ok: false, message: expect.stringContaining('change kind "command" is not allowed on this host') });
    expect(existsSync(applied)).toBe(false);
    p.setAssignments([assignment({ rolloutId: 'r_2', action: 'verify', change: { kind: 'command', apply: ['true'], timeout: 10_000 }, checks: [touch(marker)] })]);
    await waitFor('a check report', () => p.processed.some((r) => r.kind === 'check'), 30_000);
    expect(p.processed.find((r) => r.kind === 'check')).toMatchObject({ ok: true });
    expect(existsSync(marker)).toBe(true);
  });
});

// `sluice agent` as a real process: it enrolls with SLUICE_ENROLL_TOKEN (SLUICE_TOKEN deprecated),
// heartbeats, logs JSON lines without secrets, stops cleanly on SIGTERM, and refuses a token with
// whitespace (a comment systemd kept in the value) before doing anything.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startFakePeer, waitFor, type FakePeer } from './agent-fake-peer.ts';

let peer: FakePeer | undefined;
const dirs: string[] = [];
afterEach(async () => {
  await peer?.close();
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

function runAgent(dir: string, env: Record<string, string>) {
  const child = spawn(
    join(import.meta.dirname, '..', 'bin', 'sluice'),
    ['agent', '--name', 'cli-1', '--labels', 'env=dev', '--allow', 'command', '--state-dir', join(dir, 'state'), '--heartbeat', '200ms'],
    { env: { ...process.env, SLUICE_ENROLL_TOKEN: '', SLUICE_TOKEN: '', SLUICE_SERVER: peer!.url, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, stderr: () => stderr };
}

describe('sluice agent (process)', () => {
  it('runs until SIGTERM, then exits 0', async () => {
    peer = await startFakePeer();
    const dir = await mkdtemp(join(tmpdir(), 'sluice-agent-cli-'));
    dirs.push(dir);
    const { child, exited, stderr: output } = runAgent(dir, { SLUICE_ENROLL_TOKEN: peer.enrollToken, SLUICE_TOKEN: 'sla_the_cli_admin_token' });
    try {
      await waitFor('two heartbeats from the process', () => peer!.heartbeats.length >= 2, 30_000);
      expect(peer.enrolls[0]).toMatchObject({ name: 'cli-1', labels: { env: 'dev' } });
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    const stderr = output();
    const logLines = stderr.split('\n').filter((l) => l.startsWith('{'));
    expect(logLines.map((l) => JSON.parse(l).msg)).toContain('enrolled');
    expect(stderr).not.toContain(peer.enrollToken);
    expect(stderr).not.toContain('deprecated');
    expect(peer.authSeen).not.toContain('sla_the_cli_admin_token');
  });

  it('still enrolls with the old SLUICE_TOKEN, warning that it is deprecated', async () => {
    peer = await startFakePeer();
    const dir = await mkdtemp(join(tmpdir(), 'sluice-agent-cli-'));
    dirs.push(dir);
    const { child, exited, stderr } = runAgent(dir, { SLUICE_TOKEN: peer.enrollToken });
    try {
      await waitFor('enrollment', () => peer!.enrolls.length === 1, 30_000);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    const warnings = stderr().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)).filter((l) => l.level === 40);
    expect(warnings.map((l) => l.msg)).toContainEqual(expect.stringMatching(/^SLUICE_TOKEN as the agent's enrollment token is deprecated: set SLUICE_ENROLL_TOKEN/));
  });

  it('exits 2 before anything when the token has whitespace (an inline comment systemd kept)', async () => {
    peer = await startFakePeer();
    const dir = await mkdtemp(join(tmpdir(), 'sluice-agent-cli-'));
    dirs.push(dir);
    const { exited, stderr } = runAgent(dir, { SLUICE_ENROLL_TOKEN: `${peer.enrollToken}            # the enrollment token` });
    expect(await exited).toBe(2);
    expect(stderr()).toMatch(/SLUICE_ENROLL_TOKEN contains whitespace .*# the enrollment token.*: tokens never do/);
    expect(stderr()).not.toContain(peer.enrollToken);
    expect(peer.enrolls).toEqual([]);
    expect(peer.authSeen).toEqual([]);
  });
});

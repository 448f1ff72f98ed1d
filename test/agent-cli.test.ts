// `sluice agent` as a real process: it enrolls with SLUICE_TOKEN, heartbeats, logs JSON lines
// without secrets, and stops cleanly on SIGTERM.
import { spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startFakePeer, waitFor, type FakePeer } from './agent-fake-peer.ts';

let peer: FakePeer | undefined;
afterEach(async () => {
  await peer?.close();
});

describe('sluice agent (process)', () => {
  it('runs until SIGTERM, then exits 0', async () => {
    peer = await startFakePeer();
    const dir = await mkdtemp(join(tmpdir(), 'sluice-agent-cli-'));
    const child = spawn(
      join(import.meta.dirname, '..', 'bin', 'sluice'),
      ['agent', '--name', 'cli-1', '--labels', 'env=dev', '--allow', 'command', '--state-dir', join(dir, 'state'), '--heartbeat', '200ms'],
      { env: { ...process.env, SLUICE_SERVER: peer.url, SLUICE_TOKEN: peer.enrollToken }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await waitFor('two heartbeats from the process', () => peer!.heartbeats.length >= 2, 30_000);
      expect(peer.enrolls[0]).toMatchObject({ name: 'cli-1', labels: { env: 'dev' } });
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    const logLines = stderr.split('\n').filter((l) => l.startsWith('{'));
    expect(logLines.map((l) => JSON.parse(l).msg)).toContain('enrolled');
    expect(stderr).not.toContain(peer.enrollToken);
  });
});

import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startAgent } from './agent.ts';
import { createMemoryLog } from './log.ts';

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

beforeEach(() => {
  unhandled.length = 0;
  process.on('unhandledRejection', onUnhandled);
});

afterEach(() => {
  process.off('unhandledRejection', onUnhandled);
});

async function until(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('agent loops', () => {
  it('survives a state dir it cannot read: logs, keeps retrying, and stops cleanly', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-agent-unit-'));
    const stateDir = join(dir, 'state');
    // credential.json as a directory: reading it fails with EISDIR, not ENOENT.
    await mkdir(join(stateDir, 'credential.json'), { recursive: true });
    const log = createMemoryLog();
    const agent = await startAgent({
      server: 'http://127.0.0.1:1', // never reached: there is no credential to call it with
      name: 'web-1',
      labels: {},
      allow: [],
      stateDir,
      root: dir,
      backoff: { initialMs: 10, maxMs: 20 },
      log,
      collectFacts: async () => ({}),
      drift: {
        policy: 'report',
        intervalMs: 60_000,
        pendingUpdates: false,
        // unattended-upgrades able to run: an event to deliver, so delivery asks for the credential too.
        collectFacts: async () => ({
          packages: {},
          routing: null,
          unattendedUpgrades: { setting: '1', settingFile: null, timer: { enabled: true, masked: false, active: null }, canRun: true },
        }),
      },
    });
    const failed = (msg: string) => log.lines.filter((l) => l.msg === msg && String(l.data?.['error']).includes('EISDIR')).length;
    await until('every loop to fail and retry', () =>
      failed('heartbeat failed; retrying') >= 2 &&
      failed('polling assignments failed; retrying') >= 2 &&
      failed('drift guard could not deliver its events') >= 2,
    );
    await agent.stop();
    await agent.done;
    expect(unhandled).toEqual([]);
    expect(log.lines.some((l) => l.msg === 'agent loop ended with an error')).toBe(false);
    expect(log.lines.at(-1)?.msg).toBe('agent stopped');
  });
});

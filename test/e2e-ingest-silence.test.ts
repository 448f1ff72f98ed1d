// Heartbeats are no longer written one by one (last_seen lives in memory and is flushed in
// batches): silence must still be exact. A real agent in flight is stopped with SIGSTOP; its step
// is failed as silent once silentAfter has passed since it was last heard, and within one
// heartbeat interval of the server (5 s) after that, never before.
import { afterEach, describe, expect, it } from 'vitest';
import { api } from './helpers/processes.ts';
import { Rig } from './helpers/engine-rig.ts';

const rigs: Rig[] = [];
afterEach(async () => {
  for (const r of rigs.splice(0)) await r.cleanup();
});

const SILENT_AFTER_MS = 6000;
const SERVER_HEARTBEAT_MS = 5000;

describe('silence with batched liveness', () => {
  it('an in-flight agent stopped with SIGSTOP is silent after silentAfter, within one heartbeat', async () => {
    const r = await Rig.start([
      { name: 's1', labels: { role: 'web' } },
      { name: 's2', labels: { role: 'web' } },
      { name: 'o1', labels: { role: 'db' } },
    ]);
    rigs.push(r);
    const plan = r.plan({
      hosts: 'hosts: { match: { role: web } }',
      waves: '  - { name: all, bake: 60s }',
      extra: `budget: { failedPerWave: 1, failedTotal: 1, silentAfter: ${SILENT_AFTER_MS / 1000}s }\nonFailure: halt\nconfirmWindow: 0s`,
    });
    const { id } = await api(r.server.url, 'POST', '/v1/rollouts', { plan, file: 'silence.yaml' });
    await r.waitView('the wave to bake', id, (v) => v.waves[0]?.state === 'baking');
    r.agents.get('s1')!.child.kill('SIGSTOP');
    // The last heartbeat the server got from s1 (in memory: it may not be flushed yet).
    await new Promise((res) => setTimeout(res, 1500));
    const lastSeen = ((await api(r.server.url, 'GET', '/v1/hosts')).hosts as any[]).find((h) => h.name === 's1').lastSeen as number;
    const v = await r.waitView('s1 to be silent', id, (x) => x.waves[0].hosts.some((h: any) => h.name === 's1' && h.state === 'silent'), 40_000);
    expect(v.waves[0].hosts.find((h: any) => h.name === 's2').state).toBe('verifying');
    const silent = (await r.events(id)).find((e) => e.kind === 'host.silent' && e.host === 's1');
    expect(silent).toBeDefined();
    const after = silent.at - lastSeen;
    expect(after).toBeGreaterThanOrEqual(SILENT_AFTER_MS);
    expect(after).toBeLessThanOrEqual(SILENT_AFTER_MS + SERVER_HEARTBEAT_MS);
  }, 180_000);
});

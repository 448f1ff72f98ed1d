// A catastrophic regular expression in a plan's http check (`/^(a+)+$/` against "aaaa…b", which
// backtracks for longer than anyone waits) must not freeze the agent: with a real server, a real
// agent and a real HTTP endpoint, the check fails with the reason and the host keeps heartbeating
// the whole time. (In-thread matching, as before, stalled the agent: no heartbeat for 8 s and counting.)
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { api } from './helpers/processes.ts';
import { Rig } from './helpers/engine-rig.ts';

const rigs: Rig[] = [];
let endpoint: Server | null = null;
afterEach(async () => {
  for (const r of rigs.splice(0)) await r.cleanup();
  await new Promise((r) => (endpoint ? endpoint.close(r) : r(undefined)));
  endpoint = null;
});

describe('a catastrophic bodyMatch', () => {
  it('fails its check with the reason while the agent keeps heartbeating', async () => {
    endpoint = createServer((_req, res) => res.end(`${'a'.repeat(48)}b`));
    await new Promise<void>((r) => endpoint!.listen(0, '127.0.0.1', r));
    const port = (endpoint.address() as AddressInfo).port;
    const r = await Rig.start([{ name: 'rx1' }]);
    rigs.push(r);
    const plan = `
name: regex-stall
change:
  command: { apply: ["true"], rollback: ["true"], timeout: 20s }
waves:
  - { name: all, bake: 10s }
checks:
  - http: { url: "http://127.0.0.1:${port}/", bodyMatch: "/^(a+)+$/" }
    timeout: 2s
checkInterval: 1s
budget: { failedPerWave: 0, failedTotal: 0, silentAfter: 60s }
onFailure: halt
`;
    const { id } = await api(r.server.url, 'POST', '/v1/rollouts', { plan, file: 'regex.yaml' });
    // While the check runs (and fails), the host's last heartbeat stays fresh: sampled every 250 ms.
    let worstAgeMs = 0;
    let done = false;
    const sampler = (async () => {
      while (!done) {
        const host = ((await api(r.server.url, 'GET', '/v1/hosts')).hosts as any[]).find((h) => h.name === 'rx1');
        worstAgeMs = Math.max(worstAgeMs, Date.now() - Number(host.lastSeen));
        await new Promise((res) => setTimeout(res, 250));
      }
    })();
    const v = await r.waitView('the rollout to halt on the check', id, (x) => x.state === 'halted', 60_000).finally(() => (done = true));
    await sampler;
    expect(v.waves[0].hosts[0].message).toMatch(/did not finish within \d+ ms \(stopped\)/);
    // Heartbeat every 1 s: a stalled agent would let this grow by the second.
    expect(worstAgeMs).toBeLessThan(4000);
    expect(r.agents.get('rx1')!.child.exitCode).toBeNull();
  }, 120_000);
});

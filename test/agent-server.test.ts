// The agent against the real server (in-process, embedded store): it enrolls, shows up online in
// GET /v1/hosts, and carries a command rollout through to `completed`.
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type AgentHandle } from '../src/agent/agent.ts';
import { createMemoryLog } from '../src/agent/log.ts';
import { silentLogger } from '../src/server/logger.ts';
import { startServer, type RunningServer } from '../src/server/start-server.ts';
import { waitFor } from './agent-fake-peer.ts';

let server: RunningServer;
let agent: AgentHandle;
let dir: string;

async function admin(method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(server.url + path, {
    method,
    headers: { authorization: `Bearer ${server.adminToken}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const json = await res.json();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

beforeAll(async () => {
  server = await startServer({ listen: '127.0.0.1:0', memory: true, log: silentLogger(), tickMs: 50, heartbeatMs: 200 });
  dir = await mkdtemp(join(tmpdir(), 'sluice-agent-server-'));
  agent = await startAgent({
    server: server.url,
    token: server.enrollToken,
    name: 'web-1',
    labels: { env: 'staging', zone: 'a' },
    allow: ['command'],
    stateDir: join(dir, 'state'),
    heartbeatMs: 200,
    pollWaitMs: 2000,
    backoff: { initialMs: 20, maxMs: 200 },
    log: createMemoryLog(),
  });
});

afterAll(async () => {
  await agent?.stop();
  await server?.close();
});

describe('agent against the real server', () => {
  it('enrolls and heartbeats: the host is online in GET /v1/hosts with its labels and facts', async () => {
    await waitFor('host online', async () => {
      const { hosts } = await admin('GET', '/v1/hosts');
      return hosts.some((h: any) => h.name === 'web-1' && h.status === 'online');
    });
    const { hosts } = await admin('GET', '/v1/hosts');
    const host = hosts.find((h: any) => h.name === 'web-1');
    expect(host.labels).toEqual({ env: 'staging', zone: 'a' });
    expect(host.facts).toMatchObject({ platform: process.platform });
  });

  it('carries a command rollout to completed, applying once', async () => {
    const plan = `
name: agent-flag
change:
  command:
    apply: ["sh", "-c", "echo on >> ${dir}/flag"]
    rollback: ["sh", "-c", "echo off >> ${dir}/flag"]
    timeout: 10s
waves:
  - { name: all }
checks:
  - name: flag-set
    command: ["test", "-f", "${dir}/flag"]
checkInterval: 100ms
budget: { failedPerWave: 0, failedTotal: 0, silentAfter: 60s }
onFailure: rollback
confirmWindow: 0s
`;
    const created = await admin('POST', '/v1/rollouts', { plan });
    await waitFor(
      'rollout completed',
      async () => {
        const r = await admin('GET', `/v1/rollouts/${created.id}`);
        if (['halted', 'rolled_back', 'aborted'].includes(r.state)) throw new Error(`rollout ended ${r.state}: ${JSON.stringify(r)}`);
        return r.state === 'completed';
      },
      30_000,
    );
    expect((await readFile(join(dir, 'flag'), 'utf8')).trim().split('\n')).toEqual(['on']);
  });

  it('rolls a failing rollout back: the rollback command runs once', async () => {
    const plan = `
name: agent-broken
change:
  command:
    apply: ["sh", "-c", "echo on >> ${dir}/broken"]
    rollback: ["sh", "-c", "echo off >> ${dir}/broken"]
    timeout: 10s
waves:
  - { name: all }
checks:
  - name: never
    command: ["false"]
budget: { failedPerWave: 0, failedTotal: 0, silentAfter: 60s }
onFailure: rollback
confirmWindow: 0s
`;
    const created = await admin('POST', '/v1/rollouts', { plan });
    await waitFor(
      'rollout rolled back',
      async () => {
        const r = await admin('GET', `/v1/rollouts/${created.id}`);
        if (['completed', 'halted', 'aborted'].includes(r.state)) throw new Error(`rollout ended ${r.state}: ${JSON.stringify(r)}`);
        return r.state === 'rolled_back';
      },
      30_000,
    );
    const r = await admin('GET', `/v1/rollouts/${created.id}`);
    expect(r.waves[0].hosts[0]).toMatchObject({ name: 'web-1', state: 'rolled_back' });
    expect((await readFile(join(dir, 'broken'), 'utf8')).trim().split('\n')).toEqual(['on', 'off']);
  });
});

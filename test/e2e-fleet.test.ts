// End to end with real processes: a `sluice server` on the embedded store and 12 `sluice agent`
// processes over env=staging/prod, 2 regions x 2 zones. A good change rolls through every wave in
// the plan's order; a bad one halts after its first wave and is rolled back by itself.
import { existsSync, readFileSync, readdirSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, runCli, startAgentProc, startServerProc, tempDir, waitFor, ADMIN_TOKEN, type Proc, type ServerProc } from './helpers/processes.ts';

const dir = tempDir('e2e-fleet');
const marks = join(dir.path, 'marks');
let server: ServerProc;
const agents: Proc[] = [];

// 4 staging hosts (one per zone) and 8 prod hosts (two per zone).
const FLEET: { name: string; labels: Record<string, string> }[] = [];
for (const region of ['r1', 'r2']) {
  for (const z of ['a', 'b']) {
    const zone = `${region}-${z}`;
    FLEET.push({ name: `stg-${zone}`, labels: { env: 'staging', region, zone } });
    for (const n of [1, 2]) FLEET.push({ name: `prod-${zone}-${n}`, labels: { env: 'prod', region, zone } });
  }
}

function plan(name: string, opts: { checkFails: boolean }): string {
  const apply = `echo "$SLUICE_ROLLOUT_ID" >> ${marks}/$SLUICE_HOST.apply`;
  const rollback = `echo "$SLUICE_ROLLOUT_ID" >> ${marks}/$SLUICE_HOST.rollback`;
  const check = opts.checkFails ? 'exit 3' : `test -f ${marks}/$SLUICE_HOST.apply`;
  return `
name: ${name}
change:
  command:
    apply: ["sh", "-c", ${JSON.stringify(apply)}]
    rollback: ["sh", "-c", ${JSON.stringify(rollback)}]
    timeout: 20s
waves:
  - { name: canary, match: { env: staging }, size: 1, bake: 1s }
  - { name: staging, match: { env: staging }, each: zone, bake: 1s }
  - { name: prod-first-zone, match: { env: prod }, each: zone, limit: 1, bake: 1s }
  - { name: prod, match: { env: prod }, each: region, bake: 1s }
checks:
  - name: applied
    command: ["sh", "-c", ${JSON.stringify(check)}]
checkInterval: 1s
budget: { failedPerWave: 0, failedTotal: 0, silentAfter: 20s }
onFailure: rollback
confirmWindow: 0s
`;
}

async function startRollout(yaml: string, file: string): Promise<string> {
  const res = await api(server.url, 'POST', '/v1/rollouts', { plan: yaml, file });
  return res.id as string;
}

async function waitFinal(id: string, timeoutMs = 120_000): Promise<any> {
  return waitFor(
    `rollout ${id} to finish`,
    async () => {
      const view = await api(server.url, 'GET', `/v1/rollouts/${id}`);
      return ['completed', 'halted', 'rolled_back', 'aborted'].includes(view.state) ? view : null;
    },
    timeoutMs,
    250,
  );
}

function lines(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
}

beforeAll(async () => {
  mkdirSync(marks, { recursive: true });
  server = await startServerProc(join(dir.path, 'server'));
  for (const h of FLEET) {
    agents.push(startAgentProc(server.url, { name: h.name, labels: h.labels, allow: 'command', stateDir: join(dir.path, 'agents', h.name) }));
  }
  await waitFor(
    'all 12 agents to enroll and heartbeat',
    async () => {
      const { hosts } = await api(server.url, 'GET', '/v1/hosts');
      return hosts.filter((h: any) => h.status === 'online').length === FLEET.length;
    },
    60_000,
    200,
  );
}, 90_000);

afterAll(async () => {
  await Promise.all(agents.map((a) => a.kill()));
  await server?.kill();
  dir.remove();
});

describe('a fleet of 12 real agents', () => {
  it('rolls a good change through canary, each zone, then each region, in the plan order', async () => {
    const id = await startRollout(plan('e2e-good', { checkFails: false }), 'good.yaml');
    const view = await waitFinal(id);
    expect(view.state).toBe('completed');

    // Wave expansion: canary of 1, staging zones smallest first (ties by name), one prod zone, then regions.
    expect(view.waves.map((w: any) => [w.name, w.hosts.map((h: any) => h.name)])).toEqual([
      ['canary', ['stg-r1-a']],
      ['staging/r1-b', ['stg-r1-b']],
      ['staging/r2-a', ['stg-r2-a']],
      ['staging/r2-b', ['stg-r2-b']],
      ['prod-first-zone/r1-a', ['prod-r1-a-1', 'prod-r1-a-2']],
      ['prod/r1', ['prod-r1-b-1', 'prod-r1-b-2']],
      ['prod/r2', ['prod-r2-a-1', 'prod-r2-a-2', 'prod-r2-b-1', 'prod-r2-b-2']],
    ]);
    for (const w of view.waves) {
      expect(w.state).toBe('completed');
      for (const h of w.hosts) expect(h.state).toBe('healthy');
    }
    // Every host applied exactly once, for this rollout.
    for (const h of FLEET) expect(lines(join(marks, `${h.name}.apply`))).toEqual([id]);

    // Order from the event log: no host of wave N+1 applied before every host of wave N reported.
    const { events } = await api(server.url, 'GET', `/v1/rollouts/${id}/events?limit=5000`);
    const applySeq = new Map<string, number>();
    for (const e of events) if (e.kind === 'report.apply' && e.host) applySeq.set(e.host, e.seq);
    expect(applySeq.size).toBe(FLEET.length);
    for (let i = 1; i < view.waves.length; i++) {
      const before = Math.max(...view.waves[i - 1].hosts.map((h: any) => applySeq.get(h.name)!));
      const after = Math.min(...view.waves[i].hosts.map((h: any) => applySeq.get(h.name)!));
      expect(after, `${view.waves[i].name} after ${view.waves[i - 1].name}`).toBeGreaterThan(before);
    }
  }, 180_000);

  it('halts a failing change after its first wave and rolls it back by itself', async () => {
    const id = await startRollout(plan('e2e-bad', { checkFails: true }), 'bad.yaml');
    const view = await waitFinal(id);
    expect(view.state).toBe('rolled_back');
    expect(view.waves.map((w: any) => [w.name, w.state])).toEqual([['canary', 'rolled_back']]);
    expect(view.waves[0].hosts).toEqual([expect.objectContaining({ name: 'stg-r1-a', state: 'rolled_back' })]);

    // The canary's rollback command ran (once, for this rollout); nobody else was ever assigned.
    expect(lines(join(marks, 'stg-r1-a.rollback'))).toEqual([id]);
    for (const h of FLEET) {
      const applied = lines(join(marks, `${h.name}.apply`)).filter((x) => x === id);
      expect(applied, h.name).toEqual(h.name === 'stg-r1-a' ? [id] : []);
    }
    const { events } = await api(server.url, 'GET', `/v1/rollouts/${id}/events?limit=5000`);
    const hostsInLog = new Set(events.filter((e: any) => e.host).map((e: any) => e.host));
    expect([...hostsInLog]).toEqual(['stg-r1-a']);
  }, 180_000);

  it('shows the fleet and rollouts through the CLI', async () => {
    const env = { SLUICE_SERVER: server.url, SLUICE_TOKEN: ADMIN_TOKEN };
    const hosts = await runCli(['hosts', '--json'], env);
    expect(hosts.code).toBe(0);
    const parsed = JSON.parse(hosts.stdout);
    expect(parsed).toHaveLength(12);
    expect(parsed[0]).toEqual({ name: expect.any(String), labels: expect.any(Object), status: 'online', lastSeen: expect.any(String), facts: expect.any(Object) });
    // Agents report basic facts with their heartbeats.
    expect(parsed[0].facts).toMatchObject({ kernel: expect.any(String) });
    const { rollouts } = await api(server.url, 'GET', '/v1/rollouts');
    const status = await runCli(['rollout', 'status', rollouts[0].id, '--json'], env);
    expect(status.code).toBe(0);
    const s = JSON.parse(status.stdout);
    expect(s).toMatchObject({ id: rollouts[0].id, name: 'e2e-bad', state: 'rolled_back' });
    expect(s.waves[0]).toMatchObject({ name: 'canary', state: 'rolled_back', hosts: [{ name: 'stg-r1-a', state: 'rolled_back' }] });
    expect(readdirSync(marks).length).toBeGreaterThan(0);
  }, 60_000);
});

// `sluice hosts` and `sluice rollout status` at scale, in-process against a real server: counts
// by default over 50 hosts, the hosts on request (--all / --hosts, --state, --wave, --label),
// and the DESIGN.md JSON shapes with every host whatever the size, paged through the API.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../src/server/start-server.ts';
import { silentLogger } from '../src/server/logger.ts';
import { runCli } from '../src/cli/run-cli.ts';
import { registerHostsCommand } from '../src/cli/hosts-command.ts';
import { registerRolloutCommands } from '../src/cli/rollout-command.ts';
import { createTestIo } from '../src/cli/test-io.ts';
import { HOSTS, hostName, seedHosts, seedRollout } from './helpers/fleet-seed.ts';

let server: RunningServer;
const BIG = Array.from({ length: 1200 }, (_, i) => `big-${String(i).padStart(5, '0')}`);

beforeAll(async () => {
  server = await startServer({ listen: '127.0.0.1:0', memory: true, log: silentLogger() });
  await seedHosts(server);
  await seedRollout(server, 'r_cli_big', BIG, (i) => (i % 100 === 0 ? 'failed' : 'healthy'));
  await seedRollout(server, 'r_cli_small', [hostName(1), hostName(2), hostName(3)], (i) => (i === 2 ? 'failed' : 'applying'));
}, 60_000);
afterAll(async () => {
  await server?.close();
});

async function sluice(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const io = createTestIo({ env: { SLUICE_SERVER: server.url, SLUICE_TOKEN: server.adminToken }, now: Date.now() });
  const code = await runCli(args, io, (program) => {
    registerRolloutCommands(program, io);
    registerHostsCommand(program, io);
  });
  return { code, stdout: io.stdout.text, stderr: io.stderr.text };
}

describe('sluice hosts at scale', () => {
  it('prints counts over 50 hosts, and the list with --all', async () => {
    const summary = await sluice(['hosts']);
    expect(summary.code).toBe(0);
    expect(summary.stdout).toContain(`${HOSTS} hosts: 104 online, 26 offline`);
    expect(summary.stdout).toContain('--all');
    expect(summary.stdout).not.toContain(hostName(0));

    const all = await sluice(['hosts', '--all']);
    expect(all.stdout.trim().split('\n')).toHaveLength(HOSTS + 1); // header + every host
    expect(all.stdout).toContain(hostName(HOSTS - 1));
  });

  it('counts by a label under a filter, and lists a filtered set small enough', async () => {
    const byZone = await sluice(['hosts', '--by', 'zone', '--label', 'env=prod']);
    expect(byZone.stdout).toContain('65 hosts with env=prod: 52 online, 13 offline');
    expect(byZone.stdout).toMatch(/^ZONE\s+HOSTS\s+ONLINE\s+OFFLINE$/m);
    expect(byZone.stdout).toMatch(/^a\s+22\s+17\s+5$/m);

    // 26 offline hosts: under the threshold, so listed
    const offline = await sluice(['hosts', '--status', 'offline']);
    const lines = offline.stdout.trim().split('\n');
    expect(lines).toHaveLength(27);
    expect(lines.slice(1).every((l) => /\boffline\b/.test(l))).toBe(true);
    const combined = await sluice(['hosts', '--label', 'zone=b', '--label', 'env=prod', '--status', 'online']);
    // zone b (i % 3 == 1), prod (even), online (i % 5 != 0)
    const expected = Array.from({ length: HOSTS }, (_, i) => i).filter((i) => i % 3 === 1 && i % 2 === 0 && i % 5 !== 0);
    expect(combined.stdout.trim().split('\n').slice(1).map((l) => l.split(/\s+/)[0])).toEqual(expected.map(hostName));
    expect((await sluice(['hosts', '--label', 'zone=nowhere'])).stdout).toBe('No host matches.\n');
  });

  it('prints every matching host with --json, paging through the server', async () => {
    const run = await sluice(['hosts', '--json']);
    const hosts = JSON.parse(run.stdout) as { name: string; status: string }[];
    expect(hosts.map((h) => h.name)).toEqual(Array.from({ length: HOSTS }, (_, i) => hostName(i)));
    const offline = JSON.parse((await sluice(['hosts', '--json', '--status', 'offline', '--label', 'zone=a'])).stdout) as { name: string }[];
    expect(offline.map((h) => h.name)).toEqual([0, 15, 30, 45, 60, 75, 90, 105, 120].map(hostName));
  });

  it('refuses bad filters with exit 2', async () => {
    for (const args of [['hosts', '--label', 'zone'], ['hosts', '--status', 'asleep'], ['hosts', '--by', 'bad key']]) {
      const run = await sluice(args);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr, args.join(' ')).toMatch(/label|status|by/);
    }
  });
});

describe('sluice rollout status at scale', () => {
  it('shows counts per wave and a few failed hosts, not 1,200 lines', async () => {
    const run = await sluice(['rollout', 'status', 'r_cli_big']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/rest\s+applying\s+\[.*\]\s+1188\/1199 healthy, 11 failed/);
    expect(run.stdout.match(/ x big-/g)).toHaveLength(10);
    expect(run.stdout).toContain('and 1 more: sluice rollout status r_cli_big --state failed,silent --wave rest');
    expect(run.stdout).toContain('1200 hosts: counts per wave');
    expect(run.stdout.split('\n').length).toBeLessThan(30);
  });

  it('lists hosts on request, filtered by state and wave', async () => {
    const failed = await sluice(['rollout', 'status', 'r_cli_big', '--state', 'failed']);
    const rows = failed.stdout.trim().split('\n');
    expect(rows[0]).toMatch(/^WAVE\s+HOST\s+STATE/);
    expect(rows.slice(1).map((l) => l.split(/\s+/)[1])).toEqual(BIG.filter((_, i) => i > 0 && i % 100 === 0));
    const all = await sluice(['rollout', 'status', 'r_cli_big', '--hosts']);
    expect(all.stdout.trim().split('\n')).toHaveLength(1201);
    const canary = await sluice(['rollout', 'status', 'r_cli_big', '--wave', 'canary']);
    expect(canary.stdout.trim().split('\n').slice(1).map((l) => l.split(/\s+/)[1])).toEqual(['big-00000']);
    const bad = await sluice(['rollout', 'status', 'r_cli_big', '--state', 'broken']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--state takes step states/);
    const noWave = await sluice(['rollout', 'status', 'r_cli_big', '--wave', 'nope']);
    expect(noWave.code).toBe(2);
    expect(noWave.stderr).toMatch(/no wave "nope"/);
  });

  it('keeps the --json shape with every host, whatever the size', async () => {
    const view = JSON.parse((await sluice(['rollout', 'status', 'r_cli_big', '--json'])).stdout) as { waves: { name: string; hosts: { name: string }[] }[] };
    expect(view.waves.map((w) => [w.name, w.hosts.length])).toEqual([
      ['canary', 1],
      ['rest', 1199],
    ]);
    expect(Object.keys(view.waves[0] ?? {}).sort()).toEqual(['hosts', 'name', 'state']);
    const failed = JSON.parse((await sluice(['rollout', 'status', 'r_cli_big', '--json', '--state', 'failed'])).stdout) as typeof view;
    expect(failed.waves.map((w) => w.hosts.length)).toEqual([0, 11]);
  });

  it('shows a small rollout as before: every failed host', async () => {
    const run = await sluice(['rollout', 'status', 'r_cli_small']);
    expect(run.stdout).toContain(`x ${hostName(3)} failed`);
    expect(run.stdout).not.toContain('counts per wave');
  });
});

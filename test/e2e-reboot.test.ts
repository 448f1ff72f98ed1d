// A plan's `reboot:` with a real server and real agents. The agents' reboot command stands in for a
// real reboot by killing the agent (SIGKILL, as a power cycle would), and the test restarts it, as
// systemd would at boot. The step is healthy only once the host is back, the after-hook ran, its
// checks pass and it confirmed; a host that needs no reboot (`ifRequired`) is not rebooted.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, startAgentProc, startServerProc, tempDir, waitFor, type Proc, type ServerProc } from './helpers/processes.ts';

describe('reboot: ifRequired, with hooks, through a real agent restart', () => {
  const dir = tempDir('e2e-reboot');
  const marks = join(dir.path, 'marks');
  let server: ServerProc;
  const agents = new Map<string, Proc>();
  const starts = new Map<string, number>();
  let stopping = false;

  const required = (host: string) => join(dir.path, `${host}.reboot-required`);
  const lines = (host: string) => (existsSync(join(marks, `${host}.log`)) ? readFileSync(join(marks, `${host}.log`), 'utf8').split('\n').filter(Boolean) : []);

  function startAgent(host: string): void {
    const rebootCommand = JSON.stringify(['sh', '-c', `echo reboot >> ${marks}/${host}.log; rm -f ${required(host)}; kill -KILL $PPID`]);
    const agent = startAgentProc(server.url, {
      name: host,
      labels: { suite: 'reboot' },
      allow: 'command,reboot',
      stateDir: join(dir.path, 'agents', host),
      extraArgs: ['--reboot-command', rebootCommand, '--reboot-required-file', required(host)],
    });
    agents.set(host, agent);
    starts.set(host, (starts.get(host) ?? 0) + 1);
    // systemd's Restart=always, at most a few times: the "boot".
    void agent.exited.then(() => {
      if (!stopping && (starts.get(host) ?? 0) < 4) setTimeout(() => startAgent(host), 300);
    });
  }

  beforeAll(async () => {
    mkdirSync(marks, { recursive: true });
    server = await startServerProc(join(dir.path, 'server'));
    for (const h of ['rb-1', 'rb-2']) startAgent(h);
    await waitFor('both hosts online', async () => ((await api(server.url, 'GET', '/v1/hosts?status=online')).hosts as any[]).length === 2, 60_000, 200);
  }, 90_000);

  afterAll(async () => {
    stopping = true;
    await Promise.all([...agents.values()].map((a) => a.kill()));
    await server?.kill();
    dir.remove();
  });

  it('reboots the host that needs it between its before and after hooks, and completes only once it is back and confirmed', async () => {
    // rb-1's apply leaves it needing a reboot (like a kernel or libc upgrade); rb-2's does not.
    const apply = `echo applied >> ${marks}/$SLUICE_HOST.log; if [ "$SLUICE_HOST" = rb-1 ]; then touch ${dir.path}/$SLUICE_HOST.reboot-required; fi`;
    const plan = `
name: reboot-e2e
change:
  command:
    apply: ["sh", "-c", ${JSON.stringify(apply)}]
    rollback: ["sh", "-c", "echo rolledback >> ${marks}/$SLUICE_HOST.log"]
    timeout: 20s
hosts: { match: { suite: reboot } }
waves:
  - { name: all, bake: 2s }
reboot:
  when: ifRequired
  before: ["sh", "-c", "echo before >> ${marks}/$SLUICE_HOST.log"]
  after: ["sh", "-c", "echo after >> ${marks}/$SLUICE_HOST.log"]
  timeout: 60s
checks:
  - name: hooks-ran
    command: ["sh", "-c", "[ \\"$SLUICE_HOST\\" = rb-2 ] || grep -q after ${marks}/$SLUICE_HOST.log"]
checkInterval: 1s
budget: { failedPerWave: 0, failedTotal: 0, silentAfter: 60s }
confirmWindow: 3s
onFailure: halt
`;
    writeFileSync(join(dir.path, 'plan.yaml'), plan);
    const { id } = await api(server.url, 'POST', '/v1/rollouts', { plan, file: 'reboot.yaml' });
    const view = await waitFor(
      'the rollout to end',
      async () => {
        const v = await api(server.url, 'GET', `/v1/rollouts/${id}`);
        return ['completed', 'halted', 'rolled_back', 'aborted'].includes(v.state) ? v : null;
      },
      90_000,
      250,
    );
    const events = (await api(server.url, 'GET', `/v1/rollouts/${id}/events?limit=1000`)).events as any[];
    if (view.state !== 'completed') throw new Error(`rollout ${view.state}: ${JSON.stringify(view.waves)}\n${events.map((e) => e.message).join('\n')}\n${agents.get('rb-1')!.output().slice(-3000)}`);
    expect(lines('rb-1')).toEqual(['applied', 'before', 'reboot', 'after']);
    expect(lines('rb-2')).toEqual(['applied']);
    expect(starts.get('rb-1')).toBe(2); // one "boot"
    expect(starts.get('rb-2')).toBe(1);
    expect(existsSync(required('rb-1'))).toBe(false);
    // Healthy only after the confirm, which came after the host was back.
    const confirmed = events.filter((e) => e.kind === 'host.confirmed').map((e) => e.host).sort();
    expect(confirmed).toEqual(['rb-1', 'rb-2']);
    expect(view.waves[0].hosts.map((h: any) => [h.name, h.state]).sort()).toEqual([['rb-1', 'healthy'], ['rb-2', 'healthy']]);
    expect(agents.get('rb-1')!.output()).toMatch(/back after the reboot/);
  }, 150_000);
});

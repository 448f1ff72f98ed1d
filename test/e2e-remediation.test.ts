// The remediation guard with real processes: a server, ten real agents, and a small auto-healer
// process (test/helpers/auto-healer.mjs) that "replaces" an offline host (kills its agent, wipes
// its state dir) only when `sluice remediation ask` allows it. 30% of the fleet going silent at
// once is a mass failure: every request is denied, nothing is destroyed, one alert is raised. One
// host failing alone is replaced.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, REPO, SLUICE, api, startAgentProc, startServerProc, tempDir, waitFor, type Proc, type ServerProc } from './helpers/processes.ts';

const HOSTS = Array.from({ length: 10 }, (_, i) => `rm-${i}`);
const zoneOf = (i: number) => (i < 5 ? 'a' : 'b');

describe('remediation guard end to end', () => {
  const dir = tempDir('e2e-remediation');
  let server: ServerProc;
  const agents = new Map<string, Proc>();
  let healer: ChildProcess | null = null;
  let healerToken = '';
  const log = join(dir.path, 'healer.log');
  const stop = join(dir.path, 'healer.stop');

  const offline = async () => ((await api(server.url, 'GET', '/v1/hosts?status=offline')).hosts as any[]).map((h) => h.name).sort();
  const lines = () => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : []);

  beforeAll(async () => {
    const policy = join(dir.path, 'policy.yaml');
    writeFileSync(policy, 'window: 10m\nscopes:\n  - { label: zone, maxShare: 40% }\n  - { label: fleet, maxShare: 20% }\n');
    server = await startServerProc(join(dir.path, 'server'), 0, { SLUICE_REMEDIATION_POLICY: policy });
    mkdirSync(join(dir.path, 'pids'));
    for (const [i, name] of HOSTS.entries()) {
      const agent = startAgentProc(server.url, { name, labels: { zone: zoneOf(i) }, stateDir: join(dir.path, 'states', name) });
      agents.set(name, agent);
      writeFileSync(join(dir.path, 'pids', name), String(agent.child.pid));
    }
    await waitFor('ten hosts online', async () => ((await api(server.url, 'GET', '/v1/hosts?status=online')).hosts as any[]).length === 10, 90_000, 250);
    const created = await api(server.url, 'POST', '/v1/tokens', { name: 'test-healer', owner: 'platform', role: 'remediator' });
    healerToken = created.secret;
    healer = spawn(process.execPath, [join(REPO, 'test', 'helpers', 'auto-healer.mjs'), server.url, healerToken, SLUICE, join(dir.path, 'pids'), join(dir.path, 'states'), log, stop], { stdio: 'inherit' });
  }, 150_000);

  afterAll(async () => {
    writeFileSync(stop, '');
    if (healer && healer.exitCode === null) {
      const gone = new Promise((r) => healer!.once('exit', r));
      healer.kill('SIGKILL');
      await gone;
    }
    for (const a of agents.values()) a.child.kill('SIGCONT');
    await Promise.all([...agents.values()].map((a) => a.kill()));
    await server?.kill();
    dir.remove();
  });

  it('denies a burst of 30% going silent at once, then replaces a host that fails alone', async () => {
    // The burst: three hosts (two in zone a, one in b) stop answering at the same moment.
    const burst = ['rm-1', 'rm-2', 'rm-7'];
    for (const h of burst) agents.get(h)!.child.kill('SIGSTOP');
    await waitFor('the burst to be offline', async () => JSON.stringify(await offline()) === JSON.stringify(burst), 40_000, 250);
    // Each ask is a CLI process of its own: on a loaded machine a round for three hosts takes a while.
    await waitFor('the healer to be denied for each', () => burst.every((h) => lines().some((l) => l.startsWith(`denied ${h}:`))), 90_000, 250).catch((err) => {
      throw new Error(`${(err as Error).message}\nhealer: ${lines().slice(-8).join('\n')}`);
    });
    expect(lines().filter((l) => l.startsWith('replaced'))).toEqual([]);
    expect(lines().find((l) => l.startsWith('denied rm-1:'))).toMatch(/deny: mass failure in (zone=a|fleet): 3 of 10|deny: mass failure in zone=a: 2 of 5/);
    // Nothing was destroyed: every burst host still has its state dir, and comes back when it can.
    for (const h of burst) expect(existsSync(join(dir.path, 'states', h, 'credential.json'))).toBe(true);
    const requests = (await api(server.url, 'GET', '/v1/remediation/requests?decision=deny')).requests as any[];
    expect(new Set(requests.map((r) => r.host))).toEqual(new Set(burst));
    expect(requests.every((r) => r.requester === 'test-healer' && r.principal === 'test-healer')).toBe(true);
    // One alert per scope per window, however many denials.
    const metrics = await (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).text();
    const bursts = [...metrics.matchAll(/^sluice_remediation_denied_bursts_total\{scope="([^"]+)"\} (\d+)$/gm)].map((m) => [m[1], Number(m[2])]);
    expect(bursts.length).toBeGreaterThan(0);
    for (const [, n] of bursts) expect(n).toBe(1);
    expect(metrics).toMatch(/^sluice_remediation_requests_total\{action="replace",decision="deny"\} [1-9]\d*$/m);

    // While they come back one by one, the last one still offline is a host failing alone (allowed,
    // rightly): the healer pauses until all are back, so that the next case is the one we mean.
    writeFileSync(`${stop}.pause`, '');
    await new Promise((r) => setTimeout(r, 2500)); // an ask in flight finishes
    const deniedSoFar = lines().length;
    for (const h of burst) agents.get(h)!.child.kill('SIGCONT');
    await waitFor('the burst hosts back online', async () => (await offline()).length === 0, 40_000, 250);
    rmSync(`${stop}.pause`);
    expect(lines().slice(deniedSoFar).filter((l) => l.startsWith('replaced'))).toEqual([]);

    // One host fails alone: allowed, and the healer replaces it.
    agents.get('rm-5')!.child.kill('SIGSTOP');
    await waitFor('the healer to replace rm-5', () => lines().some((l) => l.startsWith('replaced rm-5:')), 60_000, 250).catch(async (err) => {
      const recent = (await api(server.url, 'GET', '/v1/remediation/requests?host=rm-5')).requests;
      throw new Error(`${(err as Error).message}\nhealer: ${lines().slice(-8).join('\n')}\nguard: ${JSON.stringify(recent)}\noffline: ${await offline()}`);
    });
    expect(lines().find((l) => l.startsWith('replaced rm-5:'))).toMatch(/allow: within budget/);
    expect(existsSync(join(dir.path, 'states', 'rm-5'))).toBe(false);
    await waitFor('the replaced agent to be gone', () => agents.get('rm-5')!.child.exitCode !== null || agents.get('rm-5')!.child.signalCode !== null, 10_000, 100);
    // The guard's record of it.
    const allowed = (await api(server.url, 'GET', '/v1/remediation/requests?decision=allow')).requests as any[];
    expect(allowed.map((r) => r.host)).toEqual(['rm-5']);
    // An audit entry per request, under the healer's token.
    const audit = (await api(server.url, 'GET', '/v1/audit?action=remediation.ask')).entries as any[];
    expect(audit.length).toBeGreaterThanOrEqual(4);
    expect(audit.every((e) => e.actor === 'test-healer')).toBe(true);
  }, 200_000);
});

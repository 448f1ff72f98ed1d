// Metric gates end to end (issue 12): a real Prometheus scraping a gauge the test controls, a real
// server and real agents. The gate is green: the canary applies and bakes. The test turns the
// gauge red mid-bake: the gate fails and the rollout rolls back, saying which gate, which query,
// which value and when (event log, rollout view, `sluice rollout status`); the next wave never runs.
import { createServer } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, api, runCli, waitFor } from './helpers/processes.ts';
import { Rig } from './helpers/engine-rig.ts';
import { GaugeExporter, Prometheus } from './helpers/prometheus.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

describe('metric gates with a real Prometheus', () => {
  it('green gate: the rollout proceeds; the gauge turns red mid-bake: the rollout rolls back with the gate message', async () => {
    const exporter = await GaugeExporter.start('sluice_test_error_ratio');
    cleanups.push(() => exporter.close());
    const prom = await Prometheus.start(exporter.port);
    cleanups.push(() => prom.stop());
    // Evidence first: at least 3 scrapes before the rollout starts.
    await waitFor('Prometheus to hold 3 samples', async () => (await prom.samples('sluice_test_error_ratio', 10)).length >= 3, 30_000, 250);

    // A webhook receiver: the plan's notify gets gate.failed and the rollback.
    const hooks: any[] = [];
    const receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        hooks.push(JSON.parse(body));
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((res) => receiver.listen(0, '127.0.0.1', () => res()));
    cleanups.push(() => new Promise<void>((res) => receiver.close(() => res())));
    const hookUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`;

    const r = await Rig.start([{ name: 'g1' }, { name: 'g2' }]);
    cleanups.push(() => r.cleanup());
    const plan = r.plan({
      name: 'gated',
      waves: '  - { name: canary, size: 1, bake: 40s }\n  - { name: rest, bake: 1s }',
      extra: [
        'budget: { failedPerWave: 0, failedTotal: 0, silentAfter: 60s }',
        'onFailure: rollback',
        'confirmWindow: 0s',
        'gates:',
        '  - name: error-ratio',
        `    prometheus: ${prom.url}`,
        '    query: max(sluice_test_error_ratio)',
        '    below: 0.5',
        '    window: 5s',
        '    minSamples: 3',
        '    interval: 1s',
        '    timeout: 2s',
        'notify:',
        `  - { url: "${hookUrl}", events: [gate.failed, rollout.rolled_back] }`,
      ].join('\n'),
    });
    const check = await runCli(['plan', 'check', await writePlan(r, plan)]);
    expect(check.code).toBe(0);
    const { id } = await api(r.server.url, 'POST', '/v1/rollouts', { plan, file: 'gated.yaml' });
    // Green: the gate passes before the canary starts, and the canary bakes.
    await r.waitView('the canary to bake', id, (v) => v.waves[0]?.state === 'baking', 40_000);
    let kinds = (await r.events(id)).map((e) => e.kind);
    expect(kinds.indexOf('gate.passed')).toBeGreaterThan(-1);
    expect(kinds.indexOf('gate.passed')).toBeLessThan(kinds.indexOf('wave.started'));
    // A couple of green evaluations through the bake change nothing.
    await new Promise((res) => setTimeout(res, 2500));
    expect((await r.view(id)).state).toBe('running');

    const redAt = Date.now();
    exporter.value = 0.9;
    const v = await r.waitFinal(id, 40_000);
    expect(v.state).toBe('rolled_back');
    expect(v.reason).toMatch(/^gate error-ratio failed: value 0\.9 at \d{4}-\d\d-\d\dT[\d:.]+Z is not below 0\.5 \(query: max\(sluice_test_error_ratio\)\)/);
    expect(v.gates).toEqual([expect.objectContaining({ gate: 'error-ratio', query: 'max(sluice_test_error_ratio)', pass: false, value: 0.9 })]);
    const at = Date.parse(/at (\S+Z)/.exec(v.reason)![1]!);
    expect(at).toBeGreaterThanOrEqual(redAt - 1500);
    const events = await r.events(id);
    kinds = events.map((e) => e.kind);
    expect(kinds).toEqual(expect.arrayContaining(['gate.failed', 'wave.failed', 'rollout.rolling_back', 'rollout.rolled_back']));
    expect(events.find((e) => e.kind === 'gate.failed').message).toMatch(/gate error-ratio failed: value 0\.9/);
    // The canary host was changed and rolled back; the next wave never ran.
    const canaryHost = v.waves[0].hosts[0].name;
    const other = canaryHost === 'g1' ? 'g2' : 'g1';
    expect(r.lines(`${canaryHost}.apply`)).toEqual([id]);
    expect(r.lines(`${canaryHost}.rollback`)).toEqual([id]);
    expect(r.lines(`${other}.apply`)).toEqual([]);
    const hooked = await waitFor('the webhooks', () => (hooks.length >= 2 ? hooks : null), 20_000, 100);
    expect(hooked.map((h) => h.event)).toEqual(['gate.failed', 'rollout.rolled_back']);
    expect(hooked[0]).toMatchObject({ version: 1, rollout: { id, name: 'gated' }, wave: 'canary', message: expect.stringMatching(/^gate error-ratio failed: value 0\.9/) });
    const status = await runCli(['rollout', 'status', id, '--server', r.server.url, '--token', ADMIN_TOKEN]);
    expect(status.stdout).toMatch(/gate error-ratio failed: value 0\.9/);
    expect(status.stdout).toMatch(/max\(sluice_test_error_ratio\)/);
    const json = JSON.parse((await runCli(['rollout', 'status', id, '--json', '--server', r.server.url, '--token', ADMIN_TOKEN])).stdout);
    expect(json.gates).toEqual([expect.objectContaining({ gate: 'error-ratio', pass: false, value: 0.9, at: expect.stringMatching(/Z$/) })]);
  }, 90_000);
});

async function writePlan(r: Rig, text: string): Promise<string> {
  const { writeFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const file = join(r.dir.path, 'gated.yaml');
  writeFileSync(file, text);
  return file;
}

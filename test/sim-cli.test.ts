// `sluice sim run` and `sluice plan analyze` through commander, as a user runs them: output,
// exit codes, byte-identical --json, the HTML report, and located errors for bad files.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { registerPlanAnalyze } from '../src/cli/plan-analyze.ts';
import { runCli } from '../src/cli/run-cli.ts';
import { registerSimCommand } from '../src/cli/sim-command.ts';
import { createTestIo } from '../src/cli/test-io.ts';
import { planPath } from './sim-helpers.ts';
import { startServer } from '../src/server/start-server.ts';
import { silentLogger } from '../src/server/logger.ts';

const FLAG_ON = join(import.meta.dirname, '..', 'examples', 'flag-on.yaml');

async function sluice(...argv: string[]) {
  // plan analyze --server sends the plan's text to the server's preview, through the CLI's io.
  const io = createTestIo({ files: { [FLAG_ON]: readFileSync(FLAG_ON, 'utf8') } });
  const code = await runCli(argv, io, (program) => {
    registerSimCommand(program, io);
    registerPlanAnalyze(program.command('plan'), io);
  });
  return { code, stdout: io.stdout.text, stderr: io.stderr.text };
}

const dir = mkdtempSync(join(tmpdir(), 'sluice-sim-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('sluice sim run', () => {
  it('prints both runs side by side', async () => {
    const r = await sluice('sim', 'run', 'datadog-2023', '--hosts', '2000');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('uncontrolled (as it happened)');
    expect(r.stdout).toContain('uncontrolled + guard');
    expect(r.stdout).toMatch(/halted at\s+-\s+-\s+2023-03-07 19:30/);
  });

  it('keeps the per-region columns aligned, long region names included', async () => {
    const r = await sluice('sim', 'run', 'gcp-2025', '--hosts', '10000');
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    const header = lines.findIndex((l) => l.startsWith('per region'));
    const rows = lines.slice(header, lines.indexOf('', header));
    expect(rows.some((l) => l.startsWith('asia-northeast1 '))).toBe(true);
    const column = rows[0]!.indexOf('uncontrolled');
    for (const row of rows.slice(1)) expect(row.search(/\d+(\.\d+)?% \//), row).toBe(column);
  });

  it('--json has the documented shape and is byte-identical for the same seed', async () => {
    const a = await sluice('sim', 'run', 'heroku-2025', '--hosts', '1500', '--seed', '9', '--json');
    const b = await sluice('sim', 'run', 'heroku-2025', '--hosts', '1500', '--seed', '9', '--json');
    expect(a.code).toBe(0);
    expect(a.stdout).toBe(b.stdout);
    const out = JSON.parse(a.stdout);
    expect(Object.keys(out)).toEqual(expect.arrayContaining(['scenario', 'seed', 'hosts', 'runs']));
    expect(out).toMatchObject({ scenario: 'heroku-2025', seed: 9, hosts: 1500 });
    for (const run of [out.runs.uncontrolled, out.runs.controlled]) {
      for (const key of ['peakImpairedPct', 'peakCapacityLostPct', 'terminatedPct', 'dataBearingLostPct', 'hostsChanged', 'firstImpairedAt', 'haltedAt', 'timeline', 'regions']) expect(run).toHaveProperty(key);
      expect(run.timeline).toHaveLength(36 * 60 + 1);
      expect(run.timeline[1]).toEqual({ t: '2025-06-09T18:01:00.000Z', impairedPct: expect.any(Number), terminatedPct: expect.any(Number), peakImpairedPct: expect.any(Number), capacityLostPct: expect.any(Number) });
      expect(run.regions[0]).toMatchObject({ name: 'us-east-1', provider: 'aws', hosts: 1200, peakCapacityLostPct: expect.any(Number) });
    }
    expect(out.runs.uncontrolled.haltedAt).toBeNull();
  });

  it('--report writes a self-contained HTML page with both timelines, the waves and the halt', async () => {
    const file = join(dir, 'report.html');
    const r = await sluice('sim', 'run', 'gcp-2025', '--hosts', '2000', '--report', file);
    expect(r.code).toBe(0);
    const html = readFileSync(file, 'utf8');
    expect(html).toContain('<svg');
    expect(html).toContain('wave canary');
    expect(html).toContain('>halted<');
    expect(html).not.toMatch(/<script|\ssrc=|\shref=|url\(|@import/);
  });

  it('a malformed scenario file gives FILE:LINE:COL errors and exit 2', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'name: bad\nstart: yesterday\n');
    const r = await sluice('sim', 'run', file);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${file}:2:8: start must be a UTC time like 2023-03-08T06:00:00Z (got "yesterday")`);
    expect(r.stderr).toContain(`${file}:1:1: missing required key "duration" in the scenario`);
  });

  it('an unknown scenario name lists the built-in ones', async () => {
    const r = await sluice('sim', 'run', 'datadog-2024');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('datadog-2023, gcp-2025, heroku-2025, kops-2025');
  });
});

describe('sluice plan analyze', () => {
  it('--json over a scenario fleet', async () => {
    const r = await sluice('plan', 'analyze', planPath('kops-2025-tcp-only'), '--fleet', 'kops-2025', '--hosts', '3000', '--json');
    expect(r.code).toBe(0);
    const a = JSON.parse(r.stdout);
    expect(a.worstCase.hosts).toBe(3);
    expect(a.warnings.some((w: string) => w.startsWith('no ipRulesPreserved'))).toBe(true);
  });

  it('over the live inventory of a real server (--server)', async () => {
    const server = await startServer({ listen: '127.0.0.1:0', memory: true, log: silentLogger() });
    try {
      const fleet: [string, string, string][] = [['a', 'staging', 'z1'], ['b', 'prod', 'z1'], ['c', 'prod', 'z2'], ['d', 'prod', 'z2']];
      for (const [name, env, zone] of fleet) {
        const res = await fetch(`${server.url}/v1/agent/enroll`, {
          method: 'POST',
          headers: { authorization: `Bearer ${server.enrollToken}`, 'content-type': 'application/json' },
          body: JSON.stringify({ name, labels: { env, zone, region: 'r1' }, facts: { allow: ['command', 'apt', 'file', 'command-check'] } }),
        });
        expect(res.status).toBe(200);
      }
      const r = await sluice('plan', 'analyze', FLAG_ON, '--server', server.url, '--token', server.adminToken, '--json');
      expect(r.code, r.stderr).toBe(0);
      const a = JSON.parse(r.stdout);
      expect(a.fleetSource).toBe(`the inventory of ${server.url}`);
      expect(a.waves.map((w: { name: string; hosts: number }) => [w.name, w.hosts])).toEqual([['canary', 1], ['prod/z1', 1], ['prod/z2', 2]]);
      expect(a.worstCase.hosts).toBe(1);
    } finally {
      await server.close();
    }
  });

  it('needs exactly one fleet source', async () => {
    const r = await sluice('plan', 'analyze', planPath('kops-2025'));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('give exactly one of --fleet SCENARIO');
  });
});

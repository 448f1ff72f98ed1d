import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RunArgvResult } from './exec.ts';
import type { ArgvRunner } from './facts/argv-runner.ts';
import { createHostHooks } from './host-hooks.ts';

const ok = (stdout: string): RunArgvResult => ({ exitCode: 0, signal: null, stdout, stderr: '', timedOut: false, truncated: false, error: null });
const RULES = JSON.stringify([
  { priority: 0, src: 'all', table: 'local' },
  { priority: 100, src: 'all', table: 'local' },
  { priority: 32766, src: 'all', table: 'main' },
]);

let root = '';
let calls: string[];
let packages: string;
const run: ArgvRunner = async (argv) => {
  calls.push(argv[0]!);
  if (argv[0] === 'dpkg-query') return ok(packages);
  if (argv[0] === 'ip') return ok(argv.includes('-4') && argv.includes('rule') ? RULES : '[]');
  return { ...ok(''), exitCode: 1 };
};

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'sluice-host-hooks-'));
  calls = [];
  packages = 'systemd\t249.11-0ubuntu3.6\tii \tinstall ok installed\n';
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('host hooks', () => {
  it('re-reads packages only after the refresh interval or a change, and returns the same facts while nothing changed', async () => {
    let now = 1000;
    const hooks = createHostHooks({ root, run, now: () => now, refreshMs: 45_000 });
    const first = await hooks.collectFacts();
    now += 5000;
    expect(await hooks.collectFacts()).toBe(first); // the heartbeat then sends no facts
    expect(calls.filter((c) => c === 'dpkg-query')).toHaveLength(1);

    packages = 'systemd\t249.11-0ubuntu3.7\tii \tinstall ok installed\n';
    hooks.onHostChanged();
    const after = await hooks.collectFacts();
    expect(after).not.toBe(first);
    expect(after['packages']).toEqual({ systemd: '249.11-0ubuntu3.7' });
  });

  it('flags the Datadog condition only where systemd-networkd is in use', async () => {
    const without = await createHostHooks({ root, run }).collectFacts();
    expect(without['networkdInUse']).toBe(false);
    expect(without['hazards']).toEqual([]);

    await mkdir(join(root, 'etc/systemd/system/multi-user.target.wants'), { recursive: true });
    await symlink('/lib/systemd/system/systemd-networkd.service', join(root, 'etc/systemd/system/multi-user.target.wants/systemd-networkd.service'));
    const hooks = createHostHooks({ root, run });
    const facts = await hooks.collectFacts();
    expect(facts['networkdInUse']).toBe(true);
    expect((facts['hazards'] as { message: string }[]).map((f) => f.message)).toEqual([
      'would lose 1 routing-policy rules if systemd-networkd restarts (ManageForeignRoutingPolicyRules=yes)',
    ]);
    const baseline = await hooks.takeBaseline();
    const findings = await hooks.preflight({ kind: 'command', apply: ['true'], timeout: 1000 }, baseline);
    expect(findings.map((f) => f.code)).toEqual(['networkd-foreign-rules']);
  });
});

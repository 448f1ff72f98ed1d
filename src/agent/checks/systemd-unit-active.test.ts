import { describe, expect, it } from 'vitest';
import { createSystemdUnitActiveCheck } from './systemd-unit-active.ts';
import type { ArgvRunner } from '../facts/argv-runner.ts';
import type { CheckContext } from './check-runner.ts';

const ctx: CheckContext = { root: '/', log: { info() {}, warn() {}, error() {} }, baseline: null };
function fake(stdout: string, exitCode: number, seen: string[][]): ArgvRunner {
  return async (argv) => {
    seen.push([...argv]);
    return { exitCode, signal: null, stdout, stderr: '', timedOut: false, truncated: false, error: null };
  };
}

describe('systemdUnitActive', () => {
  it('passes on "active" and says what it saw otherwise', async () => {
    const seen: string[][] = [];
    const ok = await createSystemdUnitActiveCheck(fake('active\n', 0, seen)).run({ kind: 'systemdUnitActive', name: 'n', unit: 'nginx.service', timeout: 1000 }, ctx);
    expect(ok.ok).toBe(true);
    expect(seen[0]).toEqual(['systemctl', 'is-active', '--', 'nginx.service']);
    const bad = await createSystemdUnitActiveCheck(fake('failed\n', 3, seen)).run({ kind: 'systemdUnitActive', name: 'n', unit: 'nginx.service', timeout: 1000 }, ctx);
    expect(bad).toEqual({ ok: false, message: 'expected nginx.service active, seen failed' });
  });

  it('refuses a unit name that is not one (no option injection)', async () => {
    const seen: string[][] = [];
    const res = await createSystemdUnitActiveCheck(fake('active', 0, seen)).run({ kind: 'systemdUnitActive', name: 'n', unit: '--all', timeout: 1000 }, ctx);
    expect(res.ok).toBe(false);
    expect(seen).toEqual([]);
  });
});

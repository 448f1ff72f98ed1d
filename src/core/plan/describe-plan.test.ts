import { describe, expect, it } from 'vitest';
import { describePlan } from './describe-plan.ts';
import { parsePlan } from './parse-plan.ts';

describe('describePlan', () => {
  it('summarises change, targeting, waves, checks, budget and failure handling', () => {
    const plan = parsePlan(
      `name: systemd-update
change: { apt: { install: { systemd: 249.11-0ubuntu3.7 } } }
hosts: { match: { os: ubuntu-22.04 } }
waves:
  - { name: canary, match: { env: experimental }, size: 1, spread: [provider], bake: 30m }
  - { name: staging, match: { env: staging }, parallel: 10%, bake: 2h }
  - { name: first-zone, match: { env: prod }, each: zone, limit: 1, approve: true, bake: 1d }
checks:
  - ipRulesPreserved: {}
  - tcp: { host: 10.0.0.1, port: 443, timeout: 2s }
budget: { failedPerWave: 0, failedTotal: 2, silentAfter: 60s }
onFailure: halt
`,
      'p.yaml',
    );
    expect(describePlan(plan)).toEqual([
      'plan "systemd-update"',
      'change: apt install systemd=249.11-0ubuntu3.7; timeout 10m',
      'targets: hosts with os=ubuntu-22.04',
      'waves (3), in order; each takes hosts no earlier wave took:',
      '  1. canary: hosts with env=experimental; size 1; at least one host per provider; bake 30m',
      '  2. staging: hosts with env=staging; 10% of the wave at a time; bake 2h',
      '  3. first-zone: hosts with env=prod; one sub-wave per zone, smallest first, first 1 only; bake 1d; waits for approval',
      'checks (every 10s through the bake):',
      '  - ipRulesPreserved: routing-policy rules present before the change are still there (timeout 10s)',
      '  - tcp 10.0.0.1:443: tcp connect to 10.0.0.1:443 (timeout 2s)',
      'budget: 0 failed per wave, 2 in total; silent after 1m',
      'on failure: halt and leave hosts as they are for investigation',
      'preflight: block; confirm window 1m',
    ]);
  });

  it('says when a command change has no rollback', () => {
    const plan = parsePlan(`name: p\nchange: { command: { apply: [flag, "on"] } }\nwaves: [{ name: all }]\n`, 'p.yaml');
    const lines = describePlan(plan);
    expect(lines[1]).toBe('change: command flag on; no rollback; timeout 1m');
    expect(lines[2]).toBe('  note: no rollback command; rolling back a host only restores its invariants');
    expect(lines).toContain('on failure: stop and roll back every changed host, most recent wave first');
  });
});

describe('describePlan: distinctApprover', () => {
  it('says approvals must come from someone else, and only when asked', () => {
    const text = (extra: string) =>
      describePlan(parsePlan(`name: p\nchange: { command: { apply: ["true"] } }\nwaves:\n  - { name: all, approve: true }\n${extra}`, 'p.yaml'));
    expect(text('distinctApprover: true\n').at(-1)).toBe('approvals: by someone other than who started the rollout (another token and owner)');
    expect(text('').join('\n')).not.toContain('approvals:');
  });
});

import { describe, expect, it } from 'vitest';
import { allowsCommandChecks, incapableReason, isAllowKind, kindsNeeded } from './allow-kinds.ts';
import type { CheckSpec } from './types.ts';

const cmdCheck: CheckSpec = { kind: 'command', name: 'c', command: ['true'], timeout: 1000 };
const tcpCheck: CheckSpec = { kind: 'tcp', name: 't', host: '127.0.0.1', port: 1, timeout: 1000 };

describe('allow kinds', () => {
  it('knows the kinds', () => {
    expect(isAllowKind('command-check')).toBe(true);
    expect(isAllowKind('apt')).toBe(true);
    expect(isAllowKind('shell')).toBe(false);
  });
  it('command implies command-check', () => {
    expect(allowsCommandChecks(['command'])).toBe(true);
    expect(allowsCommandChecks(new Set(['command-check']))).toBe(true);
    expect(allowsCommandChecks(['apt', 'file'])).toBe(false);
  });
  it('a plan needs its change kind, plus command-check for command checks', () => {
    expect(kindsNeeded({ change: { kind: 'apt' }, checks: [tcpCheck] })).toEqual(['apt']);
    expect(kindsNeeded({ change: { kind: 'apt' }, checks: [cmdCheck] })).toEqual(['apt', 'command-check']);
    expect(kindsNeeded({ change: { kind: 'command' }, checks: [cmdCheck] })).toEqual(['command']);
    // A plan that reboots needs hosts that allow it; nothing implies reboot.
    const reboot = { when: 'ifRequired' as const, timeout: 600_000 };
    expect(kindsNeeded({ change: { kind: 'apt' }, checks: [], reboot })).toEqual(['apt', 'reboot']);
    expect(incapableReason({ change: { kind: 'command' }, checks: [], reboot }, ['command', 'apt', 'file'])).toBe(
      'the agent does not allow reboot (its --allow is command,apt,file)',
    );
    expect(incapableReason({ change: { kind: 'command' }, checks: [], reboot }, ['command', 'reboot'])).toBeUndefined();
  });
  it('says why a host cannot take part', () => {
    const plan = { change: { kind: 'apt' as const }, checks: [cmdCheck] };
    expect(incapableReason(plan, ['apt', 'command-check'])).toBeUndefined();
    expect(incapableReason(plan, ['apt'])).toContain('does not allow command-check');
    expect(incapableReason(plan, ['file'])).toContain('apt, command-check');
    expect(incapableReason(plan, [])).toContain('empty');
    expect(incapableReason(plan, undefined)).toContain('does not report');
  });
});

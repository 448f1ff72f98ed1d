import { describe, expect, it } from 'vitest';
import { confirmVerdict, type ConfirmInput } from './commit-confirmed.ts';

const base: ConfirmInput = { now: 70_000, appliedAt: 10_000, windowMs: 60_000, lastContact: 69_000, unacked: 0, invariantProblem: null, staleMs: 15_000 };

describe('confirmVerdict', () => {
  it.each<[string, Partial<ConfirmInput>, ReturnType<typeof confirmVerdict>]>([
    ['confirmed: reports acknowledged, server answering at the end of the window', {}, { state: 'confirmed' }],
    ['waiting inside the window even with no contact yet', { now: 30_000, lastContact: null }, { state: 'waiting' }],
    ['an invariant failure rolls back at once, inside the window', { now: 11_000, invariantProblem: 'ipRulesPreserved: 1 vanished' }, { state: 'rollback', why: 'invariant checks failed: ipRulesPreserved: 1 vanished' }],
    ['no exchange since the change', { lastContact: 9_000 }, { state: 'rollback', why: 'could not reach the server: no successful exchange within the confirm window (60s) after the change' }],
    ['reports not acknowledged', { unacked: 2 }, { state: 'rollback', why: 'could not reach the server: 2 report(s) of this change not acknowledged within the confirm window (60s)' }],
    ['the server stopped answering before the end', { lastContact: 50_000 }, { state: 'rollback', why: 'could not reach the server: last successful exchange 20s ago at the end of the confirm window (60s)' }],
  ])('%s', (_name, over, want) => {
    expect(confirmVerdict({ ...base, ...over })).toEqual(want);
  });
});

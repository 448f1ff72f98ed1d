// StepActions around the runners, with fake runners and a real state dir: preflight block/warn,
// restoring rules and routes after an invariant failure, and commit-confirmed rolling back by
// itself (once: a later rollback order gets the stored outcome).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Change, CheckSpec } from '../core/types.ts';
import type { Assignment } from './assignment.ts';
import type { ChangeRunner } from './changes/change-runner.ts';
import type { CheckRunner, InvariantSnapshot } from './checks/check-runner.ts';
import { createMemoryLog } from './log.ts';
import type { OutboxSender } from './outbox-sender.ts';
import { StateDir, type AgentReport } from './state-dir.ts';
import { StepActions, type StepDeps } from './step-actions.ts';

const change: Change = { kind: 'command', apply: ['true'], rollback: ['true'], timeout: 5000 };
const rulesCheck: CheckSpec = { kind: 'ipRulesPreserved', name: 'rules', timeout: 1000 };
const rule = (priority: number, table: string) => ({ priority, src: 'all', table, family: 'inet' });
const baseline: InvariantSnapshot = { takenAt: 1, rules: [rule(100, 'local'), rule(111, '11'), rule(32766, 'main')], routes: [] };
const flushed: InvariantSnapshot = { takenAt: 2, rules: [rule(32766, 'main')], routes: [] };

function assignment(over: Partial<Assignment> = {}): Assignment {
  return {
    rolloutId: 'r_1', rolloutName: 'p', attempt: 1, action: 'apply', change, checks: [], checkInterval: 1000,
    confirmWindow: 0, preflight: 'block', ...over,
  };
}

let dir = '';
let state: StateDir;
let calls: string[];
let acknowledge: boolean;
let delivered: AgentReport[];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-step-actions-'));
  state = await StateDir.open(dir, createMemoryLog());
  calls = [];
  acknowledge = false;
  delivered = [];
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function actions(over: Partial<StepDeps> = {}, checkOk = true): StepActions {
  const runner: ChangeRunner = {
    kind: 'command',
    apply: async () => (calls.push('apply'), { ok: true, message: 'applied', record: { r: 1 } }),
    rollback: async () => (calls.push('rollback'), { ok: true, message: 'undone' }),
  };
  // The rules vanish with the change (checkOk false) and come back when the agent restores them.
  let restored = false;
  const rules: CheckRunner = {
    kind: 'ipRulesPreserved',
    run: async () => (checkOk || restored ? { ok: true, message: 'all present' } : { ok: false, message: '1 vanished: 111: from all lookup 11' }),
  };
  const tcp: CheckRunner = { kind: 'tcp', run: async () => (calls.push('tcp'), { ok: false, message: 'connection refused' }) };
  // The fake outbox "delivers" (deletes) everything when the server is said to be reachable.
  const outbox = {
    kick: () => {
      if (acknowledge) void state.listReports().then((rs) => Promise.all(rs.map((r) => (delivered.push(r), state.deleteReport(r.id)))));
    },
  } as unknown as OutboxSender;
  return new StepActions({
    host: () => 'h1',
    state,
    outbox,
    allow: new Set(['command']),
    changeRunners: new Map([['command', runner]]),
    checkRunners: new Map([
      ['ipRulesPreserved', rules],
      ['tcp', tcp],
    ]),
    root: '/',
    fileDirs: [],
    takeBaseline: async () => baseline,
    restoreInvariants: async (snap) => ((restored = true), calls.push(`restore:${snap.rules.length}`), { ok: true, message: 'restored 2 rule(s)' }),
    log: createMemoryLog(),
    now: () => Date.now(),
    ...over,
  });
}

async function reports(kind?: string) {
  return (await state.listReports()).filter((r) => kind === undefined || r.kind === kind);
}

describe('preflight', () => {
  const findings = async () => [{ message: 'would lose 2 routing-policy rules if systemd-networkd restarts (ManageForeignRoutingPolicyRules=yes)' }];

  it('block: the step fails before anything is applied, and says why', async () => {
    await actions({ preflight: findings }).apply(assignment());
    expect(calls).toEqual([]);
    const [report] = await reports('apply');
    expect(report).toMatchObject({ ok: false, message: 'preflight: would lose 2 routing-policy rules if systemd-networkd restarts (ManageForeignRoutingPolicyRules=yes)' });
    expect((await state.readJournal('r_1'))?.apply).toMatchObject({ ok: false, ran: false });
  });

  it('warn: the change is applied and the findings go with the apply report', async () => {
    await actions({ preflight: findings }).apply(assignment({ preflight: 'warn' }));
    expect(calls).toEqual(['apply']);
    expect((await reports('apply'))[0]).toMatchObject({ ok: true, message: 'applied; preflight warnings: would lose 2 routing-policy rules if systemd-networkd restarts (ManageForeignRoutingPolicyRules=yes)' });
  });
});

describe('rollback after an invariant failure', () => {
  it('restores the rules and routes of the snapshot after the runner, and journals the failed checks', async () => {
    const act = actions({}, false);
    await act.apply(assignment({ checks: [rulesCheck] }));
    expect((await state.readJournal('r_1'))?.invariantFailure).toMatchObject({ checks: ['rules'] });
    await act.rollback(assignment({ action: 'rollback', attempt: 2, checks: [rulesCheck] }));
    expect(calls).toEqual(['apply', 'rollback', 'restore:3']);
    expect((await reports('rollback'))[0]).toMatchObject({ ok: true, attempt: 2, message: 'undone. Invariant checks had failed (rules): restored 2 rule(s)' });
  });

  it("runs the plan's after-rollback checks on the rolled-back host: failing, the rollback fails", async () => {
    const act = actions({}, true);
    const tcpCheck: CheckSpec = { kind: 'tcp', name: 'svc', host: '127.0.0.1', port: 1, timeout: 1000 };
    await act.apply(assignment());
    await act.rollback(assignment({ action: 'rollback', attempt: 2, checks: [tcpCheck], checkInterval: 10 }));
    expect(calls).toEqual(['apply', 'rollback', 'tcp', 'tcp', 'tcp']);
    expect((await reports('rollback'))[0]).toMatchObject({ ok: false, message: "undone; but the plan's checks fail on the rolled-back host: svc: connection refused" });
  });

  it('a check marked afterRollback: false is not run after a rollback', async () => {
    const act = actions({}, true);
    await act.apply(assignment());
    await act.rollback(assignment({ action: 'rollback', attempt: 2, checks: [{ kind: 'tcp', name: 'svc', host: '127.0.0.1', port: 1, timeout: 1000, afterRollback: false }] }));
    expect(calls).toEqual(['apply', 'rollback']);
    expect((await reports('rollback'))[0]).toMatchObject({ ok: true, message: 'undone' });
  });

  it('leaves rules and routes alone when no invariant check failed', async () => {
    const act = actions({}, true);
    await act.apply(assignment({ checks: [rulesCheck] }));
    await act.rollback(assignment({ action: 'rollback', attempt: 2 }));
    expect(calls).toEqual(['apply', 'rollback']);
  });
});

describe('commit-confirmed', () => {
  it('rolls back by itself when the server cannot be reached in the window, and only once', async () => {
    const act = actions({ lastContact: () => null, probeMs: 5 });
    await act.apply(assignment({ confirmWindow: 200 }));
    await act.settled();
    // Rules first (the network may be cut), the change, then rules again.
    expect(calls).toEqual(['apply', 'restore:3', 'rollback', 'restore:3']);
    const check = (await reports('check')).find((r) => !r.ok);
    expect(check?.message).toBe('rolled back locally (commit-confirmed): could not reach the server: no successful exchange within the confirm window (0.2s) after the change');
    const [local] = await reports('rollback');
    expect(local).toMatchObject({ ok: true, attempt: 1 });
    expect(local?.message).toMatch(/^rolled back locally \(commit-confirmed\): could not reach the server.*change: undone/);

    // The server orders the rollback later: the stored outcome answers it, nothing runs twice.
    await act.rollback(assignment({ action: 'rollback', attempt: 2, confirmWindow: 200 }));
    expect(calls).toEqual(['apply', 'restore:3', 'rollback', 'restore:3']);
    const answered = (await reports('rollback')).find((r) => r.attempt === 2);
    expect(answered).toMatchObject({ ok: true, message: `already rolled back (attempt 1): ${local?.message}` });
  });

  it('rolls back at once when a watched invariant breaks during the window', async () => {
    let snapshots = 0;
    const act = actions({ lastContact: () => Date.now(), probeMs: 5, takeBaseline: async () => (snapshots++ === 0 ? baseline : flushed) });
    await act.apply(assignment({ checks: [rulesCheck], confirmWindow: 60_000, preflight: 'warn' }));
    await act.settled();
    expect(calls).toEqual(['apply', 'restore:3', 'rollback', 'restore:3']);
    expect((await reports('check')).find((r) => !r.ok)?.message).toBe(
      'rolled back locally (commit-confirmed): invariant checks failed: ipRulesPreserved: 2 routing-policy rule(s) vanished: 100: from all lookup local; 111: from all lookup 11',
    );
  });

  it('keeps the change when the server acknowledged its reports and still answers', async () => {
    acknowledge = true;
    const act = actions({ lastContact: () => Date.now(), probeMs: 5 });
    await act.apply(assignment({ confirmWindow: 200 }));
    await act.settled();
    expect(calls).toEqual(['apply']);
    expect((await state.readJournal('r_1'))?.rollback).toBeNull();
  });

  it('a retry\'s fresh apply gets its own confirm window; the earlier attempt\'s watch ends without a verdict', async () => {
    acknowledge = true;
    let first = true;
    const act = actions({
      lastContact: () => Date.now(),
      probeMs: 5,
      changeRunners: new Map([[
        'command',
        {
          kind: 'command',
          apply: async () => (calls.push('apply'), first ? { ok: true, message: 'applied' } : { ok: true, message: 'applied again' }),
          rollback: async () => (calls.push('rollback'), { ok: true, message: 'undone' }),
        },
      ]]),
    });
    await act.apply(assignment({ confirmWindow: 1500 }));
    first = false;
    await act.apply(assignment({ attempt: 2, confirmWindow: 1500 }));
    await act.settled();
    expect(calls).toEqual(['apply', 'apply']);
    // The fake outbox delivers asynchronously after the last kick.
    await vi.waitFor(() => expect(delivered.filter((r) => r.kind === 'confirm').map((r) => r.attempt)).toEqual([2]));
    expect(delivered.filter((r) => r.kind === 'apply').map((r) => [r.attempt, r.message])).toEqual([[1, 'applied'], [2, 'applied again']]);
  });
});

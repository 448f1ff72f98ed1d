// Table-driven tests of the rollout state machine (argo-rollouts canary_test.go style): each case
// drives a rollout to a point with `setup`, sends one `event`, and checks the records and effects.
import { describe, expect, it } from 'vitest';
import type { HostInfo, Plan, RolloutStatus, StepStatus, WaveStatus } from '../types.ts';
import { ConflictError } from '../errors.ts';
import type { RolloutEffect, RolloutEvent } from './types.ts';
import { nextDeadline, rolloutRecord, stepRecords, waveRecords } from './transition.ts';
import { Harness, T0, assigns, host, logKinds, makePlan, stepChanges, wave } from './test-fixtures.ts';

const HOSTS = [host('a'), host('b'), host('c'), host('d')];
// Default plan: canary takes `a`; rest takes b, c, d two at a time; bakes of 60 s; no failure
// allowed; silent after 120 s (cases about silence use 30 s); onFailure rollback.

/** start, a passes, canary bakes 60 s: rest is applying with b and c assigned (now = T0 + 60 s). */
function throughCanary(h: Harness): void {
  h.start();
  h.pass('a');
  h.tick(60_000);
}

const lenient = { failedPerWave: { count: 1 }, failedTotal: { count: 1 }, silentAfter: 120_000 };
const strict = { failedPerWave: { count: 0 }, failedTotal: { count: 0 }, silentAfter: 30_000 };

interface Case {
  name: string;
  plan?: Partial<Plan>;
  hosts?: HostInfo[];
  setup?: (h: Harness) => void;
  event: RolloutEvent;
  /** Clock advance before the event. */
  dt?: number;
  want: {
    error?: RegExp;
    rollout?: RolloutStatus;
    reason?: RegExp;
    waves?: Record<string, WaveStatus>;
    steps?: Record<string, StepStatus>;
    /** Exactly these assign effects, in order. */
    assigns?: string[];
    /** Exactly these step effects (host:state), in order. */
    stepEffects?: string[];
    /** These log kinds appear (in this order, others may be between). */
    logs?: string[];
    noEffects?: boolean;
    check?: (h: Harness, effects: RolloutEffect[]) => void;
  };
}

const cases: Case[] = [
  // ---- start and expansion ----
  {
    name: 'start: keeps targeted hosts, expands the first spec and assigns its host',
    plan: { hosts: { match: { os: 'u22' } } },
    hosts: [host('x', { os: 'win' }), host('b', { os: 'u22' }), host('a', { os: 'u22' })],
    event: { type: 'start', hosts: [] }, // replaced by the harness hosts below
    want: {
      rollout: 'running',
      waves: { canary: 'applying' },
      steps: { a: 'applying' },
      assigns: ['apply a#1'],
      stepEffects: ['a:applying'],
      logs: ['rollout.running', 'wave.expanded', 'wave.started'],
      check: (h, effects) => {
        expect(h.state.known.has('x')).toBe(false);
        expect(rolloutRecord(h.state)).toMatchObject({ nextSpec: 1, targetedHosts: 2 });
        const rollout = effects.filter((e) => e.type === 'rollout');
        expect(rollout).toHaveLength(1); // each row once per transition, last version
      },
    },
  },
  {
    name: 'start: a spec selecting no host is passed over to the next',
    plan: { waves: [wave('nobody', { match: { env: 'nowhere' } }), wave('all')] },
    event: { type: 'start', hosts: [] },
    want: { waves: { all: 'applying' }, logs: ['wave.empty', 'wave.expanded'], assigns: ['apply a#1', 'apply b#1', 'apply c#1', 'apply d#1'] },
  },
  {
    name: 'start: no spec selects any host: completed at once',
    plan: { waves: [wave('nobody', { match: { env: 'nowhere' } })] },
    event: { type: 'start', hosts: [] },
    want: { rollout: 'completed', waves: {}, logs: ['wave.empty', 'rollout.completed'] },
  },
  {
    name: 'start twice: ConflictError',
    setup: (h) => h.start(),
    event: { type: 'start', hosts: [] },
    want: { error: /already started/ },
  },
  {
    name: 'a host report on a rollout not started: ConflictError',
    event: { type: 'applyResult', host: 'a', attempt: 1, ok: true },
    want: { error: /not started/ },
  },
  {
    name: 'abort on a rollout not started: aborted',
    event: { type: 'abort', actor: 'ops' },
    want: { rollout: 'aborted', reason: /aborted by ops/ },
  },
  // ---- apply, checks, parallel, bake ----
  {
    name: 'apply ok: verifying, still busy (no new assignment)',
    plan: { waves: [wave('w', { parallel: { count: 1 } })] },
    setup: (h) => h.start(),
    event: { type: 'applyResult', host: 'a', attempt: 1, ok: true },
    want: { steps: { a: 'verifying' }, assigns: [], stepEffects: ['a:verifying'], waves: { w: 'applying' } },
  },
  {
    name: 'first passed check frees the parallel slot: next host assigned',
    plan: { waves: [wave('w', { parallel: { count: 1 } })] },
    setup: (h) => {
      h.start();
      h.applyOk('a');
    },
    event: { type: 'checkResult', host: 'a', attempt: 1, ok: true },
    want: { steps: { a: 'verifying', b: 'applying' }, assigns: ['apply b#1'], stepEffects: ['a:verifying', 'b:applying'] },
  },
  {
    name: 'parallel percent is of the wave, rounded up',
    plan: { waves: [wave('w', { parallel: { percent: 30 } })] },
    event: { type: 'start', hosts: [] },
    want: { assigns: ['apply a#1', 'apply b#1'] },
  },
  {
    name: 'a later passed check only refreshes lastSeen: no effects',
    setup: (h) => {
      h.start();
      h.pass('a');
    },
    event: { type: 'checkResult', host: 'a', attempt: 1, ok: true },
    dt: 5_000,
    want: { noEffects: true, check: (h) => expect(h.state.steps.get('a')?.lastSeen).toBe(T0 + 5_000) },
  },
  {
    name: 'every host checked: the wave bakes',
    setup: (h) => {
      h.start();
      h.applyOk('a');
    },
    event: { type: 'checkResult', host: 'a', attempt: 1, ok: true },
    want: { waves: { canary: 'baking' }, logs: ['wave.baking'], check: (h) => expect(waveRecords(h.state)[0]?.bakeStartedAt).toBe(T0) },
  },
  {
    name: 'a plan without checks: apply ok counts as checked',
    plan: { checks: [] },
    setup: (h) => h.start(),
    event: { type: 'applyResult', host: 'a', attempt: 1, ok: true },
    want: { waves: { canary: 'baking' }, check: (h) => expect(h.state.steps.get('a')?.checkedAt).toBe(T0) },
  },
  {
    name: 'tick before the bake ends: nothing',
    setup: (h) => {
      h.start();
      h.pass('a');
    },
    event: { type: 'tick' },
    dt: 59_999,
    want: { noEffects: true, waves: { canary: 'baking' } },
  },
  {
    name: 'tick at the bake end: wave completes, next spec expands and starts',
    setup: (h) => {
      h.start();
      h.pass('a');
      h.send({ type: 'heartbeat', host: 'a' }, 29_000);
      h.send({ type: 'heartbeat', host: 'a' }, 29_000);
    },
    event: { type: 'tick' },
    dt: 2_000,
    want: {
      waves: { canary: 'completed', rest: 'applying' },
      steps: { a: 'healthy', b: 'applying', c: 'applying', d: 'pending' },
      assigns: ['apply b#1', 'apply c#1'],
      stepEffects: ['a:healthy', 'b:applying', 'c:applying', 'd:pending'],
      logs: ['wave.completed', 'wave.expanded', 'wave.started'],
    },
  },
  {
    name: 'bake 0 completes in the transition that starts baking',
    plan: { waves: [wave('canary', { size: { count: 1 }, bake: 0 }), wave('rest', { parallel: { count: 2 } })] },
    setup: (h) => {
      h.start();
      h.applyOk('a');
    },
    event: { type: 'checkResult', host: 'a', attempt: 1, ok: true },
    want: { waves: { canary: 'completed', rest: 'applying' }, assigns: ['apply b#1', 'apply c#1'] },
  },
  {
    name: 'last wave baked: rollout completed',
    plan: { waves: [wave('only', { size: { count: 1 } })] },
    setup: (h) => {
      h.start();
      h.pass('a');
    },
    event: { type: 'tick' },
    dt: 60_000,
    want: { rollout: 'completed', waves: { only: 'completed' }, steps: { a: 'healthy', b: undefined as never } },
  },
  // ---- failures and budgets ----
  {
    name: 'a host failing mid-wave within budget: marked failed, the next host takes its slot',
    plan: { budget: lenient },
    setup: throughCanary,
    event: { type: 'applyResult', host: 'b', attempt: 1, ok: false, message: 'dpkg error' },
    want: {
      rollout: 'running',
      steps: { b: 'failed', d: 'applying' },
      assigns: ['apply d#1'],
      logs: ['host.failed'],
      check: (h) => {
        expect(h.state.steps.get('b')?.message).toBe('apply failed: dpkg error');
        expect(rolloutRecord(h.state).failedTotal).toBe(1);
        expect(waveRecords(h.state)[1]?.failed).toBe(1);
      },
    },
  },
  {
    name: 'failed hosts within budget do not block the bake',
    plan: { budget: lenient, waves: [wave('w')] },
    setup: (h) => {
      h.start();
      for (const x of ['a', 'b', 'c']) h.pass(x);
      h.applyOk('d');
    },
    event: { type: 'checkResult', host: 'd', attempt: 1, ok: false, message: 'route missing' },
    want: { waves: { w: 'baking' }, steps: { d: 'failed' } },
  },
  {
    name: 'budget exceeded (halt): halted, no assignment, waves not started skipped',
    plan: {
      onFailure: 'halt',
      waves: [wave('canary', { size: { count: 1 } }), wave('zone', { each: 'zone' })],
    },
    hosts: [host('a', { zone: 'x' }), host('b', { zone: 'y' }), host('c', { zone: 'z' }), host('d', { zone: 'z' })],
    setup: throughCanary,
    event: { type: 'applyResult', host: 'b', attempt: 1, ok: false, message: 'boom' },
    want: {
      rollout: 'halted',
      reason: /failure budget exceeded: 1 of 1 hosts failed in wave zone\/y \(allowed 0\); last: b: apply failed: boom/,
      waves: { canary: 'completed', 'zone/y': 'failed', 'zone/z': 'skipped' },
      assigns: [],
      logs: ['host.failed', 'budget.exceeded', 'wave.failed', 'rollout.halted', 'wave.skipped'],
    },
  },
  {
    name: 'halting stops new assignments at once: a freed slot after the halt assigns nothing',
    plan: { onFailure: 'halt' },
    setup: (h) => {
      throughCanary(h);
      h.applyOk('c');
      h.send({ type: 'applyResult', host: 'b', attempt: 1, ok: false });
    },
    event: { type: 'checkResult', host: 'c', attempt: 1, ok: true },
    // The check is recorded (c stays verifying, now checked); nothing is assigned.
    want: { rollout: 'halted', assigns: [], stepEffects: ['c:verifying'], steps: { c: 'verifying', d: 'pending' } },
  },
  {
    name: 'failedTotal is a percentage of the targeted hosts, rounded down',
    plan: { budget: { failedPerWave: { count: 9 }, failedTotal: { percent: 50 }, silentAfter: 30_000 }, waves: [wave('w')] },
    setup: (h) => {
      h.start();
      h.send({ type: 'applyResult', host: 'a', attempt: 1, ok: false });
      h.send({ type: 'applyResult', host: 'b', attempt: 1, ok: false });
    },
    event: { type: 'applyResult', host: 'c', attempt: 1, ok: false },
    want: { rollout: 'rolling_back', reason: /3 hosts failed in the rollout \(allowed 2\)/ },
  },
  {
    name: 'budget exceeded by the last host of a wave: that wave is rolled back first',
    plan: { waves: [wave('canary', { size: { count: 1 } }), wave('rest')] },
    setup: (h) => {
      throughCanary(h);
      h.pass('b');
      h.pass('c');
      h.applyOk('d');
    },
    event: { type: 'checkResult', host: 'd', attempt: 1, ok: false, message: 'ip rule 100 missing' },
    want: {
      rollout: 'rolling_back',
      waves: { canary: 'completed', rest: 'rolling_back' },
      steps: { a: 'healthy', b: 'rolling_back', c: 'rolling_back', d: 'rolling_back' },
      assigns: ['rollback b#2', 'rollback c#2', 'rollback d#2'],
      logs: ['host.failed', 'budget.exceeded', 'wave.failed', 'rollout.rolling_back', 'wave.rolling_back'],
    },
  },
  {
    name: 'failures while paused still trigger the budget',
    setup: (h) => {
      throughCanary(h);
      h.send({ type: 'pause' });
    },
    event: { type: 'applyResult', host: 'b', attempt: 1, ok: false },
    want: { rollout: 'rolling_back', assigns: ['rollback b#2', 'rollback c#2'], steps: { d: 'pending' } },
  },
  // ---- silence ----
  {
    name: 'a host going silent while applying counts as failed; a live one does not',
    plan: {
      budget: { ...lenient, silentAfter: 30_000 },
      waves: [wave('canary', { size: { count: 1 }, bake: 0 }), wave('rest', { parallel: { count: 2 } })],
    },
    setup: (h) => {
      h.start();
      h.pass('a');
      h.send({ type: 'heartbeat', host: 'c' }, 10_000);
    },
    event: { type: 'tick' },
    dt: 20_000,
    want: {
      steps: { b: 'silent', c: 'applying', d: 'applying' },
      assigns: ['apply d#1'],
      logs: ['host.silent'],
      check: (h) => expect(h.state.steps.get('b')?.message).toBe('silent: no report for 30s'),
    },
  },
  {
    name: 'a host that disappears during the bake goes silent: budget exceeded, rolled back',
    plan: { budget: strict },
    setup: (h) => {
      h.start();
      h.pass('a');
    },
    event: { type: 'tick' },
    dt: 30_000,
    want: { rollout: 'rolling_back', steps: { a: 'rolling_back' }, assigns: ['rollback a#2'], logs: ['host.silent', 'budget.exceeded'] },
  },
  {
    name: 'silence while rolling back is recorded, not counted as a failure',
    plan: { budget: strict },
    setup: (h) => {
      h.start();
      h.send({ type: 'applyResult', host: 'a', attempt: 1, ok: false });
    },
    event: { type: 'tick' },
    dt: 30_000,
    want: {
      rollout: 'rolled_back',
      steps: { a: 'silent' },
      reason: /rollback not confirmed \(silent\) on a/,
      check: (h) => {
        expect(rolloutRecord(h.state).failedTotal).toBe(1);
        expect(h.state.steps.get('a')?.message).toMatch(/^rollback not confirmed/);
      },
    },
  },
  {
    name: 'heartbeat from a host with nothing in flight: no effects',
    setup: throughCanary,
    event: { type: 'heartbeat', host: 'a' },
    want: { noEffects: true },
  },
  // ---- stale and unfitting reports ----
  {
    name: 'a report with another attempt changes nothing',
    setup: (h) => h.start(),
    event: { type: 'applyResult', host: 'a', attempt: 2, ok: false },
    want: { steps: { a: 'applying' }, stepEffects: [], logs: ['report.ignored'], check: (h) => expect(rolloutRecord(h.state).failedTotal).toBe(0) },
  },
  {
    name: 'a late apply result for a silent step changes nothing',
    plan: { budget: { failedPerWave: { percent: 100 }, failedTotal: { percent: 100 }, silentAfter: 30_000 }, waves: [wave('w')] },
    setup: (h) => {
      h.start();
      h.tick(30_000);
    },
    event: { type: 'applyResult', host: 'a', attempt: 1, ok: true },
    want: { steps: { a: 'silent' }, stepEffects: [], logs: ['report.ignored'] },
  },
  {
    name: 'a report from a host not in any wave changes nothing',
    setup: (h) => h.start(),
    event: { type: 'applyResult', host: 'b', attempt: 1, ok: false },
    want: { steps: { b: undefined as never }, stepEffects: [], logs: ['report.ignored'], rollout: 'running' },
  },
  {
    name: 'a check result for a step still applying changes nothing',
    setup: (h) => h.start(),
    event: { type: 'checkResult', host: 'a', attempt: 1, ok: false },
    want: { steps: { a: 'applying' }, stepEffects: [], rollout: 'running' },
  },
  // ---- pause / resume ----
  {
    name: 'pause during the bake: the bake end does not complete the wave',
    setup: (h) => {
      h.start();
      h.pass('a');
      h.send({ type: 'heartbeat', host: 'a' }, 20_000);
      h.send({ type: 'pause' }, 20_000);
      h.send({ type: 'heartbeat', host: 'a' }, 15_000);
    },
    event: { type: 'tick' },
    dt: 10_000,
    want: { rollout: 'paused', waves: { canary: 'baking' }, noEffects: true },
  },
  {
    name: 'resume after the bake ended while paused: completes it and starts the next wave at once',
    setup: (h) => {
      h.start();
      h.pass('a');
      h.send({ type: 'heartbeat', host: 'a' }, 20_000);
      h.send({ type: 'pause' }, 20_000);
      h.send({ type: 'heartbeat', host: 'a' }, 15_000);
      h.tick(10_000);
    },
    event: { type: 'resume', actor: 'ops' },
    want: { rollout: 'running', waves: { canary: 'completed', rest: 'applying' }, assigns: ['apply b#1', 'apply c#1'], logs: ['rollout.running', 'wave.completed'] },
  },
  {
    name: 'paused: a freed slot is not filled',
    setup: (h) => {
      throughCanary(h);
      h.send({ type: 'pause' });
      h.applyOk('b');
    },
    event: { type: 'checkResult', host: 'b', attempt: 1, ok: true },
    want: { assigns: [], steps: { d: 'pending' } },
  },
  {
    name: 'resume fills free slots',
    setup: (h) => {
      throughCanary(h);
      h.send({ type: 'pause' });
      h.pass('b');
    },
    event: { type: 'resume' },
    want: { assigns: ['apply d#1'] },
  },
  { name: 'pause when paused: ConflictError', setup: (h) => { h.start(); h.send({ type: 'pause' }); }, event: { type: 'pause' }, want: { error: /only a running rollout/ } },
  { name: 'resume when running: ConflictError', setup: (h) => h.start(), event: { type: 'resume' }, want: { error: /only a paused rollout/ } },
  // ---- approval ----
  {
    name: 'an approve wave waits for approval',
    plan: { waves: [wave('canary', { size: { count: 1 } }), wave('rest', { approve: true, parallel: { count: 2 } })] },
    setup: (h) => {
      h.start();
      h.pass('a');
    },
    event: { type: 'tick' },
    dt: 60_000,
    want: { waves: { canary: 'completed', rest: 'awaiting_approval' }, assigns: [], logs: ['wave.awaiting_approval'] },
  },
  {
    name: 'approve starts the waiting wave',
    plan: { waves: [wave('canary', { size: { count: 1 } }), wave('rest', { approve: true, parallel: { count: 2 } })] },
    setup: throughCanary,
    event: { type: 'approve', actor: 'ops' },
    want: { waves: { rest: 'applying' }, assigns: ['apply b#1', 'apply c#1'], logs: ['wave.approved'] },
  },
  {
    name: 'approve while paused: applying, but nothing assigned until resume',
    plan: { waves: [wave('canary', { size: { count: 1 } }), wave('rest', { approve: true, parallel: { count: 2 } })] },
    setup: (h) => {
      throughCanary(h);
      h.send({ type: 'pause' });
    },
    event: { type: 'approve' },
    want: { rollout: 'paused', waves: { rest: 'applying' }, assigns: [] },
  },
  {
    name: 'approve with nothing awaiting approval: ConflictError',
    setup: throughCanary,
    event: { type: 'approve' },
    want: { error: /no wave is awaiting approval/ },
  },
  // ---- abort ----
  {
    name: 'abort during apply: aborted, waves not started skipped, in-flight steps keep their state',
    plan: { waves: [wave('canary', { size: { count: 1 } }), wave('zone', { each: 'zone' })] },
    hosts: [host('a', { zone: 'x' }), host('b', { zone: 'y' }), host('c', { zone: 'y' }), host('d', { zone: 'z' })],
    setup: throughCanary,
    event: { type: 'abort', actor: 'ops' },
    want: {
      rollout: 'aborted',
      waves: { canary: 'completed', 'zone/z': 'applying', 'zone/y': 'skipped' },
      steps: { d: 'applying', b: 'pending' },
      assigns: [],
      check: (h) => expect(nextDeadline(h.state)).toBeNull(),
    },
  },
  {
    name: 'abort during rollback: stops it, no further rollback issued',
    setup: (h) => {
      throughCanary(h);
      h.send({ type: 'applyResult', host: 'b', attempt: 1, ok: false });
    },
    event: { type: 'abort' },
    want: { rollout: 'aborted', assigns: [], steps: { a: 'healthy', b: 'rolling_back', c: 'rolling_back' } },
  },
  {
    name: 'after an abort during rollback, late rollback results are still recorded',
    setup: (h) => {
      throughCanary(h);
      h.send({ type: 'applyResult', host: 'b', attempt: 1, ok: false });
      h.send({ type: 'abort' });
      h.send({ type: 'rollbackResult', host: 'b', attempt: 2, ok: true });
    },
    event: { type: 'rollbackResult', host: 'c', attempt: 2, ok: true },
    want: { rollout: 'aborted', assigns: [], stepEffects: ['c:rolled_back'], steps: { a: 'healthy', b: 'rolled_back' } },
  },
  {
    name: 'abort when aborted: ConflictError',
    setup: (h) => {
      h.start();
      h.send({ type: 'abort' });
    },
    event: { type: 'abort' },
    want: { error: /already aborted/ },
  },
  {
    name: 'an apply result after the rollout ended changes nothing',
    setup: (h) => {
      h.start();
      h.send({ type: 'abort' });
    },
    event: { type: 'applyResult', host: 'a', attempt: 1, ok: true },
    want: { noEffects: true, steps: { a: 'applying' } },
  },
  // ---- rollback ----
  {
    name: 'rollback order: the most recent wave first, then the one before',
    setup: (h) => {
      throughCanary(h);
      h.send({ type: 'applyResult', host: 'b', attempt: 1, ok: false });
      h.send({ type: 'rollbackResult', host: 'b', attempt: 2, ok: true });
    },
    event: { type: 'rollbackResult', host: 'c', attempt: 2, ok: true },
    want: {
      rollout: 'rolling_back',
      waves: { canary: 'rolling_back', rest: 'rolled_back' },
      steps: { a: 'rolling_back', b: 'rolled_back', c: 'rolled_back', d: 'pending' },
      assigns: ['rollback a#2'],
      logs: ['wave.rolled_back', 'wave.rolling_back'],
    },
  },
  {
    name: 'rollback done: rolled_back, reason names what failed; a host rolled back after failing keeps why it failed',
    setup: (h) => {
      throughCanary(h);
      h.send({ type: 'applyResult', host: 'b', attempt: 1, ok: false, message: 'boom' });
      h.send({ type: 'rollbackResult', host: 'b', attempt: 2, ok: true });
      h.send({ type: 'rollbackResult', host: 'c', attempt: 2, ok: true });
    },
    event: { type: 'rollbackResult', host: 'a', attempt: 2, ok: true },
    want: {
      rollout: 'rolled_back',
      waves: { canary: 'rolled_back', rest: 'rolled_back' },
      reason: /^failure budget exceeded: .*b: apply failed: boom$/,
      check: (h) => expect(h.state.steps.get('b')).toMatchObject({ state: 'rolled_back', message: 'apply failed: boom' }),
    },
  },
  {
    name: 'a failing rollback step halts the rollback: no more rollbacks handed out, the reason says what is left',
    setup: (h) => {
      throughCanary(h);
      h.send({ type: 'applyResult', host: 'b', attempt: 1, ok: false, message: 'boom' });
      h.send({ type: 'rollbackResult', host: 'b', attempt: 2, ok: true });
    },
    event: { type: 'rollbackResult', host: 'c', attempt: 2, ok: false, message: 'exit 1' },
    want: {
      rollout: 'halted',
      waves: { canary: 'completed', rest: 'failed' },
      steps: { a: 'healthy', b: 'rolled_back', c: 'failed', d: 'pending' },
      assigns: [],
      reason: /^rollback halted: rollback failed on c: exit 1; 2 hosts not rolled back yet \(fix the cause, then run `sluice rollout rollback r1` again\)$/,
      logs: ['host.rollback_failed', 'rollout.halted'],
      check: (h) => expect(h.state.steps.get('c')?.message).toBe('rollback failed: exit 1'),
    },
  },
  {
    name: 'a halted rollback cannot be retried: it goes on with rollback',
    setup: (h) => {
      throughCanary(h);
      h.send({ type: 'applyResult', host: 'b', attempt: 1, ok: false });
      h.send({ type: 'rollbackResult', host: 'c', attempt: 2, ok: false });
    },
    event: { type: 'retry' },
    want: { error: /its rollback was halted: run `sluice rollout rollback`/ },
  },
  {
    name: 'rollback again after a halted rollback: the failed host gets a new attempt, then the earlier waves',
    setup: (h) => {
      throughCanary(h);
      h.send({ type: 'applyResult', host: 'b', attempt: 1, ok: false });
      h.send({ type: 'rollbackResult', host: 'b', attempt: 2, ok: true });
      h.send({ type: 'rollbackResult', host: 'c', attempt: 2, ok: false, message: 'exit 1' });
    },
    event: { type: 'rollback', actor: 'ops' },
    want: {
      rollout: 'rolling_back',
      reason: /^rollback requested by ops \(going on after a halted rollback\)$/,
      waves: { rest: 'rolling_back', canary: 'completed' },
      assigns: ['rollback c#3'],
      check: (h) => {
        h.rollbackResult('c', 3, true);
        expect(h.stepState('a')).toBe('rolling_back');
        h.rollbackResult('a', 2, true);
        expect(h.state.status).toBe('rolled_back');
        expect(h.state.reason).toBe('rollback requested by ops (going on after a halted rollback)');
      },
    },
  },
  {
    name: 'rollback honours parallel: one host at a time in name order, the next once the previous is rolled back',
    plan: { waves: [wave('w', { parallel: { count: 1 } })] },
    setup: (h) => {
      h.start();
      for (const x of ['a', 'b', 'c', 'd']) h.pass(x);
      h.tick(60_000);
      h.send({ type: 'rollback' });
    },
    event: { type: 'rollbackResult', host: 'a', attempt: 2, ok: true },
    want: {
      rollout: 'rolling_back',
      steps: { a: 'rolled_back', b: 'rolling_back', c: 'healthy', d: 'healthy' },
      assigns: ['rollback b#2'],
      check: (h) => {
        h.rollbackResult('b', 2, true);
        h.rollbackResult('c', 2, true);
        expect(h.stepState('d')).toBe('rolling_back');
        expect(h.rollbackResult('d', 2, true).filter((e) => e.type === 'assign')).toEqual([]);
        expect(h.state.status).toBe('rolled_back');
      },
    },
  },
  {
    name: 'a paced rollback goes on past a host whose rollback went silent',
    plan: { waves: [wave('w', { parallel: { count: 1 }, bake: 10_000 })], budget: strict },
    setup: (h) => {
      h.start();
      for (const x of ['a', 'b', 'c', 'd']) h.pass(x);
      h.tick(10_000);
      expect(h.state.status).toBe('completed');
      h.send({ type: 'rollback' });
    },
    event: { type: 'tick' },
    dt: 30_000,
    want: { rollout: 'rolling_back', steps: { a: 'silent', b: 'rolling_back' }, assigns: ['rollback b#2'], logs: ['host.rollback_silent'] },
  },
  {
    name: 'rollback of a rolled back rollout whose every rollback was confirmed: ConflictError',
    setup: (h) => {
      h.start();
      h.send({ type: 'rollback' });
      h.send({ type: 'rollbackResult', host: 'a', attempt: 2, ok: true });
    },
    event: { type: 'rollback' },
    want: { error: /every changed host confirmed its rollback/ },
  },
  {
    name: 'rollback again of a rolled back rollout: only the hosts whose rollback was not confirmed',
    plan: { budget: strict, waves: [wave('canary', { size: { count: 1 }, bake: 10_000 }), wave('rest', { parallel: { count: 2 } })] },
    setup: (h) => {
      h.start();
      h.pass('a');
      h.tick(10_000);
      h.send({ type: 'rollback' });
      h.rollbackResult('b', 2, true);
      h.tick(30_000); // c silent; a assigned; a silent too
      h.tick(30_000);
      expect(h.state.status).toBe('rolled_back');
      expect(h.state.reason).toMatch(/rollback not confirmed \(silent\) on a, c$/);
    },
    event: { type: 'rollback', actor: 'ops' },
    want: { rollout: 'rolling_back', assigns: ['rollback c#3'], steps: { a: 'silent', b: 'rolled_back', c: 'rolling_back' } },
  },
  {
    name: 'a host whose rollback went silent is handed it again when heard from, even after the rollout ended',
    plan: { budget: strict },
    setup: (h) => {
      h.start();
      h.send({ type: 'rollback' });
      h.tick(30_000);
      expect(h.state.status).toBe('rolled_back');
    },
    event: { type: 'heartbeat', host: 'a' },
    want: {
      rollout: 'rolled_back',
      steps: { a: 'rolling_back' },
      assigns: ['rollback a#3'],
      logs: ['host.rollback_reassigned'],
      check: (h) => {
        expect(h.state.reason).not.toMatch(/not confirmed/);
        h.rollbackResult('a', 3, true);
        expect(h.stepState('a')).toBe('rolled_back');
        expect(h.state.reason).not.toMatch(/not confirmed/);
        // Heard again after that: nothing more to do.
        expect(h.send({ type: 'heartbeat', host: 'a' })).toEqual([]);
      },
    },
  },
  {
    name: 'an aborted rollout hands out no rollback when a silent host returns',
    plan: { budget: strict, waves: [wave('canary', { size: { count: 1 }, bake: 10_000 }), wave('rest', { parallel: { count: 2 } })] },
    setup: (h) => {
      h.start();
      h.pass('a');
      h.tick(10_000);
      h.send({ type: 'rollback' });
      h.tick(30_000);
      h.send({ type: 'abort' });
    },
    event: { type: 'heartbeat', host: 'b' },
    want: { noEffects: true },
  },
  // ---- retry ----
  {
    name: 'retry of a halted rollout: the failed wave goes on, its failed hosts get a new attempt, the budget starts over',
    plan: { onFailure: 'halt' },
    setup: (h) => {
      throughCanary(h);
      h.send({ type: 'applyResult', host: 'b', attempt: 1, ok: false, message: 'boom' });
    },
    event: { type: 'retry', actor: 'ops' },
    want: {
      rollout: 'running',
      waves: { canary: 'completed', rest: 'applying' },
      steps: { a: 'healthy', b: 'applying', c: 'applying', d: 'pending' },
      assigns: ['apply b#2'],
      logs: ['rollout.running', 'wave.started'],
      check: (h) => {
        expect(h.state.failedTotal).toBe(0);
        expect(h.state.reason).toBeNull();
        h.pass('b', 2);
        h.pass('c');
        h.pass('d');
        h.tick(60_000);
        expect(h.state.status).toBe('completed');
      },
    },
  },
  {
    name: 'a halted rollout records what hosts in flight at the halt did: the step moves on, nothing is assigned',
    plan: { onFailure: 'halt' },
    setup: (h) => {
      throughCanary(h);
      h.send({ type: 'applyResult', host: 'b', attempt: 1, ok: false });
      expect(h.state.status).toBe('halted');
    },
    event: { type: 'applyResult', host: 'c', attempt: 1, ok: true },
    want: {
      rollout: 'halted',
      steps: { c: 'verifying', d: 'pending' },
      assigns: [],
      check: (h) => {
        h.checkOk('c');
        expect(h.state.steps.get('c')?.checkedAt).not.toBeNull();
        // After the retry c is not busy any more: only b is assigned again, and d.
        expect(assigns(h.send({ type: 'retry' }))).toEqual(['apply b#2', 'apply d#1']);
      },
    },
  },
  {
    name: 'retry brings back the waves the halt skipped',
    plan: { onFailure: 'halt', waves: [wave('zone', { each: 'zone' })] },
    hosts: [host('a', { zone: 'x' }), host('b', { zone: 'y' })],
    setup: (h) => {
      h.start();
      h.send({ type: 'applyResult', host: 'a', attempt: 1, ok: false });
      expect(Object.values(h.waveStates())).toEqual(['failed', 'skipped']);
    },
    event: { type: 'retry' },
    want: { rollout: 'running', assigns: ['apply a#2'], check: (h) => expect(Object.values(h.waveStates())).toEqual(['applying', 'pending']) },
  },
  {
    name: 'retry of a rollout that is not halted: ConflictError',
    setup: throughCanary,
    event: { type: 'retry' },
    want: { error: /only a halted rollout can be retried \(it is running\)/ },
  },
  {
    name: 'operator rollback while running: rolls back what was assigned, pending hosts untouched',
    setup: throughCanary,
    event: { type: 'rollback', actor: 'ops' },
    want: { rollout: 'rolling_back', reason: /rollback requested by ops/, assigns: ['rollback b#2', 'rollback c#2'], steps: { d: 'pending' } },
  },
  {
    name: 'operator rollback of a completed rollout',
    plan: { waves: [wave('w')] },
    setup: (h) => {
      h.start();
      for (const x of ['a', 'b', 'c', 'd']) h.pass(x);
      h.tick(60_000);
    },
    event: { type: 'rollback' },
    want: { rollout: 'rolling_back', assigns: ['rollback a#2', 'rollback b#2', 'rollback c#2', 'rollback d#2'] },
  },
  {
    name: 'operator rollback of a halted rollout rolls back failed and in-flight hosts too',
    plan: { onFailure: 'halt' },
    setup: (h) => {
      throughCanary(h);
      h.send({ type: 'applyResult', host: 'b', attempt: 1, ok: false });
    },
    event: { type: 'rollback' },
    want: { rollout: 'rolling_back', reason: /after: failure budget exceeded/, assigns: ['rollback b#2', 'rollback c#2'] },
  },
  {
    name: 'rollback while rolling back: ConflictError',
    setup: (h) => {
      h.start();
      h.send({ type: 'rollback' });
    },
    event: { type: 'rollback' },
    want: { error: /already rolling back/ },
  },
  {
    name: 'a silent host reporting its rollback after the rollout ended rolled_back is accepted',
    setup: (h) => {
      h.start();
      h.send({ type: 'applyResult', host: 'a', attempt: 1, ok: false });
      h.tick(30_000);
    },
    event: { type: 'rollbackResult', host: 'a', attempt: 2, ok: true },
    dt: 60_000,
    want: { rollout: 'rolled_back', stepEffects: ['a:rolled_back'], steps: { a: 'rolled_back' } },
  },
  // ---- hosts joining during a rollout ----
  {
    name: 'a host enrolling during a wave is not swept into it, and a later spec takes it',
    plan: { waves: [wave('canary', { size: { count: 1 } }), wave('rest', { parallel: { count: 2 } }), wave('tail')] },
    setup: (h) => {
      throughCanary(h);
      h.send({ type: 'hostSeen', host: host('e') });
      h.pass('b');
      h.pass('c');
      h.pass('d');
    },
    event: { type: 'tick' },
    dt: 60_000,
    want: {
      waves: { canary: 'completed', rest: 'completed', tail: 'applying' },
      assigns: ['apply e#1'],
      check: (h) => expect(waveRecords(h.state)[1]?.hostCount).toBe(3),
    },
  },
  {
    name: 'a host enrolling during an `each` spec does not join its sub-waves not started yet',
    plan: { waves: [wave('zone', { each: 'zone' }), wave('tail')] },
    hosts: [host('a', { zone: 'x' }), host('b', { zone: 'y' }), host('c', { zone: 'y' })],
    setup: (h) => {
      h.start();
      h.send({ type: 'hostSeen', host: host('e', { zone: 'y' }) });
      h.pass('a');
      h.tick(60_000);
      h.pass('b');
      h.pass('c');
    },
    event: { type: 'tick' },
    dt: 60_000,
    want: { waves: { 'zone/x': 'completed', 'zone/y': 'completed', tail: 'applying' }, assigns: ['apply e#1'] },
  },
  {
    name: 'a host that is not targeted is never taken',
    plan: { hosts: { match: { os: 'u22' } }, waves: [wave('canary', { size: { count: 1 } }), wave('rest')] },
    hosts: [host('a', { os: 'u22' }), host('b', { os: 'u22' })],
    setup: (h) => {
      h.start();
      h.send({ type: 'hostSeen', host: host('w', { os: 'win' }) });
      h.pass('a');
    },
    event: { type: 'tick' },
    dt: 60_000,
    want: { assigns: ['apply b#1'] },
  },
];

describe('transition', () => {
  for (const c of cases) {
    it(c.name, () => {
      const h = new Harness(makePlan(c.plan), c.hosts ?? HOSTS);
      c.setup?.(h);
      const event: RolloutEvent = c.event.type === 'start' ? { type: 'start', hosts: h.hosts } : c.event;
      const w = c.want;
      if (w.error) {
        const before = JSON.stringify([rolloutRecord(h.state), waveRecords(h.state), stepRecords(h.state)]);
        expect(() => h.send(event, c.dt ?? 0)).toThrow(ConflictError);
        expect(() => h.send(event)).toThrow(w.error);
        // Refused before anything changed.
        expect(JSON.stringify([rolloutRecord(h.state), waveRecords(h.state), stepRecords(h.state)])).toBe(before);
        return;
      }
      const effects = h.send(event, c.dt ?? 0);
      if (w.rollout) expect(rolloutRecord(h.state).state).toBe(w.rollout);
      if (w.reason) expect(rolloutRecord(h.state).reason).toMatch(w.reason);
      if (w.waves) for (const [name, st] of Object.entries(w.waves)) expect(h.waveStates()[name], `wave ${name}`).toBe(st);
      if (w.steps) for (const [name, st] of Object.entries(w.steps)) expect(h.stepState(name), `step ${name}`).toBe(st);
      if (w.assigns) expect(assigns(effects)).toEqual(w.assigns);
      if (w.stepEffects) expect(stepChanges(effects)).toEqual(w.stepEffects);
      if (w.logs) {
        const kinds = logKinds(effects);
        let from = 0;
        for (const k of w.logs) {
          const at = kinds.indexOf(k, from);
          expect(at, `log ${k} in ${kinds.join(',')}`).toBeGreaterThanOrEqual(from);
          from = at + 1;
        }
      }
      if (w.noEffects) expect(effects).toEqual([]);
      w.check?.(h, effects);
      // Whatever happened, every row appears at most once per transition.
      const keys = effects.flatMap((e) =>
        e.type === 'rollout' ? ['rollout'] : e.type === 'wave' ? [`w${e.wave.index}`] : e.type === 'step' ? [`s${e.step.host}`] : [],
      );
      expect(new Set(keys).size).toBe(keys.length);
    });
  }
});

describe('nextDeadline', () => {
  it('is the silence deadline while applying, the bake end while baking, and null when final', () => {
    const h = new Harness(makePlan({ budget: strict }), HOSTS);
    expect(nextDeadline(h.state)).toBeNull();
    h.start();
    expect(nextDeadline(h.state)).toBe(T0 + 30_000);
    h.pass('a');
    h.send({ type: 'heartbeat', host: 'a' }, 29_000);
    h.send({ type: 'heartbeat', host: 'a' }, 29_000);
    expect(nextDeadline(h.state)).toBe(T0 + 60_000); // bake end before silence (T0+88s)
    h.send({ type: 'pause' });
    expect(nextDeadline(h.state)).toBe(T0 + 58_000 + 30_000); // paused: only silence can happen
    h.send({ type: 'abort' });
    expect(nextDeadline(h.state)).toBeNull();
  });
});

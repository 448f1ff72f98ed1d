// What the agent does for one assignment (apply, verify, rollback), with the journal as the
// memory that makes every action happen at most once per attempt, across agent restarts.
import { randomUUID } from 'node:crypto';
import type { ChangeKind } from '../core/types.ts';
import type { Assignment } from './assignment.ts';
import { sleep } from './backoff.ts';
import type { AgentLog, ChangeContext, ChangeRunner, StepOutcome } from './changes/change-runner.ts';
import type { InvariantSnapshot } from './checks/check-runner.ts';
import { runChecks, type CheckRunners } from './checks/index.ts';
import type { OutboxSender } from './outbox-sender.ts';
import type { ActionEntry, AgentReport, ReportKind, StateDir, StepJournal } from './state-dir.ts';

// The server keeps at most 8192 characters of a report message.
const MAX_MESSAGE = 4000;

export interface StepDeps {
  readonly host: () => string;
  readonly state: StateDir;
  readonly outbox: OutboxSender;
  readonly allow: ReadonlySet<ChangeKind>;
  readonly changeRunners: ReadonlyMap<ChangeKind, ChangeRunner>;
  readonly checkRunners: CheckRunners;
  readonly root: string;
  readonly fileDirs: readonly string[];
  readonly takeBaseline: () => Promise<InvariantSnapshot | null>;
  readonly log: AgentLog;
  readonly now: () => number;
}

export function newReport(a: Pick<Assignment, 'rolloutId' | 'attempt'>, kind: ReportKind, ok: boolean, message: string, at: number): AgentReport {
  const text = message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE)}...` : message;
  return { id: randomUUID(), rolloutId: a.rolloutId, attempt: a.attempt, kind, ok, message: text, at };
}

function emptyJournal(rolloutId: string): StepJournal {
  return { rolloutId, apply: null, rollback: null, baseline: null, unknown: null };
}

function allowText(allow: ReadonlySet<ChangeKind>): string {
  return allow.size === 0 ? 'none' : [...allow].join(',');
}

async function runRunner(
  run: () => Promise<StepOutcome>,
  what: string,
): Promise<StepOutcome> {
  try {
    return await run();
  } catch (err) {
    return { ok: false, message: `${what} failed inside the agent: ${err instanceof Error ? err.message : String(err)}` };
  }
}

export class StepActions {
  constructor(private readonly d: StepDeps) {}

  private changeContext(a: Assignment): ChangeContext {
    return {
      stateDir: this.d.state.dir,
      stepKey: a.rolloutId,
      host: this.d.host(),
      timeout: a.change.timeout,
      fileDirs: this.d.fileDirs,
      root: this.d.root,
      log: this.d.log,
    };
  }

  private async queueAll(reports: readonly AgentReport[]): Promise<void> {
    for (const r of reports) await this.d.state.putReport(r);
    this.d.outbox.kick();
  }

  /** Sends a stored outcome again. Same attempt: same report ids (the server dedups them). */
  private async requeue(journal: StepJournal, which: 'apply' | 'rollback', a: Assignment): Promise<StepJournal> {
    const entry = journal[which];
    if (!entry) return journal;
    let next = journal;
    if (entry.attempt !== a.attempt) {
      // New work for a step already done here: answer the new attempt with the stored result,
      // under new ids (the old ids were for the old attempt).
      const reports = entry.reports.map((r) => ({ ...r, id: randomUUID(), attempt: a.attempt }));
      next = { ...journal, [which]: { ...entry, attempt: a.attempt, reports } };
      await this.d.state.writeJournal(next);
    }
    this.d.log.info(`${which} already done for this rollout; sending the stored result again`, {
      rolloutId: a.rolloutId,
      attempt: a.attempt,
      ok: entry.ok,
    });
    await this.queueAll(next[which]?.reports ?? []);
    return next;
  }

  async apply(a: Assignment): Promise<void> {
    const { state, log } = this.d;
    let journal = (await state.readJournal(a.rolloutId)) ?? emptyJournal(a.rolloutId);
    const prev = journal.apply;
    if (prev && prev.attempt > a.attempt) {
      log.warn('ignoring a stale apply assignment', { rolloutId: a.rolloutId, attempt: a.attempt, journalAttempt: prev.attempt });
      return;
    }
    if (prev?.state === 'done') {
      journal = await this.requeue(journal, 'apply', a);
      const entry = journal.apply;
      // The agent may have died between apply and its first checks: run them now.
      if (entry?.ok && !entry.reports.some((r) => r.kind === 'check')) await this.checkAfterApply(a, journal);
      return;
    }
    const refuse = async (message: string, ran: boolean) => {
      const report = newReport(a, 'apply', false, message, this.d.now());
      const entry: ActionEntry = {
        attempt: a.attempt,
        state: 'done',
        startedAt: prev?.startedAt ?? this.d.now(),
        finishedAt: this.d.now(),
        ok: false,
        message,
        ran,
        reports: [report],
      };
      await state.writeJournal({ ...journal, apply: entry });
      log.warn('apply refused', { rolloutId: a.rolloutId, attempt: a.attempt, reason: message });
      await this.queueAll([report]);
    };
    if (prev?.state === 'started') return refuse('agent restarted during apply; host state unknown', true);
    if (journal.unknown !== null) return refuse(journal.unknown, true);
    if (!this.d.allow.has(a.change.kind)) {
      return refuse(`change kind "${a.change.kind}" is not allowed on this host (agent --allow: ${allowText(this.d.allow)})`, false);
    }
    const runner = this.d.changeRunners.get(a.change.kind);
    if (!runner) return refuse(`change kind "${a.change.kind}" is not supported by this agent`, false);

    let baseline: InvariantSnapshot | null = null;
    try {
      baseline = await this.d.takeBaseline();
    } catch (err) {
      log.warn('could not take the invariant baseline before apply', { rolloutId: a.rolloutId, error: String(err) });
    }
    const startedAt = this.d.now();
    journal = { ...journal, baseline, apply: { attempt: a.attempt, state: 'started', startedAt, ran: true, reports: [] } };
    await state.writeJournal(journal);
    log.info('applying', { rolloutId: a.rolloutId, rollout: a.rolloutName, attempt: a.attempt, kind: a.change.kind });
    const outcome = await runRunner(() => runner.apply(a.change, this.changeContext(a)), 'apply');
    const report = newReport(a, 'apply', outcome.ok, outcome.message, this.d.now());
    journal = {
      ...journal,
      apply: {
        attempt: a.attempt,
        state: 'done',
        startedAt,
        finishedAt: this.d.now(),
        ok: outcome.ok,
        message: outcome.message,
        ran: true,
        ...(outcome.record !== undefined ? { record: outcome.record } : {}),
        reports: [report],
      },
    };
    // Journal first: once it says done, a restart re-sends this report instead of applying again.
    await state.writeJournal(journal);
    log.info(outcome.ok ? 'apply succeeded' : 'apply failed', { rolloutId: a.rolloutId, attempt: a.attempt, message: outcome.message });
    await this.queueAll([report]);
    if (outcome.ok) await this.checkAfterApply(a, journal);
  }

  private async checkAfterApply(a: Assignment, journal: StepJournal): Promise<void> {
    const report = await this.checkOnce(a, journal.baseline);
    if (!report) return;
    const entry = journal.apply;
    if (entry) await this.d.state.writeJournal({ ...journal, apply: { ...entry, reports: [...entry.reports, report] } });
    await this.queueAll([report]);
  }

  /** Runs the checks once; null if stopped midway (a half-run check proves nothing). */
  private async checkOnce(a: Assignment, baseline: InvariantSnapshot | null, signal?: AbortSignal): Promise<AgentReport | null> {
    const outcome = await runChecks(
      a.checks,
      { root: this.d.root, log: this.d.log, baseline, host: this.d.host(), rolloutId: a.rolloutId, ...(signal ? { signal } : {}) },
      this.d.checkRunners,
    );
    if (signal?.aborted) return null;
    if (!outcome.ok) this.d.log.warn('checks failed', { rolloutId: a.rolloutId, attempt: a.attempt, message: outcome.message });
    return newReport(a, 'check', outcome.ok, outcome.message, this.d.now());
  }

  /** Runs the checks every checkInterval until `signal` aborts (the assignment changed or the agent stops). */
  async verify(a: Assignment, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const journal = await this.d.state.readJournal(a.rolloutId);
      const report = await this.checkOnce(a, journal?.baseline ?? null, signal);
      if (report) await this.queueAll([report]);
      await sleep(a.checkInterval, signal);
    }
  }

  async rollback(a: Assignment): Promise<void> {
    const { state, log } = this.d;
    let journal = (await state.readJournal(a.rolloutId)) ?? emptyJournal(a.rolloutId);
    const prev = journal.rollback;
    if (prev && prev.attempt > a.attempt) {
      log.warn('ignoring a stale rollback assignment', { rolloutId: a.rolloutId, attempt: a.attempt, journalAttempt: prev.attempt });
      return;
    }
    if (prev?.state === 'done' && prev.attempt === a.attempt) {
      await this.requeue(journal, 'rollback', a);
      return;
    }
    // A rollback that was `started` when the agent died runs again: rollbacks must be safe to
    // repeat, and returning the host to its previous state is the whole point.
    const startedAt = this.d.now();
    const finish = async (outcome: StepOutcome, ran: boolean) => {
      const report = newReport(a, 'rollback', outcome.ok, outcome.message, this.d.now());
      journal = {
        ...journal,
        rollback: { attempt: a.attempt, state: 'done', startedAt, finishedAt: this.d.now(), ok: outcome.ok, message: outcome.message, ran, reports: [report] },
      };
      await state.writeJournal(journal);
      log.info(outcome.ok ? 'rollback succeeded' : 'rollback failed', { rolloutId: a.rolloutId, attempt: a.attempt, message: outcome.message });
      await this.queueAll([report]);
    };
    const applied = journal.apply;
    const applyRan = journal.unknown !== null || (applied?.ran ?? false);
    if (!this.d.allow.has(a.change.kind) || !this.d.changeRunners.has(a.change.kind)) {
      const why = !this.d.allow.has(a.change.kind)
        ? `change kind "${a.change.kind}" is not allowed on this host (agent --allow: ${allowText(this.d.allow)})`
        : `change kind "${a.change.kind}" is not supported by this agent`;
      return applyRan
        ? finish({ ok: false, message: `cannot roll back: ${why}` }, false)
        : finish({ ok: true, message: `nothing to undo: the change was never applied here (${why})` }, false);
    }
    const runner = this.d.changeRunners.get(a.change.kind) as ChangeRunner;
    journal = { ...journal, rollback: { attempt: a.attempt, state: 'started', startedAt, ran: true, reports: [] } };
    await state.writeJournal(journal);
    log.info('rolling back', { rolloutId: a.rolloutId, rollout: a.rolloutName, attempt: a.attempt, kind: a.change.kind });
    const record = applied && applied.attempt <= a.attempt ? (applied.record ?? null) : null;
    const outcome = await runRunner(() => runner.rollback(a.change, this.changeContext(a), record), 'rollback');
    await finish(outcome, true);
  }
}

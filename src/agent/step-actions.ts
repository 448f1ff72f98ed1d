// What the agent does for one assignment (apply, verify, rollback), with the journal as the
// memory that makes every action happen at most once per attempt, across agent restarts. Around
// the runners: preflight before apply, the invariant snapshot, restoring rules and routes after a
// rollback that follows an invariant failure, and the commit-confirmed watch after apply.
import { randomUUID } from 'node:crypto';
import { allowsCommandChecks, type AllowKind } from '../core/allow-kinds.ts';
import { runsAfterRollback, type Change, type ChangeKind } from '../core/types.ts';
import type { Assignment } from './assignment.ts';
import { sleep } from './backoff.ts';
import type { AgentLog, ChangeContext, ChangeRunner, StepOutcome } from './changes/change-runner.ts';
import type { InvariantSnapshot } from './checks/check-runner.ts';
import { INVARIANT_CHECK_KINDS, runChecks, type CheckRunners } from './checks/index.ts';
import { describeRoute, describeRule, diffInvariants } from './checks/invariants.ts';
import { watchConfirmWindow } from './commit-confirmed.ts';
import type { SluicePackageWindow } from './drift/drift.ts';
import { canonicalPackageName, nativeArchitecture } from './facts/package-names.ts';
import type { OutboxSender } from './outbox-sender.ts';
import { DEFAULT_REBOOT_COMMAND, DEFAULT_REBOOT_REQUIRED_FILE, bootId, rebootReason, runRebootCommand, runRebootHook, type RebootSettings } from './reboot.ts';
import type { ActionEntry, AgentReport, ReportKind, StateDir, StepJournal } from './state-dir.ts';

/** A preflight finding, as much as the agent needs of it. */
export interface PreflightFinding {
  readonly message: string;
}

export interface RestoreOutcome {
  readonly ok: boolean;
  readonly message: string;
}

// The server keeps at most 8192 characters of a report message.
const MAX_MESSAGE = 4000;
/** Checks after a rollback: how many runs, and at most how long apart, before the rollback counts as failed. */
const ROLLBACK_CHECK_TRIES = 3;
const ROLLBACK_CHECK_PAUSE_MS = 2000;

export interface StepDeps {
  readonly host: () => string;
  readonly state: StateDir;
  readonly outbox: OutboxSender;
  /** The agent's --allow: change kinds, and `command-check` for a plan's command checks. */
  readonly allow: ReadonlySet<AllowKind>;
  readonly changeRunners: ReadonlyMap<ChangeKind, ChangeRunner>;
  readonly checkRunners: CheckRunners;
  readonly root: string;
  readonly fileDirs: readonly string[];
  readonly takeBaseline: () => Promise<InvariantSnapshot | null>;
  readonly log: AgentLog;
  readonly now: () => number;
  /** Findings for this change on this host (`baseline`: the routing snapshot just taken); default none. */
  readonly preflight?: (change: Change, baseline: InvariantSnapshot | null) => Promise<readonly PreflightFinding[]>;
  /** Re-adds the rules and routes of `snapshot` that are missing; default: cannot restore. */
  readonly restoreInvariants?: (snapshot: InvariantSnapshot) => Promise<RestoreOutcome>;
  /** Last successful exchange with the server (commit-confirmed); default: never, so no watch runs. */
  readonly lastContact?: () => number | null;
  /** How old the last exchange may be at the end of a confirm window. Default 15 s. */
  readonly staleMs?: number;
  /** How often commit-confirmed looks at the invariants. Default 1 s. */
  readonly probeMs?: number;
  /** The host changed (apply or rollback ran): e.g. re-read the package facts. */
  readonly onHostChanged?: () => void;
  /** The agent is stopping: commit-confirmed watches end. */
  readonly signal?: AbortSignal;
  /**
   * The host's package inventory (canonical names), read just before and after every apt apply
   * and rollback: the exact versions the step moved go into the journal for the drift guard.
   * Missing: not recorded (the drift guard then sees those changes as drift).
   */
  readonly readPackages?: () => Promise<Readonly<Record<string, string>>>;
  /** How this host reboots for a plan's `reboot:` (--reboot-command, --reboot-required-file); default systemctl reboot, /var/run/reboot-required. */
  readonly reboot?: RebootSettings;
}

/** Dependencies an apt record says the apply pulled in. */
function pulledInOf(record: unknown): Readonly<Record<string, string>> {
  const p = (record as { pulledIn?: unknown } | null | undefined)?.pulledIn;
  return p !== null && typeof p === 'object' ? (p as Record<string, string>) : {};
}

const MAX_RECENT_WINDOWS = 100;

export const LOCAL_ROLLBACK_PREFIX = 'rolled back locally (commit-confirmed)';
/** How a rollback asked again after one that succeeded here is answered. */
export const ALREADY_ROLLED_BACK = 'already rolled back';

export function newReport(a: Pick<Assignment, 'rolloutId' | 'attempt'>, kind: ReportKind, ok: boolean, message: string, at: number): AgentReport {
  const text = message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE)}...` : message;
  return { id: randomUUID(), rolloutId: a.rolloutId, attempt: a.attempt, kind, ok, message: text, at };
}

/** A finished action as the journal keeps it: once `done`, a restart re-sends its reports instead of running it again. */
function doneEntry(
  attempt: number,
  startedAt: number,
  finishedAt: number,
  outcome: { readonly ok: boolean; readonly message: string; readonly record?: unknown },
  ran: boolean,
  window: SluicePackageWindow | undefined,
  reports: readonly AgentReport[],
): ActionEntry {
  return {
    attempt,
    state: 'done',
    startedAt,
    finishedAt,
    ok: outcome.ok,
    message: outcome.message,
    ran,
    ...(outcome.record !== undefined ? { record: outcome.record } : {}),
    ...(window ? { packageChanges: window } : {}),
    reports,
  };
}

function emptyJournal(rolloutId: string): StepJournal {
  return { rolloutId, apply: null, rollback: null, baseline: null, unknown: null };
}

/** A rollback the agent did by itself: recorded under the apply's attempt (the server's come after). */
export function rolledBackLocally(journal: StepJournal): boolean {
  const { apply, rollback } = journal;
  return apply !== null && rollback !== null && rollback.attempt === apply.attempt;
}

/** The apply succeeded here and nothing rolled it back since. */
function stillApplied(journal: StepJournal | null): boolean {
  return journal?.apply?.state === 'done' && journal.apply.ok === true && journal.rollback === null;
}

/** stillApplied, for that apply attempt. */
function stillAppliedAt(journal: StepJournal | null, attempt: number): boolean {
  return stillApplied(journal) && journal?.apply?.attempt === attempt;
}

/** The highest attempt this journal has seen: an assignment below it is stale. */
function newestAttempt(journal: StepJournal): number {
  return Math.max(journal.apply?.attempt ?? 0, journal.rollback?.attempt ?? 0);
}

/** A rollback that finished and succeeded, after the latest apply (a fresh apply clears it). */
function rolledBackOk(journal: StepJournal): boolean {
  return journal.rollback?.state === 'done' && journal.rollback.ok === true;
}

/**
 * What an earlier attempt leaves to a new one on the same host: whether the host may still be
 * changed (an apply ran, or the journal was lost, and no rollback succeeded since), the apply's
 * rollback record, and the snapshot taken before that change (null: take a fresh one).
 */
function carriedOver(journal: StepJournal): { changed: boolean; record?: unknown; baseline: InvariantSnapshot | null } {
  const apply = journal.apply;
  const changed = (journal.unknown !== null || (apply?.ran ?? false)) && !rolledBackOk(journal);
  return {
    changed,
    ...(changed && apply?.record !== undefined ? { record: apply.record } : {}),
    baseline: changed ? journal.baseline : null,
  };
}

// Earlier attempts' entries kept in a journal (for their package windows and for people).
const MAX_EARLIER = 10;

/** Moves the current apply and rollback into `earlier` (without their reports): a new attempt starts clean. */
function retire(journal: StepJournal, which: readonly ('apply' | 'rollback')[] = ['apply', 'rollback']): StepJournal {
  const gone = which.map((w) => journal[w]).filter((e): e is ActionEntry => e !== null);
  if (gone.length === 0) return journal;
  const earlier = [...(journal.earlier ?? []), ...gone.map((e) => ({ ...e, reports: [] }))].slice(-MAX_EARLIER);
  const cleared = Object.fromEntries(which.map((w) => [w, null])) as Partial<StepJournal>;
  return { ...journal, ...cleared, earlier };
}

function allowText(allow: ReadonlySet<AllowKind>): string {
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
  private readonly locks = new Map<string, Promise<void>>();
  private readonly watches = new Map<string, Promise<void>>();
  /** Steps (rollout:attempt) confirmed in this run of the agent: reported once. */
  private readonly confirmed = new Set<string>();
  /** Rollouts whose reboot this process asked for: the host is going down; their checks wait. */
  private readonly rebootsAsked = new Set<string>();
  private aptRunning = 0;
  private readonly recentWindows: SluicePackageWindow[] = [];

  constructor(private readonly d: StepDeps) {}

  /** An apt apply or rollback is under way: the drift guard leaves package changes for its next round. */
  get packagesBusy(): boolean {
    return this.aptRunning > 0;
  }

  /** The package windows of apt steps run by this process (journals keep them across restarts). */
  recentPackageWindows(): SluicePackageWindow[] {
    return [...this.recentWindows];
  }

  /**
   * Runs an apt apply or rollback between two readings of dpkg's database, and returns the exact
   * window and versions it moved (only the change's packages and the dependencies it pulled in).
   * The window is known (recentPackageWindows) before packagesBusy turns false.
   */
  private async runTracked(
    change: Change,
    pulledIn: (outcome: StepOutcome) => Readonly<Record<string, string>>,
    run: () => Promise<StepOutcome>,
  ): Promise<{ outcome: StepOutcome; window?: SluicePackageWindow }> {
    const read = this.d.readPackages;
    if (change.kind !== 'apt' || !read) return { outcome: await run() };
    this.aptRunning += 1;
    try {
      const before = await read().catch(() => null);
      const startedAt = this.d.now();
      const outcome = await run();
      const finishedAt = this.d.now();
      const after = await read().catch(() => null);
      if (before === null || after === null) {
        this.d.log.warn('could not read the packages around an apt step; the drift guard may report its changes', {});
        return { outcome };
      }
      const arch = await nativeArchitecture();
      const named = new Set([...Object.keys(change.install), ...change.remove].map((n) => canonicalPackageName(n, arch)));
      for (const n of Object.keys(pulledIn(outcome))) named.add(n);
      const packages: Record<string, { from: string | null; to: string | null }> = {};
      for (const n of new Set([...Object.keys(before), ...Object.keys(after)])) {
        const from = before[n] ?? null;
        const to = after[n] ?? null;
        if (from !== to && named.has(n)) packages[n] = { from, to };
      }
      const window: SluicePackageWindow = { startedAt, finishedAt, packages };
      this.recentWindows.push(window);
      if (this.recentWindows.length > MAX_RECENT_WINDOWS) this.recentWindows.shift();
      return { outcome, window };
    } finally {
      this.aptRunning -= 1;
    }
  }

  /** One journal writer per rollout at a time: the assignment worker and the confirm watch share it. */
  private async locked<T>(rolloutId: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(rolloutId) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => {
      release = r;
    });
    const chain = prev.then(() => mine);
    this.locks.set(rolloutId, chain);
    await prev;
    try {
      return await fn();
    } finally {
      release();
      if (this.locks.get(rolloutId) === chain) this.locks.delete(rolloutId);
    }
  }

  /** Resolves once every commit-confirmed watch has ended (they end when the agent's signal aborts). */
  async settled(): Promise<void> {
    while (this.watches.size > 0) await Promise.all([...this.watches.values()]);
  }

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
  private async resend(journal: StepJournal, which: 'apply' | 'rollback', a: Assignment): Promise<StepJournal> {
    const entry = journal[which];
    if (!entry) return journal;
    this.d.log.info(`${which} already done for this attempt; sending the stored result again`, {
      rolloutId: a.rolloutId,
      attempt: a.attempt,
      ok: entry.ok,
    });
    await this.queueAll(entry.reports);
    return journal;
  }

  /** A rollback asked again at a new attempt, after one that succeeded here: reported ok, under new ids. */
  private async answerRolledBack(journal: StepJournal, done: ActionEntry, a: Assignment): Promise<void> {
    const message = done.message?.startsWith(ALREADY_ROLLED_BACK) ? done.message : `${ALREADY_ROLLED_BACK} (attempt ${done.attempt}): ${done.message ?? 'ok'}`;
    const report = newReport(a, 'rollback', true, message, this.d.now());
    await this.d.state.writeJournal({ ...journal, rollback: { ...done, attempt: a.attempt, message, reports: [report] } });
    this.d.log.info('rollback already done for this rollout; reporting it at the new attempt', { rolloutId: a.rolloutId, attempt: a.attempt, doneAttempt: done.attempt });
    await this.queueAll([report]);
  }

  /** The apply fails without running (or without running again): journaled, then reported. */
  private async refuseApply(a: Assignment, journal: StepJournal, message: string, ran: boolean, record?: unknown): Promise<void> {
    const report = newReport(a, 'apply', false, message, this.d.now());
    const startedAt = journal.apply?.attempt === a.attempt ? journal.apply.startedAt : this.d.now();
    const outcome = { ok: false, message, ...(record !== undefined ? { record } : {}) };
    await this.d.state.writeJournal({ ...journal, apply: doneEntry(a.attempt, startedAt, this.d.now(), outcome, ran, undefined, [report]) });
    this.d.log.warn('apply refused', { rolloutId: a.rolloutId, attempt: a.attempt, reason: message });
    await this.queueAll([report]);
  }

  async apply(a: Assignment): Promise<void> {
    await this.locked(a.rolloutId, () => this.applyLocked(a));
    const journal = await this.d.state.readJournal(a.rolloutId);
    if (stillAppliedAt(journal, a.attempt)) this.watch(a, journal!, false);
  }

  private async applyLocked(a: Assignment): Promise<void> {
    const { state, log } = this.d;
    let journal = (await state.readJournal(a.rolloutId)) ?? emptyJournal(a.rolloutId);
    const prev = journal.apply;
    if (newestAttempt(journal) > a.attempt) {
      log.warn('ignoring a stale apply assignment', { rolloutId: a.rolloutId, attempt: a.attempt, journalAttempt: newestAttempt(journal) });
      return;
    }
    if (prev?.state === 'done' && prev.attempt === a.attempt) {
      journal = await this.resend(journal, 'apply', a);
      const entry = journal.apply;
      // The agent may have died between apply and its first checks (or rebooted): run them now.
      if (entry?.ok && !journal.rollback && !entry.reports.some((r) => r.kind === 'check') && (await this.settleReboot(a)) === 'ready') {
        await this.checkAfterApply(a, (await state.readJournal(a.rolloutId)) ?? journal);
      }
      return;
    }
    if (prev?.state === 'started' && prev.attempt === a.attempt) {
      return this.refuseApply(a, journal, 'agent restarted during apply; host state unknown', true);
    }
    // A higher attempt (retry): a fresh apply. What the earlier attempts left on the host stays
    // known: whether it may still be changed, its record and the snapshot taken before it.
    const earlier = prev !== null && prev.attempt < a.attempt;
    const carried = earlier ? carriedOver(journal) : null;
    if (earlier) {
      log.info('new apply attempt for this rollout: applying afresh', { rolloutId: a.rolloutId, attempt: a.attempt, previousAttempt: prev.attempt, previousOk: prev.ok ?? null });
      journal = retire(journal);
    }
    const refuse = (message: string, ran: boolean) => this.refuseApply(a, journal, message, ran || (carried?.changed ?? false), carried?.record);
    if (journal.unknown !== null) return refuse(journal.unknown, true);
    if (!this.d.allow.has(a.change.kind)) {
      return refuse(`change kind "${a.change.kind}" is not allowed on this host (agent --allow: ${allowText(this.d.allow)})`, false);
    }
    const runner = this.d.changeRunners.get(a.change.kind);
    if (!runner) return refuse(`change kind "${a.change.kind}" is not supported by this agent`, false);
    if (a.reboot && !this.d.allow.has('reboot')) {
      return refuse(`the plan reboots the host (reboot: ${a.reboot.when}) and this agent does not allow reboot (agent --allow: ${allowText(this.d.allow)})`, false);
    }

    let baseline: InvariantSnapshot | null = null;
    try {
      baseline = await this.d.takeBaseline();
    } catch (err) {
      log.warn('could not take the invariant baseline before apply', { rolloutId: a.rolloutId, error: String(err) });
    }
    // The host may still carry an earlier attempt's change: the snapshot from before that one is the way back.
    const restoreTo = carried?.baseline ?? baseline;
    let findings: readonly PreflightFinding[] = [];
    if (this.d.preflight) {
      try {
        findings = await this.d.preflight(a.change, baseline);
      } catch (err) {
        findings = [{ message: `preflight could not run: ${err instanceof Error ? err.message : String(err)}` }];
      }
    }
    const preflightText = findings.map((f) => f.message).join('; ');
    // `block`: a flagged host fails its step before anything changes.
    if (findings.length > 0 && a.preflight === 'block') return refuse(`preflight: ${preflightText}`, false);
    const startedAt = this.d.now();
    journal = { ...journal, baseline: restoreTo, invariantFailure: null, apply: { attempt: a.attempt, state: 'started', startedAt, ran: true, reports: [] } };
    await state.writeJournal(journal);
    log.info('applying', { rolloutId: a.rolloutId, rollout: a.rolloutName, attempt: a.attempt, kind: a.change.kind });
    const { outcome: ran, window } = await this.runTracked(
      a.change,
      (o) => pulledInOf(o.record),
      () => runRunner(() => runner.apply(a.change, this.changeContext(a)), 'apply'),
    );
    this.d.onHostChanged?.();
    const outcome: StepOutcome = findings.length > 0 ? { ...ran, message: `${ran.message}; preflight warnings: ${preflightText}` } : ran;
    const report = newReport(a, 'apply', outcome.ok, outcome.message, this.d.now());
    const kept = outcome.record === undefined && carried?.record !== undefined ? { ...outcome, record: carried.record } : outcome;
    journal = {
      ...journal,
      apply: doneEntry(a.attempt, startedAt, this.d.now(), kept, true, window, [report]),
    };
    // Journal first: once it says done, a restart re-sends this report instead of applying again.
    await state.writeJournal(journal);
    log.info(outcome.ok ? 'apply succeeded' : 'apply failed', { rolloutId: a.rolloutId, attempt: a.attempt, message: outcome.message });
    await this.queueAll([report]);
    if (outcome.ok && !(await this.rebootAfterApply(a, journal))) await this.checkAfterApply(a, journal);
  }

  /**
   * The plan's reboot after a successful apply: true when the host is going down (or the reboot
   * failed, reported): then the checks wait for it to be back (settleReboot), false when it needs
   * none. The journal says `rebooting` before the reboot command runs, so a restart finds it.
   */
  private async rebootAfterApply(a: Assignment, journal: StepJournal): Promise<boolean> {
    if (!a.reboot || !journal.apply) return false;
    const settings = this.d.reboot ?? { command: DEFAULT_REBOOT_COMMAND, requiredFile: DEFAULT_REBOOT_REQUIRED_FILE };
    const reason = await rebootReason(a.reboot, settings);
    if (reason === null) {
      this.d.log.info('no reboot needed after the apply', { rolloutId: a.rolloutId, requiredFile: settings.requiredFile });
      return false;
    }
    const fail = async (message: string) => {
      this.d.log.warn('reboot failed', { rolloutId: a.rolloutId, message });
      await this.queueAll([newReport(a, 'check', false, message, this.d.now())]);
      return true;
    };
    if (a.reboot.before) {
      const problem = await runRebootHook('before', a.reboot.before, { host: this.d.host(), rolloutId: a.rolloutId });
      if (problem) return fail(`not rebooted: ${problem}`);
    }
    const entry = journal.apply;
    const rebooting: StepJournal = { ...journal, apply: { ...entry, reboot: { state: 'rebooting', reason, requestedAt: this.d.now(), bootId: await bootId() } } };
    await this.d.state.writeJournal(rebooting);
    this.rebootsAsked.add(a.rolloutId);
    this.d.log.warn('rebooting the host', { rolloutId: a.rolloutId, reason, command: settings.command[0] });
    const problem = await runRebootCommand(settings);
    if (problem) {
      this.rebootsAsked.delete(a.rolloutId);
      await this.d.state.writeJournal({ ...rebooting, apply: { ...entry, reboot: { state: 'done', reason, requestedAt: this.d.now(), bootId: null, doneAt: this.d.now() } } });
      return fail(`the reboot (${reason}) did not happen: ${problem}`);
    }
    // The host goes down next. If it does not within the plan's timeout, say so: the step fails.
    const timeout = a.reboot.timeout;
    setTimeout(() => {
      void this.locked(a.rolloutId, async () => {
        const now = await this.d.state.readJournal(a.rolloutId);
        if (now?.apply?.reboot?.state !== 'rebooting' || !this.rebootsAsked.has(a.rolloutId)) return;
        await this.queueAll([newReport(a, 'check', false, `the host did not go down within ${Math.round(timeout / 1000)}s of the reboot command`, this.d.now())]);
      });
    }, timeout).unref();
    return true;
  }

  /**
   * Before checks on a step whose apply asked for a reboot: 'waiting' while this process asked
   * for it (the host is going down), else the host is back: the after-hook runs, the journal says
   * `done` (the commit-confirmed window starts now), and the checks go on ('ready').
   */
  private async settleReboot(a: Assignment): Promise<'ready' | 'waiting'> {
    const journal = await this.d.state.readJournal(a.rolloutId);
    const reboot = journal?.apply?.reboot;
    if (!journal?.apply || !reboot || reboot.state === 'done') return 'ready';
    if (this.rebootsAsked.has(a.rolloutId)) return 'waiting';
    const now = await bootId();
    const how = reboot.bootId !== null && now !== null && now !== reboot.bootId ? 'the host rebooted' : 'the agent restarted (the boot id is unchanged)';
    this.d.log.info('back after the reboot', { rolloutId: a.rolloutId, how });
    const problem = a.reboot?.after ? await runRebootHook('after', a.reboot.after, { host: this.d.host(), rolloutId: a.rolloutId }) : null;
    await this.d.state.writeJournal({ ...journal, apply: { ...journal.apply, reboot: { ...reboot, state: 'done', doneAt: this.d.now() } } });
    if (problem) await this.queueAll([newReport(a, 'check', false, `back after the reboot, but ${problem}`, this.d.now())]);
    return 'ready';
  }

  private async checkAfterApply(a: Assignment, journal: StepJournal): Promise<void> {
    const checked = await this.checkOnce(a, journal.baseline);
    if (!checked) return;
    const entry = journal.apply;
    if (entry) {
      await this.d.state.writeJournal({
        ...journal,
        ...this.invariantFailureOf(journal, checked),
        apply: { ...entry, reports: [...entry.reports, checked.report] },
      });
    }
    await this.queueAll([checked.report]);
  }

  /** The journal field to set when invariant checks failed in this run (the first failure is kept). */
  private invariantFailureOf(journal: StepJournal, checked: CheckRun): Pick<StepJournal, 'invariantFailure'> {
    if (checked.invariantFailed.length === 0 || journal.invariantFailure) return {};
    return { invariantFailure: { at: checked.report.at, checks: checked.invariantFailed, message: checked.report.message } };
  }

  /** Runs the checks once; null if stopped midway (a half-run check proves nothing). */
  private async checkOnce(a: Assignment, baseline: InvariantSnapshot | null, signal?: AbortSignal): Promise<CheckRun | null> {
    const outcome = await runChecks(
      a.checks,
      {
        root: this.d.root,
        log: this.d.log,
        baseline,
        host: this.d.host(),
        rolloutId: a.rolloutId,
        allowCommandChecks: allowsCommandChecks(this.d.allow),
        ...(signal ? { signal } : {}),
      },
      this.d.checkRunners,
    );
    if (signal?.aborted) return null;
    if (!outcome.ok) this.d.log.warn('checks failed', { rolloutId: a.rolloutId, attempt: a.attempt, message: outcome.message });
    // results are in the order of the specs
    const invariantFailed = outcome.results.filter((r, i) => !r.ok && INVARIANT_CHECK_KINDS.includes(a.checks[i]?.kind as never)).map((r) => r.name);
    return { report: newReport(a, 'check', outcome.ok, outcome.message, this.d.now()), invariantFailed };
  }

  /** Runs the checks every checkInterval until `signal` aborts (the assignment changed or the agent stops). */
  async verify(a: Assignment, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      if ((await this.locked(a.rolloutId, () => this.settleReboot(a))) === 'waiting') {
        await sleep(a.checkInterval, signal); // going down: no checks until the host is back
        continue;
      }
      const journal = await this.d.state.readJournal(a.rolloutId);
      if (journal === null || !rolledBackLocally(journal)) {
        // After an agent restart the watch of a recent apply goes on.
        if (journal && stillAppliedAt(journal, a.attempt)) this.watch(a, journal, true);
        const checked = await this.checkOnce(a, journal?.baseline ?? null, signal);
        if (checked) {
          await this.locked(a.rolloutId, async () => {
            const now = await this.d.state.readJournal(a.rolloutId);
            // Rolled back locally meanwhile: these results describe a host that is no longer changed.
            if (now && rolledBackLocally(now)) return;
            const field = now ? this.invariantFailureOf(now, checked) : {};
            if (now && field.invariantFailure) await this.d.state.writeJournal({ ...now, ...field });
            await this.queueAll([checked.report]);
          });
        }
      }
      // Rolled back locally: the failure was reported then; checks would only say the host is fine again.
      await sleep(a.checkInterval, signal);
    }
  }

  /** Starts the commit-confirmed watch of this rollout's apply (once; it ends with the window). */
  private watch(a: Assignment, journal: StepJournal, resumed: boolean): void {
    const entry = journal.apply;
    const lastContact = this.d.lastContact;
    if (!entry || !lastContact || a.confirmWindow <= 0) return;
    // Rebooting: the window starts once the host is back (settleReboot), not before it went down.
    if (entry.reboot?.state === 'rebooting') return;
    // One watch per apply attempt: a retry's fresh apply gets its own, and the earlier one ends.
    const key = `${a.rolloutId}:${entry.attempt}`;
    if (this.watches.has(key) || this.confirmed.has(key)) return;
    const step = { rolloutId: a.rolloutId, attempt: entry.attempt };
    const current = async () => stillAppliedAt(await this.d.state.readJournal(a.rolloutId), entry.attempt);
    const appliedAt = entry.reboot?.doneAt ?? entry.finishedAt ?? entry.startedAt;
    const signal = this.d.signal ?? new AbortController().signal;
    const watched = a.checks.filter((c) => INVARIANT_CHECK_KINDS.includes(c.kind)).map((c) => c.kind);
    const confirm = async (message: string) => {
      this.confirmed.add(key);
      await this.locked(a.rolloutId, async () => {
        if (!(await current())) return;
        // The server counts the step healthy only once it hears this (its wave's bake waits for it).
        await this.queueAll([newReport(step, 'confirm', true, message, this.d.now())]);
      });
    };
    if (resumed && this.d.now() >= appliedAt + a.confirmWindow) {
      // The window passed while the agent was down: nothing was seen to judge it by, and the change
      // stayed. Confirm it once the server answers again and the invariants hold.
      const since = this.d.now();
      const p = (async () => {
        while (!signal.aborted) {
          if (!(await current())) return;
          if ((lastContact() ?? 0) > since) {
            if ((await this.invariantProblem(journal.baseline, watched)) === null) await confirm('confirmed after an agent restart: the change stayed, the server answers and the invariants hold');
            return;
          }
          await sleep(this.d.probeMs ?? 1000, signal);
        }
      })()
        .catch((err: unknown) => this.d.log.error('commit-confirmed watch failed', { rolloutId: a.rolloutId, error: err instanceof Error ? err.message : String(err) }))
        .finally(() => this.watches.delete(key));
      this.watches.set(key, p);
      return;
    }
    const reportIds = new Set(entry.reports.map((r) => r.id));
    const run = async () => {
      const verdict = await watchConfirmWindow({
        appliedAt,
        windowMs: a.confirmWindow,
        staleMs: this.d.staleMs ?? 15_000,
        probeMs: this.d.probeMs ?? 1000,
        now: this.d.now,
        lastContact,
        signal,
        stillApplied: current,
        unacked: async () => {
          const current = await this.d.state.readJournal(a.rolloutId);
          for (const r of current?.apply?.reports ?? []) reportIds.add(r.id);
          return (await this.d.state.listReports()).filter((r) => reportIds.has(r.id)).length;
        },
        invariantProblem: () => this.invariantProblem(journal.baseline, watched),
      });
      if (verdict === null) return;
      if (verdict.state === 'confirmed') {
        this.d.log.info('change confirmed (commit-confirmed window passed)', { rolloutId: a.rolloutId, attempt: a.attempt });
        await confirm(`confirmed: the commit-confirmed window (${Math.round(a.confirmWindow / 100) / 10}s) passed with contact and the invariants held`);
        return;
      }
      this.d.log.warn('rolling back locally (commit-confirmed)', { rolloutId: a.rolloutId, attempt: a.attempt, why: verdict.why });
      await this.locked(a.rolloutId, () => this.rollbackLocallyLocked(a, entry.attempt, verdict.why));
    };
    const p = run()
      .catch((err: unknown) => this.d.log.error('commit-confirmed watch failed', { rolloutId: a.rolloutId, error: err instanceof Error ? err.message : String(err) }))
      .finally(() => this.watches.delete(key));
    this.watches.set(key, p);
  }

  /** The watched invariants against the snapshot taken before the change; null when they hold or cannot be read. */
  private async invariantProblem(baseline: InvariantSnapshot | null, kinds: readonly string[]): Promise<string | null> {
    if (baseline === null || kinds.length === 0) return null;
    let current: InvariantSnapshot | null;
    try {
      current = await this.d.takeBaseline();
    } catch (err) {
      this.d.log.warn('commit-confirmed could not read the rules and routes', { error: err instanceof Error ? err.message : String(err) });
      return null;
    }
    if (current === null) return null;
    const diff = diffInvariants(baseline, current);
    const parts: string[] = [];
    if (kinds.includes('ipRulesPreserved') && diff.vanishedRules.length > 0) {
      parts.push(`ipRulesPreserved: ${diff.vanishedRules.length} routing-policy rule(s) vanished: ${diff.vanishedRules.map(describeRule).join('; ')}`);
    }
    if (kinds.includes('routesPreserved') && diff.vanishedRoutes.length > 0) {
      parts.push(`routesPreserved: ${diff.vanishedRoutes.length} route(s) vanished: ${diff.vanishedRoutes.map(describeRoute).join('; ')}`);
    }
    return parts.length > 0 ? parts.join('; ') : null;
  }

  /**
   * Commit-confirmed gave up on the change: rules and routes back first (a cut-off host may need the
   * network to fetch the previous packages), then the change, then rules and routes again (the
   * rollback's own scripts may remove some). Reported as a failed check, then the rollback outcome.
   */
  private async rollbackLocallyLocked(a: Assignment, attempt: number, why: string): Promise<void> {
    const { state, log } = this.d;
    const journal = await state.readJournal(a.rolloutId);
    // Only the apply this watch was for: a newer attempt has its own watch.
    if (!journal || !stillAppliedAt(journal, attempt) || !journal.apply) return;
    const apply = journal.apply;
    const step = { rolloutId: a.rolloutId, attempt: apply.attempt };
    const startedAt = this.d.now();
    await state.writeJournal({ ...journal, rollback: { attempt: apply.attempt, state: 'started', startedAt, ran: true, reports: [] } });
    const before = await this.restore(journal.baseline);
    const runner = this.d.changeRunners.get(a.change.kind);
    const tracked = runner
      ? await this.runTracked(a.change, () => pulledInOf(apply.record), () => runRunner(() => runner.rollback(a.change, this.changeContext(a), apply.record ?? null), 'rollback'))
      : { outcome: { ok: false, message: `change kind "${a.change.kind}" is not supported by this agent` } as StepOutcome };
    const undo = tracked.outcome;
    this.d.onHostChanged?.();
    const after = await this.restore(journal.baseline);
    const restored = [before, after].filter((r) => r !== null && !/^nothing to restore/.test(r.message)).map((r) => r!.message);
    const ok = undo.ok && (before?.ok ?? true) && (after?.ok ?? true);
    const headline = `${LOCAL_ROLLBACK_PREFIX}: ${why}`;
    const message = [headline, `change: ${undo.message}`, restored.length > 0 ? `rules and routes: ${restored.join('. ')}` : 'rules and routes: nothing missing'].join('. ');
    const checkReport = newReport(step, 'check', false, headline, this.d.now());
    // Strictly after the check report: the outbox delivers in `at` order, and the server must see the failure first.
    const rollbackReport = newReport(step, 'rollback', ok, message, Math.max(this.d.now(), checkReport.at + 1));
    await state.writeJournal({
      ...journal,
      apply: { ...apply, reports: [...apply.reports, checkReport] },
      rollback: doneEntry(apply.attempt, startedAt, this.d.now(), { ok, message }, true, tracked.window, [rollbackReport]),
    });
    // Check results not delivered yet describe the host before the rollback: the server hears this one instead.
    for (const r of apply.reports) if (r.kind === 'check') await state.deleteReport(r.id);
    log.warn(ok ? 'rolled back locally' : 'local rollback failed', { rolloutId: a.rolloutId, attempt: apply.attempt, message });
    await this.queueAll([checkReport, rollbackReport]);
  }

  private async restore(baseline: InvariantSnapshot | null): Promise<RestoreOutcome | null> {
    if (baseline === null) return { ok: false, message: 'no snapshot was taken before the change; rules and routes not restored' };
    if (!this.d.restoreInvariants) return null;
    try {
      return await this.d.restoreInvariants(baseline);
    } catch (err) {
      return { ok: false, message: `restoring rules and routes failed: ${err instanceof Error ? err.message : String(err)}` };
    }
  }

  async rollback(a: Assignment): Promise<void> {
    await this.locked(a.rolloutId, () => this.rollbackLocked(a));
  }

  private async rollbackLocked(a: Assignment): Promise<void> {
    const { state, log } = this.d;
    let journal = (await state.readJournal(a.rolloutId)) ?? emptyJournal(a.rolloutId);
    const prev = journal.rollback;
    if (newestAttempt(journal) > a.attempt) {
      log.warn('ignoring a stale rollback assignment', { rolloutId: a.rolloutId, attempt: a.attempt, journalAttempt: newestAttempt(journal) });
      return;
    }
    // Same attempt again: the stored result, same ids.
    if (prev?.state === 'done' && prev.attempt === a.attempt) {
      await this.resend(journal, 'rollback', a);
      return;
    }
    // A new attempt for a rollback that already succeeded here (by the server's order or by
    // commit-confirmed): the host is back, so it is answered as such and nothing runs twice.
    if (prev?.state === 'done' && prev.ok === true) {
      await this.answerRolledBack(journal, prev, a);
      return;
    }
    // A rollback that failed, or was `started` when the agent died, runs again: rollbacks must be
    // safe to repeat, and returning the host to its previous state is the whole point.
    if (prev !== null) {
      log.info('rolling back again: the earlier rollback did not finish well', { rolloutId: a.rolloutId, attempt: a.attempt, previousAttempt: prev.attempt, previous: prev.state === 'done' ? 'failed' : 'interrupted' });
      if (prev.attempt < a.attempt) journal = retire(journal, ['rollback']);
    }
    const startedAt = this.d.now();
    let window: SluicePackageWindow | undefined;
    const finish = async (outcome: StepOutcome, ran: boolean) => {
      const report = newReport(a, 'rollback', outcome.ok, outcome.message, this.d.now());
      journal = {
        ...journal,
        rollback: doneEntry(a.attempt, startedAt, this.d.now(), { ok: outcome.ok, message: outcome.message }, ran, window, [report]),
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
    const tracked = await this.runTracked(a.change, () => pulledInOf(record), () => runRunner(() => runner.rollback(a.change, this.changeContext(a), record), 'rollback'));
    window = tracked.window;
    const outcome = tracked.outcome;
    this.d.onHostChanged?.();
    const failure = journal.invariantFailure;
    if (!failure || !applyRan) return finish(await this.checkRolledBack(a, journal.baseline, outcome), true);
    // Whatever the change kind: an invariant check failed, so the rules and routes come back too.
    const restored = await this.restore(journal.baseline);
    const restoredText = restored === null ? 'this agent cannot restore rules and routes' : restored.message;
    const combined: StepOutcome = {
      ok: outcome.ok && (restored?.ok ?? false),
      message: `${outcome.message}. Invariant checks had failed (${failure.checks.join(', ')}): ${restoredText}`,
    };
    await finish(await this.checkRolledBack(a, journal.baseline, combined), true);
  }

  /**
   * A rollback is gated like a change: the plan's checks that run after a rollback (see
   * runsAfterRollback) must pass on the rolled-back host, or the rollback counts as failed (which
   * halts it). A few tries, a moment apart, for a service the rollback restarted.
   */
  private async checkRolledBack(a: Assignment, baseline: InvariantSnapshot | null, outcome: StepOutcome): Promise<StepOutcome> {
    const checks = a.checks.filter(runsAfterRollback);
    if (!outcome.ok || checks.length === 0) return outcome;
    let last = '';
    for (let i = 0; i < ROLLBACK_CHECK_TRIES; i++) {
      if (i > 0) await sleep(Math.min(a.checkInterval, ROLLBACK_CHECK_PAUSE_MS));
      const run = await this.checkOnce({ ...a, checks }, baseline);
      if (run === null || run.report.ok) return outcome;
      last = run.report.message ?? 'a check failed';
    }
    return { ok: false, message: `${outcome.message}; but the plan's checks fail on the rolled-back host: ${last}` };
  }
}

interface CheckRun {
  readonly report: AgentReport;
  /** Names of the invariant checks that failed in this run. */
  readonly invariantFailed: string[];
}

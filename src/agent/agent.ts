// The host agent (`sluice agent`): enrolls, heartbeats, long-polls its assignments, applies and
// rolls back changes it is allowed to run, runs checks, and delivers every result exactly once.
// Subfolders: changes/ (one runner per change kind), checks/ (one runner per check kind).
import type { RebootSettings } from './reboot.ts';
import { arch, hostname, platform, release } from 'node:os';
import { resolve } from 'node:path';
import type { AllowKind } from '../core/allow-kinds.ts';
import type { Change, ChangeKind, Labels } from '../core/types.ts';
import type { Assignment, AssignmentsAnswer } from './assignment.ts';
import { Backoff, sleep, type BackoffOptions } from './backoff.ts';
import type { AgentLog, ChangeRunner } from './changes/change-runner.ts';
import { createChangeRunners } from './changes/index.ts';
import type { InvariantSnapshot } from './checks/check-runner.ts';
import { createCheckRunners, type CheckRunners } from './checks/index.ts';
import { AgentClient } from './client.ts';
import { ServerContact, trackContact } from './commit-confirmed.ts';
import { createAgentLog, errorText } from './log.ts';
import { stableJson } from './facts/facts.ts';
import { OutboxSender } from './outbox-sender.ts';
import { DEFAULT_ROTATE_EVERY_MS, Session } from './session.ts';
import { stat } from 'node:fs/promises';
import { StateDir } from './state-dir.ts';
import { StepActions, newReport, type PreflightFinding, type RestoreOutcome } from './step-actions.ts';
import { DriftGuard, type DriftGuardOptions, type SluiceSteps } from './drift-guard.ts';
import { defaultRunner } from './facts/argv-runner.ts';
import { readPackageInventory } from './facts/dpkg-packages.ts';

/** How far back the drift guard looks for Sluice's own apt steps in the journals. */
const PACKAGE_WINDOW_MS = 24 * 3600_000;

export type { AgentLog };

export interface AgentOptions {
  readonly server: string;
  /** Enrollment token; needed only when the state dir holds no usable credential. */
  readonly token?: string;
  /** PEM CA(s) for an https server (--ca-file); default: Node's trust store. */
  readonly ca?: string;
  readonly name: string;
  readonly labels: Labels;
  /**
   * What this agent runs (--allow): change kinds, and `command-check` for a plan's `command`
   * checks (`command` implies it). The server cannot make it run anything else. Reported in the
   * facts as `allow`, so the server knows which plans this host can take part in.
   */
  readonly allow: readonly AllowKind[];
  readonly stateDir: string;
  readonly heartbeatMs?: number;
  readonly pollWaitMs?: number;
  readonly root?: string;
  readonly fileDirs?: readonly string[];
  readonly backoff?: BackoffOptions;
  readonly log?: AgentLog;
  readonly collectFacts?: () => Promise<Record<string, unknown>>;
  /** Invariant snapshot taken just before each apply (ip rules, routes); default none. */
  readonly takeBaseline?: () => Promise<InvariantSnapshot | null>;
  /** Preflight findings for a change on this host (with `preflight: block` any finding stops the apply); default none. */
  readonly preflight?: (change: Change, baseline: InvariantSnapshot | null) => Promise<readonly PreflightFinding[]>;
  /** Re-adds missing rules and routes of a snapshot (after an invariant failure, and commit-confirmed); default none. */
  readonly restoreInvariants?: (snapshot: InvariantSnapshot) => Promise<RestoreOutcome>;
  /** Called after a change or rollback ran on the host (e.g. to re-read package facts). */
  readonly onHostChanged?: () => void;
  /** Commit-confirmed: how often invariants are looked at in the window (default 1 s). */
  readonly confirmProbeMs?: number;
  /** Runners by kind; default createChangeRunners() / createCheckRunners(). */
  readonly changeRunners?: ReadonlyMap<ChangeKind, ChangeRunner>;
  readonly checkRunners?: CheckRunners;
  /** For tests: the jitter source. */
  readonly random?: () => number;
  /** The drift guard (`--drift report|enforce`); missing: no guard. */
  readonly drift?: DriftGuardOptions;
  /**
   * How often the host credential is rotated (POST /v1/agent/rotate), counted from when the
   * credential file was last written; default daily (DEFAULT_ROTATE_EVERY_MS); 0: never.
   */
  readonly rotateEveryMs?: number;
  /** How this host reboots for a plan's `reboot:` (needs `reboot` in allow); default systemctl reboot. */
  readonly reboot?: RebootSettings;
}

export interface AgentHandle {
  readonly host: string;
  /** Ends the loops, lets a running change finish (its own timeout bounds it), then resolves. */
  stop(): Promise<void>;
  /** Resolves once the agent has stopped. */
  readonly done: Promise<void>;
}

/**
 * The cadence (docs/agent.md): the agent's own --heartbeat, or the server's answer when that is
 * shorter (the server asks hosts with work in flight to beat faster). Never under 100 ms.
 */
export function nextHeartbeatMs(configured: number, answered: number | undefined): number {
  if (answered === undefined || !Number.isFinite(answered) || answered <= 0) return configured;
  return Math.max(100, Math.min(configured, answered));
}

/** The facts sent when no collector is given. */
export async function basicFacts(): Promise<Record<string, unknown>> {
  return { hostname: hostname(), platform: platform(), release: release(), arch: arch(), agent: 'sluice-agent/0.1.0' };
}

function keyOf(a: Assignment): string {
  return `${a.action}:${a.attempt}`;
}

/** One rollout's work: one action at a time; a newer assignment ends a running verify loop. */
class RolloutWorker {
  private desired: Assignment | null = null;
  private running: Promise<void> | null = null;
  private verifyAbort: AbortController | null = null;
  private verifyKey: string | null = null;
  private readonly done = new Set<string>();

  constructor(
    private readonly actions: StepActions,
    private readonly log: AgentLog,
    private readonly stopSignal: AbortSignal,
  ) {}

  update(a: Assignment | null): void {
    this.desired = a;
    if (this.verifyAbort && this.verifyKey !== (a ? keyOf(a) : null)) this.verifyAbort.abort();
    if (!this.running && a && !this.stopSignal.aborted) {
      this.running = this.loop().finally(() => {
        this.running = null;
      });
    }
  }

  /** Nothing running: an unlisted worker in this state can be forgotten. */
  get idle(): boolean {
    return this.running === null;
  }

  async settled(): Promise<void> {
    this.verifyAbort?.abort();
    while (this.running) await this.running;
  }

  private async loop(): Promise<void> {
    while (!this.stopSignal.aborted) {
      const a = this.desired;
      if (!a) return;
      const key = keyOf(a);
      if (this.done.has(key)) return;
      try {
        if (a.action === 'verify') {
          const abort = new AbortController();
          this.verifyAbort = abort;
          this.verifyKey = key;
          const onStop = () => abort.abort();
          this.stopSignal.addEventListener('abort', onStop, { once: true });
          try {
            await this.actions.verify(a, abort.signal);
          } finally {
            this.stopSignal.removeEventListener('abort', onStop);
            this.verifyAbort = null;
            this.verifyKey = null;
          }
          continue; // the assignment changed (or the agent stops): look again
        }
        if (a.action === 'apply') await this.actions.apply(a);
        else await this.actions.rollback(a);
        this.done.add(key);
      } catch (err) {
        // Journal or outbox trouble (disk full...): leave it for the next assignments answer.
        this.log.error('could not carry out the assignment', { rolloutId: a.rolloutId, action: a.action, attempt: a.attempt, error: errorText(err) });
        return;
      }
    }
  }
}

export async function startAgent(opts: AgentOptions): Promise<AgentHandle> {
  const log = opts.log ?? createAgentLog();
  const random = opts.random ?? Math.random;
  // At most 10 s: after a server restart every host must be heard within its silentAfter grace.
  const backoff = opts.backoff ?? { initialMs: 500, maxMs: 10_000 };
  const heartbeatMs = opts.heartbeatMs ?? 5000;
  const pollWaitMs = opts.pollWaitMs ?? 25_000;
  const baseFacts = opts.collectFacts ?? basicFacts;
  // The drift guard adds its policy and the pending updates to the facts (set once the guard exists).
  let driftGuard: DriftGuard | null = null;
  // `allow` last: exactly the --allow kinds, whatever a collector says (the engine's eligibility reads it).
  const allowFact = [...opts.allow];
  const collectFacts = async () => ({ ...(await baseFacts()), ...(driftGuard?.facts() ?? {}), allow: allowFact });
  // Commit-confirmed needs to know when the server last answered, whichever loop asked.
  const contact = new ServerContact();
  const client = trackContact(new AgentClient({ server: opts.server, ...(opts.ca !== undefined ? { ca: opts.ca } : {}) }), contact);
  const state = await StateDir.open(resolve(opts.stateDir), log);
  const stop = new AbortController();
  const signal = stop.signal;

  let acceptedFacts: string | null = null;
  const session = new Session({
    client,
    state,
    token: opts.token,
    name: opts.name,
    labels: opts.labels,
    collectFacts,
    backoff,
    random,
    log,
    signal,
    onEnrolled: (facts) => {
      acceptedFacts = stableJson(facts);
    },
  });
  const outbox = new OutboxSender({ client, session, state, log, backoff, random, signal });
  const actions = new StepActions({
    host: () => session.host,
    state,
    outbox,
    allow: new Set(opts.allow),
    changeRunners: opts.changeRunners ?? createChangeRunners(),
    checkRunners: opts.checkRunners ?? createCheckRunners(),
    root: opts.root ?? '/',
    fileDirs: opts.fileDirs ?? [],
    takeBaseline: opts.takeBaseline ?? (async () => null),
    log,
    now: () => Date.now(),
    ...(opts.preflight ? { preflight: opts.preflight } : {}),
    ...(opts.restoreInvariants ? { restoreInvariants: opts.restoreInvariants } : {}),
    ...(opts.onHostChanged ? { onHostChanged: opts.onHostChanged } : {}),
    lastContact: () => contact.lastAt,
    // The versions each apt step moved, for the drift guard: the root's dpkg database.
    readPackages: async () => (await readPackageInventory(opts.root ?? '/', defaultRunner)).packages,
    // A few missed heartbeats at the end of the window still count as reachable.
    staleMs: Math.max(3 * heartbeatMs, 5000),
    probeMs: opts.confirmProbeMs ?? 1000,
    signal,
    ...(opts.reboot ? { reboot: opts.reboot } : {}),
  });
  const workers = new Map<string, RolloutWorker>();
  const reportedInvalid = new Set<string>();

  async function heartbeatLoop(): Promise<void> {
    const failures = new Backoff(backoff, random);
    while (!signal.aborted) {
      let credential: string | undefined;
      try {
        // Inside the try: reading the credential can fail too (state dir trouble), and must not end the loop.
        credential = await session.get();
        if (credential === undefined) return;
        let facts: Record<string, unknown> | undefined;
        let factsJson: string | null = null;
        try {
          const collected = await collectFacts();
          factsJson = stableJson(collected);
          if (factsJson !== acceptedFacts) facts = collected;
        } catch (err) {
          log.warn('collecting facts failed; heartbeat without them', { error: errorText(err) });
        }
        const answer = await client.heartbeat(credential, { labels: opts.labels, ...(facts ? { facts } : {}) }, signal);
        if (facts) acceptedFacts = factsJson;
        failures.reset();
        session.succeeded();
        await sleep(nextHeartbeatMs(heartbeatMs, answer.heartbeatMs), signal);
      } catch (err) {
        if (signal.aborted) return;
        await afterFailure(err, credential, failures, 'heartbeat failed; retrying');
      }
    }
  }

  /** A 401 hands the credential back to the session (it re-enrolls); anything else backs off. */
  async function afterFailure(err: unknown, credential: string | undefined, failures: Backoff, what: string): Promise<void> {
    if (credential !== undefined && (err as { code?: string }).code === 'unauthenticated') {
      session.rejectedBy401(credential);
      return;
    }
    const delay = failures.next();
    log.warn(what, { error: errorText(err), retryInMs: delay });
    await sleep(delay, signal);
  }

  function dispatch(answer: AssignmentsAnswer): void {
    driftGuard?.noteAssignments(answer.assignments);
    const invalidNow = new Set<string>();
    for (const bad of answer.invalid) {
      const key = bad.step ? `${bad.step.rolloutId}:${bad.step.attempt}:${bad.step.action}` : `?:${bad.problem}`;
      invalidNow.add(key);
      if (reportedInvalid.has(key)) continue;
      reportedInvalid.add(key);
      log.error('the server sent an assignment this agent cannot understand', { problem: bad.problem, step: bad.step });
      if (bad.step) {
        const kind = bad.step.action === 'verify' ? 'check' : bad.step.action;
        const report = newReport(bad.step, kind, false, `the agent could not understand this assignment: ${bad.problem}`, Date.now());
        outbox.queue(report).catch((err: unknown) => log.error('could not queue a report', { error: errorText(err) }));
      }
    }
    // Only what the latest answer still lists is remembered: the set cannot grow without bound.
    for (const key of reportedInvalid) if (!invalidNow.has(key)) reportedInvalid.delete(key);
    const listed = new Set<string>();
    for (const a of answer.assignments) {
      listed.add(a.rolloutId);
      let worker = workers.get(a.rolloutId);
      if (!worker) {
        worker = new RolloutWorker(actions, log, signal);
        workers.set(a.rolloutId, worker);
      }
      worker.update(a);
    }
    // An unlisted worker is told to stop; once idle it is forgotten (the journal remembers what was done).
    for (const [rolloutId, worker] of workers) {
      if (listed.has(rolloutId)) continue;
      worker.update(null);
      if (worker.idle) workers.delete(rolloutId);
    }
  }

  /** Rotates the credential every rotateEveryMs, counted from the credential file's last write. */
  async function rotateLoop(): Promise<void> {
    const every = opts.rotateEveryMs ?? DEFAULT_ROTATE_EVERY_MS;
    if (!(every > 0)) return;
    const RETRY_MS = Math.min(every, 10 * 60_000);
    while (!signal.aborted) {
      let due = every;
      try {
        const written = (await stat(state.credentialFile)).mtimeMs;
        due = Math.max(0, written + every - Date.now());
      } catch {
        // no credential yet: the session enrolls; look again a full period later
      }
      // A little jitter, so a fleet enrolled at once does not rotate at once.
      if (!(await sleep(Math.min(2_000_000_000, due + Math.floor(random() * Math.min(60_000, every / 10))), signal))) return;
      let credential: string | undefined;
      try {
        credential = await session.get();
        if (credential === undefined) return;
        await session.rotate();
      } catch (err) {
        if (signal.aborted) return;
        if (credential !== undefined && (err as { code?: string }).code === 'unauthenticated') session.rejectedBy401(credential);
        log.warn('rotating the host credential failed; the current one stays in use', { error: errorText(err), retryInMs: RETRY_MS });
        if (!(await sleep(RETRY_MS, signal))) return;
      }
    }
  }

  async function pollLoop(): Promise<void> {
    const failures = new Backoff(backoff, random);
    let version: string | null = null;
    while (!signal.aborted) {
      let credential: string | undefined;
      try {
        credential = await session.get();
        if (credential === undefined) return;
        const sent = version;
        const started = Date.now();
        const answer = await client.assignments(credential, { waitMs: pollWaitMs, version, signal });
        failures.reset();
        session.succeeded();
        version = answer.version;
        dispatch(answer);
        // A server that answers at once with an unchanged set must not make the agent spin.
        const elapsed = Date.now() - started;
        if (sent !== null && answer.version === sent && elapsed < 1000) await sleep(1000 - elapsed, signal);
      } catch (err) {
        if (signal.aborted) return;
        await afterFailure(err, credential, failures, 'polling assignments failed; retrying');
      }
    }
  }

  log.info('agent starting', {
    server: client.server,
    name: opts.name,
    allow: opts.allow.length === 0 ? 'none' : opts.allow.join(','),
    stateDir: state.dir,
  });
  // Results finished while the server was away (or before a restart) go out first.
  outbox.kick();
  if (opts.drift) {
    const steps: SluiceSteps = {
      packagesBusy: () => actions.packagesBusy,
      // This process's windows, and the journals' (written up to a day ago) for those before a restart.
      packageWindows: async () => {
        const journals = await state.listJournals(Date.now() - PACKAGE_WINDOW_MS);
        const stored = journals.flatMap((j) => [...(j.earlier ?? []), j.apply, j.rollback].map((e) => e?.packageChanges)).filter((w) => w !== undefined);
        return [...stored, ...actions.recentPackageWindows()];
      },
    };
    driftGuard = new DriftGuard(opts.drift, { root: opts.root ?? '/', state, client, session, log, signal, backoff, random, steps });
  }
  // Each loop handles its own failures; this catch only keeps a bug from becoming an unhandled rejection.
  const loops = Promise.all([heartbeatLoop(), pollLoop(), rotateLoop(), driftGuard?.loop()]).then(
    () => undefined,
    (err: unknown) => log.error('agent loop ended with an error', { error: errorText(err) }),
  );

  let stopping: Promise<void> | null = null;
  let markDone!: () => void;
  const done = new Promise<void>((res) => {
    markDone = res;
  });
  const stopAgent = (): Promise<void> => {
    stopping ??= (async () => {
      log.info('agent stopping');
      stop.abort();
      await loops;
      await Promise.all([...workers.values()].map((w) => w.settled()));
      await actions.settled();
      await outbox.idle();
      log.info('agent stopped');
      markDone();
    })();
    return stopping;
  };

  return { host: opts.name, stop: stopAgent, done };
}

// The agent's drift guard loop (`--drift report|enforce`): every interval it collects facts, reads
// dpkg's new log lines and reports whatever changed the host outside a rollout. `enforce` also
// switches the automatic updaters off and puts vanished rules and routes back. Pure rules:
// driftRound (below) and ./drift/drift.ts; this file adds the I/O, the memory and the delivery.
//
// Delivery: events and resolutions go into STATE_DIR/drift.json first (the drift outbox) and are
// POSTed to /v1/agent/drift with retry until acknowledged. Event ids are chosen here, so a repeat
// after a lost answer is ignored by the server: nothing is lost, nothing is counted twice.
import { randomUUID } from 'node:crypto';
import { open, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { DriftEventKind, DriftPolicy } from '../core/types.ts';
import { Backoff, sleep, type BackoffOptions } from './backoff.ts';
import type { AgentLog } from './changes/change-runner.ts';
import type { InvariantSnapshot } from './checks/check-runner.ts';
import { restoreInvariants } from './checks/invariants.ts';
import type { AgentClient } from './client.ts';
import { ensureFreshLists } from './changes/apt-lists.ts';
import { detectDrift, sluiceMovedSince } from './drift/drift.ts';
import type { DriftEvent, RunningStep, SluiceAttribution, SluicePackageWindow } from './drift/drift.ts';
import { MARKER, enforce, relax } from './drift/enforce.ts';
import { defaultRunner } from './facts/argv-runner.ts';
import { canonicalPackageName, nativeArchitecture } from './facts/package-names.ts';
import type { ArgvRunner } from './facts/argv-runner.ts';
import { collectFacts } from './facts/facts.ts';
import type { Facts } from './facts/facts.ts';
import { readPendingUpdates } from './facts/pending-updates.ts';
import type { PendingUpdatesFact } from './facts/pending-updates.ts';
import { errorText } from './log.ts';
import type { Session } from './session.ts';
import { writeFileAtomic } from './state-dir.ts';
import type { StateDir } from './state-dir.ts';

export type { DriftPolicy };

/** One event on the wire (POST /v1/agent/drift). `open`: a condition that holds until resolved. */
export interface DriftWireEvent {
  readonly id: string;
  readonly kind: DriftEventKind;
  /** What the event is about: a package name, `apt`, `rules`, `routes`, or a problem text. */
  readonly subject: string;
  readonly message: string;
  readonly at: number;
  readonly open: boolean;
  readonly details?: Record<string, unknown>;
}

/** A condition that no longer holds: the server closes its open events up to `at`. */
export interface DriftResolved {
  readonly kind: DriftEventKind;
  readonly subject: string;
  readonly at: number;
}

export interface DriftReportBody {
  readonly events: readonly DriftWireEvent[];
  readonly resolved: readonly DriftResolved[];
}

/** What the last round saw: drift is what differs from it. */
export interface DriftInventory {
  readonly packages: Readonly<Record<string, string>>;
  /** When `packages` was read (just before); takenAt when missing. */
  readonly packagesAt?: number;
  /** The last good routing snapshot: it is not replaced by one where rules or routes vanished. */
  readonly routing: InvariantSnapshot | null;
  readonly takenAt: number;
}

export type DriftFacts = Pick<Facts, 'packages' | 'routing' | 'unattendedUpgrades'>;

// ---- the pure part -----------------------------------------------------------------------------

export function keyOf(kind: DriftEventKind, subject: string): string {
  return `${kind}\u0000${subject}`;
}

function splitKey(key: string): { kind: DriftEventKind; subject: string } {
  const at = key.indexOf('\u0000');
  return { kind: key.slice(0, at) as DriftEventKind, subject: key.slice(at + 1) };
}

function subjectOf(e: DriftEvent): string {
  switch (e.kind) {
    case 'package-changed':
      // Canonical: `libssl3` for the native package, `libssl3:i386` for a foreign one.
      return e.package ?? '';
    case 'unattended-upgrades-enabled':
      return 'apt';
    case 'rules-vanished':
      return 'rules';
    case 'routes-vanished':
      return 'routes';
  }
}

export interface DriftRoundInput {
  readonly previous: DriftInventory | null;
  /** Keys (keyOf) of the events still open on the server as far as this agent knows. */
  readonly open: ReadonlySet<string>;
  readonly current: DriftFacts;
  readonly dpkgLogLines: readonly string[];
  readonly runningSteps: readonly RunningStep[];
  readonly now: number;
  readonly newId: () => string;
  /** Package -> the version its last reported change went to. */
  readonly reported?: Readonly<Record<string, string | null>>;
  /** What Sluice's own apt steps did (windows and exact versions): those changes are not drift. */
  readonly attribution?: SluiceAttribution;
}

export interface DriftRoundResult {
  readonly events: DriftWireEvent[];
  readonly resolved: DriftResolved[];
  readonly open: Set<string>;
  readonly inventory: DriftInventory;
  /** Rules or routes of the last good snapshot are missing and no change is running. */
  readonly vanished: boolean;
  readonly reported: Record<string, string | null>;
}

/**
 * One round of the guard, pure. A package change is an event of its own every time it happens
 * (and stays open until a Sluice apt step manages that package again); a condition (unattended-
 * upgrades able to run, rules or routes missing) is reported once when it appears and resolved
 * when it is gone.
 */
export function driftRound(input: DriftRoundInput): DriftRoundResult {
  const { previous, current, runningSteps, now } = input;
  const detected = detectDrift(previous, current, input.dpkgLogLines, runningSteps, input.attribution);
  const open = new Set(input.open);
  const events: DriftWireEvent[] = [];
  const resolved: DriftResolved[] = [];
  const present = new Set<string>();
  let vanished = false;
  const reported: Record<string, string | null> = { ...input.reported };
  // A package a Sluice step moved since the last round is managed again: a later outside change
  // to a version reported before is news again, and its open drift is resolved (unless drifted anew).
  const managed = sluiceMovedSince(input.attribution);
  for (const name of managed.keys()) delete reported[name];
  const driftedNow = new Set(detected.filter((e) => e.kind === 'package-changed').map(subjectOf));
  for (const e of detected) {
    const subject = subjectOf(e);
    const key = keyOf(e.kind, subject);
    if (e.kind === 'rules-vanished' || e.kind === 'routes-vanished') vanished = true;
    if (e.kind === 'package-changed') {
      // dpkg logs a change before its database shows it: one round may see the log line and the
      // next the new version (or the other way round). The same change is reported once.
      const to = e.to ?? null;
      if (Object.hasOwn(reported, subject) && reported[subject] === to) continue;
      reported[subject] = to;
    } else {
      present.add(key);
      if (open.has(key)) continue;
    }
    open.add(key);
    const details: Record<string, unknown> = {};
    if (e.package !== undefined) Object.assign(details, { package: e.package, from: e.from ?? null, to: e.to ?? null });
    if (e.at !== undefined) details.dpkgAt = e.at;
    if (e.evidence !== undefined) details.evidence = e.evidence;
    events.push({ id: input.newId(), kind: e.kind, subject, message: e.message, at: now, open: true, ...(Object.keys(details).length ? { details } : {}) });
  }
  // Routing can only be judged with both snapshots and no change running.
  const routingJudged = runningSteps.length === 0 && previous?.routing != null && current.routing != null;
  for (const key of [...open]) {
    const { kind, subject } = splitKey(key);
    const gone =
      (kind === 'unattended-upgrades-enabled' && !present.has(key)) ||
      ((kind === 'rules-vanished' || kind === 'routes-vanished') && routingJudged && !present.has(key)) ||
      (kind === 'package-changed' && managed.has(subject) && !driftedNow.has(subject));
    if (gone) {
      open.delete(key);
      resolved.push({ kind, subject, at: now });
    }
  }
  const routing = vanished ? (previous?.routing ?? null) : (current.routing ?? previous?.routing ?? null);
  return { events, resolved, open, vanished, reported, inventory: { packages: { ...current.packages }, routing, takenAt: now } };
}

/** An inventory remembered by an older agent may say `libssl3:amd64`: the same package as `libssl3`. */
function canonicalInventory(inv: DriftInventory, arch: string | null): DriftInventory {
  const packages: Record<string, string> = {};
  for (const [n, v] of Object.entries(inv.packages)) packages[canonicalPackageName(n, arch)] = v;
  return { ...inv, packages };
}

// ---- memory in the state dir -------------------------------------------------------------------

interface DriftMemory {
  inventory: DriftInventory | null;
  open: string[];
  reported: Record<string, string | null>;
  /** dpkg.log position: inode and byte offset of the next unread line. */
  dpkgLog: { ino: number; offset: number } | null;
  outbox: { events: DriftWireEvent[]; resolved: DriftResolved[] };
}

const MAX_OUTBOX_EVENTS = 1000;
const SEND_BATCH = 200;
const MAX_LOG_READ = 4 * 1024 * 1024;

function emptyMemory(): DriftMemory {
  return { inventory: null, open: [], reported: {}, dpkgLog: null, outbox: { events: [], resolved: [] } };
}

// ---- the loop ----------------------------------------------------------------------------------

export interface DriftGuardOptions {
  readonly policy: DriftPolicy;
  /** With enforce: also install the networkd drop-in that stops it managing foreign rules and routes. */
  readonly networkd?: boolean;
  /** Default 60 s. The first round runs at start. */
  readonly intervalMs?: number;
  /** Take routing snapshots (rules/routes drift, restore). Default: only when root is '/'. */
  readonly routing?: boolean;
  /** How often pending updates are re-read (apt-get -s). Default 30 min. */
  readonly updatesIntervalMs?: number;
  /**
   * Wait before the first read. Default 2-3 min (jittered): a simulated upgrade costs seconds of
   * CPU, and a fleet of agents starting together must not all run it at once.
   */
  readonly updatesDelayMs?: number;
  /** Reads pending updates; default apt-get -s on the root; false: never. */
  readonly pendingUpdates?: false | (() => Promise<PendingUpdatesFact>);
  /** Facts collector (e.g. the host hooks', shared with the heartbeat); default collectFacts on the root. Must read afresh. */
  readonly collectFacts?: () => Promise<DriftFacts>;
  readonly run?: ArgvRunner;
}

/** The agent's apt steps, as the drift guard needs them (StepActions and the journals). */
export interface SluiceSteps {
  /** An apt apply or rollback is running now. */
  packagesBusy(): boolean;
  /** Recent apt steps' windows and exact versions (finished ones). */
  packageWindows(): Promise<readonly SluicePackageWindow[]>;
}

export interface DriftGuardDeps {
  readonly root: string;
  /** Missing: no step is known, so every package change is drift. */
  readonly steps?: SluiceSteps;
  readonly state: StateDir;
  readonly client: AgentClient;
  readonly session: Session;
  readonly log: AgentLog;
  readonly signal: AbortSignal;
  readonly backoff: BackoffOptions;
  readonly random: () => number;
  readonly now?: () => number;
}

// enforce turns APT::Periodic::Update-Package-Lists off too: the agent then refreshes the lists
// itself, so pending security updates stay visible (and get rolled out in waves).
const LISTS_REFRESH_MS = 6 * 3600_000;

export class DriftGuard {
  private memory: DriftMemory = emptyMemory();
  private loaded = false;
  private current: RunningStep[] = [];
  private recent = new Map<string, RunningStep>();
  private pending: PendingUpdatesFact | null = null;
  private nextPendingAt: number;
  private listsAt = -Infinity;
  private readonly run: ArgvRunner;
  private readonly now: () => number;
  private readonly file: string;

  constructor(
    readonly opts: DriftGuardOptions,
    private readonly deps: DriftGuardDeps,
  ) {
    this.run = opts.run ?? defaultRunner;
    this.now = deps.now ?? Date.now;
    this.file = join(deps.state.dir, 'drift.json');
    this.nextPendingAt = this.now() + (opts.updatesDelayMs ?? 120_000 + Math.floor(deps.random() * 60_000));
  }

  /** Called with every assignments answer: the steps whose package changes are not drift. */
  noteAssignments(list: readonly RunningStep[]): void {
    this.current = list.map((a) => ({ rolloutId: a.rolloutId, change: a.change }));
    for (const s of this.current) this.recent.set(s.rolloutId, s);
  }

  /** Added to the host's facts: the policy and the pending updates. */
  facts(): Record<string, unknown> {
    return {
      driftGuard: { policy: this.opts.policy, networkd: this.opts.networkd === true },
      ...(this.pending ? { pendingUpdates: this.pending } : {}),
    };
  }

  /** Runs until the agent stops: a round every interval, the outbox delivered in between. */
  async loop(): Promise<void> {
    const { log, signal } = this.deps;
    const interval = this.opts.intervalMs ?? 60_000;
    const failures = new Backoff(this.deps.backoff, this.deps.random);
    try {
      await this.start();
    } catch (err) {
      log.error('drift guard could not start cleanly', { error: errorText(err) });
    }
    let next = this.now();
    while (!signal.aborted) {
      if (this.now() >= next) {
        try {
          await this.round();
        } catch (err) {
          log.error('drift guard round failed', { error: errorText(err) });
        }
        next = this.now() + interval;
      }
      let delivered = false;
      try {
        delivered = await this.flush();
      } catch (err) {
        // The credential or drift.json could not be read or written (disk full...): retry later.
        log.error('drift guard could not deliver its events', { error: errorText(err) });
      }
      if (delivered) failures.reset();
      const untilRound = Math.max(0, next - this.now());
      await sleep(delivered ? untilRound : Math.min(untilRound, failures.next()), signal);
    }
  }

  /** At start: `report` undoes what an earlier `enforce` did (the marker says what). */
  async start(): Promise<void> {
    await this.load();
    const { root } = this.deps;
    if (this.opts.policy !== 'report') return;
    const marker = await stat(join(root, MARKER)).catch(() => null);
    if (!marker) return;
    const res = await relax(root, { run: this.run });
    const message = `drift policy is report: undid enforce (${[...res.actions, ...res.problems].join('; ') || 'nothing left to undo'})`;
    this.deps.log.info(message);
    this.push({ id: randomUUID(), kind: 'relaxed', subject: 'apt', message, at: this.now(), open: false, details: { actions: res.actions, problems: res.problems } });
    await this.save();
  }

  /** One round: detect, enforce if asked, remember, queue. Delivery is flush()'s job. */
  async round(): Promise<void> {
    await this.load();
    const { root, log } = this.deps;
    const steps = [...new Map([...this.recent, ...this.current.map((s) => [s.rolloutId, s] as const)]).values()];
    this.recent = new Map(this.current.map((s) => [s.rolloutId, s]));
    const stepsDeps = this.deps.steps;
    const packagesAt = this.now();
    const busyBefore = stepsDeps?.packagesBusy() ?? false;
    const facts = await this.collect();
    const dpkgLog = await this.readNewDpkgLines();
    let windows: readonly SluicePackageWindow[] | null = [];
    try {
      windows = (await stepsDeps?.packageWindows()) ?? [];
    } catch (err) {
      log.warn('could not read the step journals; package drift is judged next round', { error: errorText(err) });
      windows = null;
    }
    // An apt step running during this reading: its lines and versions are judged next round, once
    // its window and versions are known (nothing is lost: the dpkg.log position does not move).
    const deferred = busyBefore || windows === null || (stepsDeps?.packagesBusy() ?? false);
    const arch = await nativeArchitecture(this.run);
    const previous = this.memory.inventory === null ? null : canonicalInventory(this.memory.inventory, arch);
    const current = deferred && previous ? { ...facts, packages: previous.packages } : facts;
    const r = driftRound({
      previous,
      open: new Set(this.memory.open),
      current,
      dpkgLogLines: deferred ? [] : dpkgLog.lines,
      runningSteps: steps,
      now: this.now(),
      newId: randomUUID,
      reported: this.memory.reported,
      attribution: deferred
        ? { windows: [], since: null, nativeArch: arch }
        : { windows: windows ?? [], since: previous === null ? null : (previous.packagesAt ?? previous.takenAt), nativeArch: arch },
    });
    if (!deferred) this.memory.dpkgLog = dpkgLog.position;
    this.memory.reported = r.reported;
    for (const e of r.events) this.push(e);
    for (const x of r.resolved) this.resolve(x);
    this.memory.inventory = { ...r.inventory, packagesAt: deferred && previous ? (previous.packagesAt ?? previous.takenAt) : packagesAt };
    const open = r.open;

    if (this.opts.policy === 'enforce') {
      const res = await enforce(root, { ...(this.opts.networkd ? { networkd: true } : {}), run: this.run });
      if (res.actions.length > 0) {
        const message = `enforce: ${res.actions.join('; ')}`;
        log.info(message);
        this.push({ id: randomUUID(), kind: 'enforced', subject: 'apt', message, at: this.now(), open: false, details: { actions: res.actions } });
        const uuKey = keyOf('unattended-upgrades-enabled', 'apt');
        if (open.has(uuKey) && !(await this.collect()).unattendedUpgrades.canRun) {
          open.delete(uuKey);
          this.resolve({ kind: 'unattended-upgrades-enabled', subject: 'apt', at: this.now() });
        }
      }
      // A problem (a file that is not ours) is a condition: reported once, resolved when gone.
      const problems = new Set(res.problems.map((p) => keyOf('enforce-problem', p)));
      for (const key of problems) {
        if (open.has(key)) continue;
        open.add(key);
        const { subject } = splitKey(key);
        this.push({ id: randomUUID(), kind: 'enforce-problem', subject, message: `enforce could not: ${subject}`, at: this.now(), open: true });
      }
      for (const key of [...open]) {
        if (key.startsWith('enforce-problem\u0000') && !problems.has(key)) {
          open.delete(key);
          this.resolve({ ...splitKey(key), at: this.now() });
        }
      }
      const good = this.memory.inventory.routing;
      if (r.vanished && steps.length === 0 && good) {
        const restored = await restoreInvariants(good, { run: this.run });
        log.warn('restored vanished routing state from the last good snapshot', { message: restored.message });
        this.push({
          id: randomUUID(),
          kind: 'restored',
          subject: 'routing',
          message: restored.message,
          at: this.now(),
          open: false,
          details: { restoredRules: restored.restoredRules, restoredRoutes: restored.restoredRoutes, failed: restored.failed },
        });
        if (restored.ok) {
          for (const kind of ['rules-vanished', 'routes-vanished'] as const) {
            const subject = kind === 'rules-vanished' ? 'rules' : 'routes';
            if (open.delete(keyOf(kind, subject))) this.resolve({ kind, subject, at: this.now() });
          }
        }
      }
    }
    this.memory.open = [...open].sort();
    await this.refreshPendingUpdates();
    await this.save();
  }

  /** Sends the outbox. True when it is empty afterwards. */
  async flush(): Promise<boolean> {
    await this.load();
    const { client, session, signal, log } = this.deps;
    while (this.memory.outbox.events.length > 0 || this.memory.outbox.resolved.length > 0) {
      if (signal.aborted) return false;
      const events = this.memory.outbox.events.slice(0, SEND_BATCH);
      // Resolutions go with the last batch: they may close events of earlier ones.
      const last = events.length === this.memory.outbox.events.length;
      const resolved = last ? this.memory.outbox.resolved : [];
      const credential = await session.get();
      if (credential === undefined) return false;
      try {
        await client.drift(credential, { events, resolved } satisfies DriftReportBody, signal);
        session.succeeded();
      } catch (err) {
        if (signal.aborted) return false;
        const code = (err as { code?: string }).code;
        if (code === 'unauthenticated') session.rejectedBy401(credential);
        else if (code === 'invalid' || code === 'too_large') {
          // The server will never take this batch (a bug or a much older server): drop it, loudly.
          log.error('the server refused drift events for good; dropped', { error: errorText(err), events: events.length });
        } else {
          log.warn('sending drift events failed; will retry', { error: errorText(err), events: events.length });
          return false;
        }
        if (code === 'unauthenticated') return false;
      }
      const sent = new Set(events.map((e) => e.id));
      this.memory.outbox = {
        events: this.memory.outbox.events.filter((e) => !sent.has(e.id)),
        resolved: last ? this.memory.outbox.resolved.filter((x) => !resolved.includes(x)) : this.memory.outbox.resolved,
      };
      await this.save();
    }
    return true;
  }

  private push(e: DriftWireEvent): void {
    const events = [...this.memory.outbox.events, e];
    if (events.length > MAX_OUTBOX_EVENTS) {
      this.deps.log.warn('drift outbox full; dropping the oldest events', { dropped: events.length - MAX_OUTBOX_EVENTS });
    }
    this.memory.outbox.events = events.slice(-MAX_OUTBOX_EVENTS);
  }

  private resolve(x: DriftResolved): void {
    this.memory.outbox.resolved = [...this.memory.outbox.resolved.filter((r) => r.kind !== x.kind || r.subject !== x.subject), x];
  }

  private async collect(): Promise<DriftFacts> {
    const routing = this.opts.routing ?? this.deps.root === '/';
    if (!this.opts.collectFacts) return collectFacts({ root: this.deps.root, run: this.run, routing });
    const facts = await this.opts.collectFacts();
    return routing ? facts : { ...facts, routing: null };
  }

  private async refreshPendingUpdates(): Promise<void> {
    const read = this.opts.pendingUpdates;
    if (read === false) return;
    if (this.now() < this.nextPendingAt) return;
    this.nextPendingAt = this.now() + (this.opts.updatesIntervalMs ?? 30 * 60_000);
    try {
      if (read) {
        this.pending = await read();
        return;
      }
      if (this.opts.policy === 'enforce' && this.now() - this.listsAt >= LISTS_REFRESH_MS) {
        this.listsAt = this.now();
        // With the root's own apt configuration (a test root, or '/'), like every other apt call.
        const res = await ensureFreshLists(this.deps.root, LISTS_REFRESH_MS, { run: this.run, timeoutMs: 300_000, now: this.now, signal: this.deps.signal });
        if (!res.ok) this.deps.log.warn('could not refresh the package lists; pending updates may be stale', { message: res.message });
      }
      this.pending = await readPendingUpdates(this.deps.root, this.run, this.now);
    } catch (err) {
      this.pending = { checkedAt: this.now(), updates: [], error: errorText(err) };
    }
  }

  /**
   * Lines dpkg appended since the last round, and the position after them (the caller stores it
   * once the lines are judged). The first time, the log's history is skipped.
   */
  private async readNewDpkgLines(): Promise<{ lines: string[]; position: { ino: number; offset: number } }> {
    const path = join(this.deps.root, 'var/log/dpkg.log');
    const st = await stat(path).catch(() => null);
    const prev = this.memory.dpkgLog;
    if (!st) return { lines: [], position: { ino: 0, offset: 0 } };
    if (prev === null) return { lines: [], position: { ino: st.ino, offset: st.size } };
    // Rotated (new inode) or truncated: read the new file from its start.
    const from = prev.ino !== st.ino || st.size < prev.offset ? 0 : prev.offset;
    const length = Math.min(st.size - from, MAX_LOG_READ);
    if (length <= 0) return { lines: [], position: { ino: st.ino, offset: from } };
    const fh = await open(path, 'r');
    let text: string;
    try {
      const buf = Buffer.alloc(length);
      const { bytesRead } = await fh.read(buf, 0, length, from);
      text = buf.subarray(0, bytesRead).toString('utf8');
    } finally {
      await fh.close();
    }
    // Only whole lines: a line dpkg is still writing is read next time.
    const end = text.lastIndexOf('\n');
    const whole = end < 0 ? (length === MAX_LOG_READ ? text : '') : text.slice(0, end + 1);
    return { lines: whole.split('\n').filter((l) => l !== ''), position: { ino: st.ino, offset: from + Buffer.byteLength(whole) } };
  }

  private async load(): Promise<void> {
    if (this.loaded) return;
    this.loaded = true;
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch {
      return;
    }
    try {
      const m = JSON.parse(text) as Partial<DriftMemory>;
      this.memory = {
        inventory: m.inventory && typeof m.inventory === 'object' ? m.inventory : null,
        open: Array.isArray(m.open) ? m.open.filter((k): k is string => typeof k === 'string') : [],
        reported: m.reported && typeof m.reported === 'object' ? m.reported : {},
        dpkgLog: m.dpkgLog && typeof m.dpkgLog.offset === 'number' && typeof m.dpkgLog.ino === 'number' ? m.dpkgLog : null,
        outbox: {
          events: Array.isArray(m.outbox?.events) ? m.outbox.events : [],
          resolved: Array.isArray(m.outbox?.resolved) ? m.outbox.resolved : [],
        },
      };
    } catch (err) {
      // A corrupt memory costs one round of history, never the agent.
      this.deps.log.error('drift state unreadable; starting afresh', { file: this.file, error: errorText(err) });
      this.memory = emptyMemory();
    }
  }

  private async save(): Promise<void> {
    await writeFileAtomic(this.file, JSON.stringify(this.memory));
  }
}

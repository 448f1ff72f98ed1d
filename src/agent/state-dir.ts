// The agent's state directory (mode 0700): its credential, one journal per rollout, and the outbox
// of reports the server has not acknowledged yet. Every write is atomic (temp file, fsync, rename)
// so a crash leaves the old or the new version, never half of one. A corrupt file is moved aside
// and logged; it never stops the agent.
import { randomUUID } from 'node:crypto';
import { chmod, mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import * as z from 'zod/mini';
import './zod.ts';
import type { SluicePackageWindow } from './drift/drift.ts';
import { ValidationError } from '../core/errors.ts';
import type { InvariantSnapshot } from './checks/check-runner.ts';
import type { AgentLog } from './changes/change-runner.ts';

export interface Credential {
  readonly server: string;
  readonly host: string;
  readonly credential: string;
}

export type ReportKind = 'apply' | 'check' | 'rollback' | 'confirm';

/** One result for the server (`POST /v1/agent/reports`); `id` makes delivery idempotent. */
export interface AgentReport {
  readonly id: string;
  readonly rolloutId: string;
  readonly attempt: number;
  readonly kind: ReportKind;
  readonly ok: boolean;
  readonly message: string;
  readonly at: number;
}

/** What the agent did for one action (apply or rollback) of a rollout. */
export interface ActionEntry {
  readonly attempt: number;
  /** `started` with no `done` after a restart means the agent died in the middle. */
  readonly state: 'started' | 'done';
  readonly startedAt: number;
  readonly finishedAt?: number;
  readonly ok?: boolean;
  readonly message?: string;
  /** Whether the runner was invoked (false when the agent refused or could not start it). */
  readonly ran?: boolean;
  /** The runner's rollback record (apply only). */
  readonly record?: unknown;
  /** The reports queued for this action, kept so a repeat re-sends the same ids. */
  readonly reports: readonly AgentReport[];
  /**
   * apt steps: the exact window apt/dpkg ran in and the package versions it moved (dpkg's
   * database just before and after). The drift guard excuses only these changes.
   */
  readonly packageChanges?: SluicePackageWindow;
  /**
   * The plan's reboot after this apply: `rebooting` once the reboot command was accepted (the
   * checks wait for the host to be back), `done` once it is back and the after-hook ran.
   */
  readonly reboot?: RebootEntry;
}

export interface RebootEntry {
  readonly state: 'rebooting' | 'done';
  readonly reason: string;
  readonly requestedAt: number;
  /** The boot id when the reboot was asked for: a different one after means the host really rebooted. */
  readonly bootId: string | null;
  readonly doneAt?: number;
}

export interface StepJournal {
  readonly rolloutId: string;
  readonly apply: ActionEntry | null;
  readonly rollback: ActionEntry | null;
  /** Invariant snapshot taken just before apply. */
  readonly baseline: InvariantSnapshot | null;
  /** Set when the journal was unreadable: what the agent did for this rollout is unknown. */
  readonly unknown: string | null;
  /** Invariant checks (ipRulesPreserved, routesPreserved) that failed after the apply: a rollback then also restores rules and routes. */
  readonly invariantFailure?: InvariantFailure | null;
  /**
   * Entries of earlier attempts that a new one replaced (a retry's fresh apply, a rollback run
   * again), oldest first, without their reports: their package windows still excuse what they moved.
   */
  readonly earlier?: readonly ActionEntry[];
}

export interface InvariantFailure {
  readonly at: number;
  /** Names of the failed checks. */
  readonly checks: readonly string[];
  readonly message: string;
}

const SAFE_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}$/;
const FILE_MODE = 0o600;

const credentialSchema = z.object({
  server: z.string().check(z.minLength(1)),
  host: z.string().check(z.minLength(1)),
  // A credential never has whitespace; one with some (an edited or pasted file) cannot be sent.
  credential: z.string().check(z.minLength(1), z.regex(/^\S+$/, 'the host credential contains whitespace (edited by hand?); it cannot be used, the agent enrolls again')),
});

const reportSchema = z.object({
  id: z.string().check(z.regex(SAFE_NAME)),
  rolloutId: z.string().check(z.regex(SAFE_NAME)),
  attempt: z.int().check(z.nonnegative()),
  kind: z.enum(['apply', 'check', 'rollback', 'confirm']),
  ok: z.boolean(),
  message: z.string(),
  at: z.number(),
});

const actionEntrySchema = z.object({
  attempt: z.int().check(z.nonnegative()),
  state: z.enum(['started', 'done']),
  startedAt: z.number(),
  finishedAt: z.optional(z.number()),
  ok: z.optional(z.boolean()),
  message: z.optional(z.string()),
  ran: z.optional(z.boolean()),
  record: z.optional(z.unknown()),
  reports: z.array(reportSchema),
  packageChanges: z.optional(
    z.object({
      startedAt: z.number(),
      finishedAt: z.number(),
      packages: z.record(z.string(), z.object({ from: z.nullable(z.string()), to: z.nullable(z.string()) })),
    }),
  ),
  reboot: z.optional(
    z.object({
      state: z.enum(['rebooting', 'done']),
      reason: z.string(),
      requestedAt: z.number(),
      bootId: z.nullable(z.string()),
      doneAt: z.optional(z.number()),
    }),
  ),
});

const journalSchema = z.object({
  rolloutId: z.string().check(z.regex(SAFE_NAME)),
  apply: z.nullable(actionEntrySchema),
  rollback: z.nullable(actionEntrySchema),
  baseline: z.nullable(
    z.object({
      takenAt: z.number(),
      rules: z.array(z.record(z.string(), z.unknown())),
      routes: z.array(z.record(z.string(), z.unknown())),
    }),
  ),
  unknown: z.nullable(z.string()),
  invariantFailure: z.optional(z.nullable(z.object({ at: z.number(), checks: z.array(z.string()), message: z.string() }))),
  earlier: z.optional(z.array(actionEntrySchema)),
});

/** Rollout ids and report ids become file names: only plain names, never paths. */
export function isSafeName(name: string): boolean {
  return SAFE_NAME.test(name);
}

function assertSafeName(what: string, name: string): void {
  if (!isSafeName(name)) throw new ValidationError(`${what} ${JSON.stringify(name)} is not a safe file name`);
}

/** Writes `data` to `file` atomically: temp file (0600), fsync, rename, fsync the directory. */
export async function writeFileAtomic(file: string, data: string, mode = FILE_MODE): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}-${randomUUID().slice(0, 8)}`;
  const fh = await open(tmp, 'w', mode);
  try {
    await fh.writeFile(data, 'utf8');
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  const dir = await open(dirname(file), 'r');
  try {
    await dir.sync();
  } catch {
    // Some filesystems refuse fsync on directories; the rename is still atomic.
  } finally {
    await dir.close();
  }
}

export class StateDir {
  readonly credentialFile: string;
  readonly stepsDir: string;
  readonly outboxDir: string;

  private constructor(
    readonly dir: string,
    private readonly log: AgentLog,
  ) {
    this.credentialFile = join(dir, 'credential.json');
    this.stepsDir = join(dir, 'steps');
    this.outboxDir = join(dir, 'outbox');
  }

  /** Creates the directory tree (0700) and removes temp files a crash left behind. */
  static async open(dir: string, log: AgentLog): Promise<StateDir> {
    const state = new StateDir(dir, log);
    for (const d of [dir, state.stepsDir, state.outboxDir]) {
      await mkdir(d, { recursive: true, mode: 0o700 });
      await chmod(d, 0o700);
    }
    for (const d of [dir, state.stepsDir, state.outboxDir]) {
      for (const name of await readdir(d)) {
        if (name.includes('.tmp-')) await rm(join(d, name), { force: true });
      }
    }
    return state;
  }

  async readCredential(): Promise<Credential | null> {
    return this.readJson(this.credentialFile, credentialSchema);
  }

  async writeCredential(credential: Credential): Promise<void> {
    await writeFileAtomic(this.credentialFile, JSON.stringify(credential, null, 2) + '\n');
    await chmod(this.credentialFile, FILE_MODE);
  }

  /**
   * The rollout's journal, or null if the agent never did anything for it. An unreadable journal
   * is moved aside and replaced by one whose `unknown` says so: forgetting it would let the agent
   * apply the change a second time.
   */
  async readJournal(rolloutId: string): Promise<StepJournal | null> {
    assertSafeName('rollout id', rolloutId);
    const file = join(this.stepsDir, `${rolloutId}.json`);
    let corruptAt: string | null = null;
    const journal = await this.readJson(file, journalSchema, (movedTo) => {
      corruptAt = movedTo;
    });
    if (journal) return journal as StepJournal;
    if (corruptAt === null) return null;
    const replacement: StepJournal = {
      rolloutId,
      apply: null,
      rollback: null,
      baseline: null,
      unknown: `the step journal was unreadable (moved aside to ${corruptAt}); host state unknown`,
    };
    await this.writeJournal(replacement);
    return replacement;
  }

  /** Journals written since `sinceMs` (file mtime), e.g. the recent steps' package windows. */
  async listJournals(sinceMs: number): Promise<StepJournal[]> {
    const out: StepJournal[] = [];
    for (const name of await readdir(this.stepsDir)) {
      if (!name.endsWith('.json') || name.includes('.tmp-')) continue;
      const st = await stat(join(this.stepsDir, name)).catch(() => null);
      if (st === null || st.mtimeMs < sinceMs) continue;
      const id = name.slice(0, -'.json'.length);
      if (!SAFE_NAME.test(id)) continue;
      const journal = await this.readJournal(id).catch(() => null);
      if (journal) out.push(journal);
    }
    return out;
  }

  async writeJournal(journal: StepJournal): Promise<void> {
    assertSafeName('rollout id', journal.rolloutId);
    await writeFileAtomic(join(this.stepsDir, `${journal.rolloutId}.json`), JSON.stringify(journal, null, 2) + '\n');
  }

  /** Queues a report for delivery; the same id overwrites (a re-queue is harmless). */
  async putReport(report: AgentReport): Promise<void> {
    assertSafeName('report id', report.id);
    await writeFileAtomic(join(this.outboxDir, `${report.id}.json`), JSON.stringify(report) + '\n');
  }

  /** Reports not acknowledged yet, oldest first. */
  async listReports(): Promise<AgentReport[]> {
    const names = (await readdir(this.outboxDir)).filter((n) => n.endsWith('.json'));
    const reports: AgentReport[] = [];
    for (const name of names) {
      const report = await this.readJson(join(this.outboxDir, name), reportSchema);
      if (report) reports.push(report);
    }
    return reports.sort((a, b) => a.at - b.at || a.id.localeCompare(b.id));
  }

  async deleteReport(id: string): Promise<void> {
    assertSafeName('report id', id);
    await rm(join(this.outboxDir, `${id}.json`), { force: true });
  }

  /** Moves a report the server refuses for good out of the outbox, so it stops blocking the rest. */
  async rejectReport(id: string): Promise<string> {
    assertSafeName('report id', id);
    const dir = join(this.dir, 'rejected');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const to = join(dir, `${id}.json`);
    await rename(join(this.outboxDir, `${id}.json`), to);
    return to;
  }

  /** Parses a JSON file with `schema`; missing -> null; corrupt -> moved aside, logged, null. */
  private async readJson<T>(file: string, schema: z.ZodMiniType<T>, onCorrupt?: (movedTo: string) => void): Promise<T | null> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    let problem: string;
    try {
      const parsed = schema.safeParse(JSON.parse(text));
      if (parsed.success) return parsed.data;
      problem = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    } catch (err) {
      problem = err instanceof Error ? err.message : String(err);
    }
    const movedTo = `${file}.corrupt-${Date.now()}`;
    await rename(file, movedTo).catch(() => rm(file, { force: true }));
    this.log.error('corrupt state file moved aside', { file, movedTo, problem });
    onCorrupt?.(movedTo);
    return null;
  }
}

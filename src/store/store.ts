// The store: one schema, one set of SQL queries (PostgreSQL's dialect), two drivers: PGlite in a
// data directory (embedded default) and PostgreSQL (`--database-url`). Everything above this file
// talks to `Store`; only ./sql-store.ts holds SQL, and ./pglite.ts / ./postgres.ts only move bytes.
import type { Plan, HostInfo, Instant, Labels, RolloutRecord, StepRecord, WaveRecord, ChangeKind } from '../core/types.ts';
import type { RolloutEffect } from '../core/rollout/types.ts';

/** The one-method database port both drivers implement (pg-boss's IDatabase idea). */
export interface Sql {
  query<T = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<T[]>;
  /** Runs `fn` in one transaction on one connection; rolls back if it throws. */
  transaction<T>(fn: (tx: SqlTx) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
export interface SqlTx {
  query<T = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<T[]>;
}

export interface HostRow {
  readonly name: string;
  readonly labels: Labels;
  /** Whatever the agent last reported (OS, kernel, packages, ...): JSON object. */
  readonly facts: Record<string, unknown>;
  readonly enrolledAt: Instant;
  readonly lastSeen: Instant;
}

/** One line of a rollout's event log. `seq` increases strictly within the whole store. */
export interface EventRow {
  readonly seq: number;
  readonly rolloutId: string;
  readonly at: Instant;
  readonly kind: string;
  readonly message: string;
  readonly host: string | null;
  readonly wave: string | null;
  readonly data: Record<string, unknown> | null;
}

/** A stored rollout: its plan and the rows the engine state is rebuilt from. */
export interface StoredRollout {
  readonly plan: Plan;
  readonly planSource: string;
  readonly rollout: RolloutRecord;
  readonly waves: readonly WaveRecord[];
  readonly steps: readonly StepRecord[];
}

/** Work for one host: steps in applying / verifying / rolling_back, with what the agent needs. */
export interface HostAssignment {
  readonly rolloutId: string;
  readonly rolloutName: string;
  readonly attempt: number;
  readonly action: 'apply' | 'verify' | 'rollback';
  readonly plan: Plan;
}

/** An event for the log, written in the same transaction as the effects it caused. */
export interface LogInput {
  readonly kind: string;
  readonly message: string;
  readonly host?: string;
  readonly wave?: string;
  readonly data?: Record<string, unknown>;
}

export interface TransitionWrite {
  readonly rolloutId: string;
  readonly at: Instant;
  /** The input event, logged first (null for silent events like ticks that changed nothing). */
  readonly event: LogInput | null;
  /** Effects of the engine transition: rollout/wave/step rows are upserted, logs appended. */
  readonly effects: readonly RolloutEffect[];
  /**
   * Agent report id: if already recorded, nothing is written and persistTransition returns false
   * (the report was processed before a crash or a retry); otherwise it is recorded in the same
   * transaction.
   */
  readonly reportId?: string;
}

export interface Store {
  readonly kind: 'pglite' | 'postgres';
  /** Applies pending migrations; safe when several processes call it at once. */
  migrate(): Promise<void>;
  close(): Promise<void>;

  // ---- hosts ----
  /** Creates the host or, if the name exists, replaces its labels and credential (re-enrollment). */
  enrollHost(host: HostInfo & { facts: Record<string, unknown>; credentialHash: string; now: Instant }): Promise<HostRow>;
  hostByCredentialHash(hash: string): Promise<HostRow | null>;
  /** Updates last_seen, and labels/facts when given. */
  recordHeartbeat(name: string, update: { now: Instant; labels?: Labels; facts?: Record<string, unknown> }): Promise<void>;
  listHosts(): Promise<HostRow[]>;

  // ---- rollouts ----
  createRollout(rollout: RolloutRecord, plan: Plan, planSource: string, event: LogInput): Promise<void>;
  /** Writes one engine transition atomically. Returns false if reportId was already recorded. */
  persistTransition(write: TransitionWrite): Promise<boolean>;
  /** Whether an agent report id has been recorded (processed) already. */
  hasReport(reportId: string): Promise<boolean>;
  loadRollout(id: string): Promise<StoredRollout | null>;
  /** Newest first. */
  listRollouts(limit?: number): Promise<RolloutRecord[]>;
  /** Ids of rollouts not in a final state (pending, running, paused, rolling_back), oldest first. */
  activeRolloutIds(): Promise<string[]>;
  /** Events with seq > afterSeq, oldest first. */
  listEvents(rolloutId: string, afterSeq?: number, limit?: number): Promise<EventRow[]>;
  /** Steps of this host that need the agent (applying, verifying, rolling_back), any rollout. */
  assignmentsForHost(host: string): Promise<HostAssignment[]>;
  /** Counts for /metrics. */
  rolloutCountsByState(): Promise<Record<string, number>>;
}

export type { ChangeKind };

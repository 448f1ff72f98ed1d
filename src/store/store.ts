// The store: one schema, one set of SQL queries (PostgreSQL's dialect), two drivers: PGlite in a
// data directory (embedded default) and PostgreSQL (`--database-url`). Everything above this file
// talks to `Store`; only ./sql-store.ts holds SQL, and ./pglite.ts / ./postgres.ts only move bytes.
import type { Plan, HostInfo, Instant, Labels, RolloutRecord, StepRecord, WaveRecord, ChangeKind } from '../core/types.ts';
import type { RolloutEffect } from '../core/rollout/types.ts';
import type { LeaseFence } from './leader-lease.ts';

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
  /** The host that sent the report: report ids are unique per host, not across the fleet. */
  readonly reportHost?: string;
  /**
   * Replicas: the leader's lease, checked in the same transaction before anything is written
   * (FencedError if it is not the live lease). Absent on PGlite (one process, always leader).
   */
  readonly fence?: LeaseFence;
}

/** A drift event as an agent reports it (POST /v1/agent/drift). */
export interface DriftEventInput {
  /** Chosen by the agent; unique per host, so a re-sent event is ignored. */
  readonly id: string;
  readonly kind: string;
  readonly subject: string;
  readonly message: string;
  /** When the agent saw it (agent clock). */
  readonly at: Instant;
  /** true: a condition that holds until resolved; false: a one-off (an action), stored closed. */
  readonly open: boolean;
  readonly data: Record<string, unknown> | null;
}

/** A condition that no longer holds: closes the host's open events of that kind and subject seen up to `at`. */
export interface DriftResolution {
  readonly kind: string;
  readonly subject: string;
  readonly at: Instant;
}

export interface DriftEventRow {
  readonly host: string;
  readonly id: string;
  readonly kind: string;
  readonly subject: string;
  readonly message: string;
  readonly at: Instant;
  readonly receivedAt: Instant;
  /** null while the drift is open. */
  readonly resolvedAt: Instant | null;
  readonly data: Record<string, unknown> | null;
}

export interface DriftFilter {
  readonly host?: string;
  /** Only events still open. */
  readonly open?: boolean;
  /** Default 500. */
  readonly limit?: number;
}

/** Which hosts a list or summary covers. Every given condition must hold. */
export interface HostFilter {
  /** Every label must have this value. */
  readonly labels?: Labels;
  /** online: heard from at or after `onlineSince`; offline: before it. */
  readonly status?: 'online' | 'offline';
  /** Required with `status`. */
  readonly onlineSince?: Instant;
}

export interface HostPageQuery extends HostFilter {
  /** Keyset: hosts whose name sorts after this one. */
  readonly afterName?: string;
  readonly limit: number;
  /** false: facts reduced to `allow`, as listHosts({withFacts: false}). Default true. */
  readonly withFacts?: boolean;
}

export interface HostCounts {
  readonly online: number;
  readonly offline: number;
}

export interface HostSummaryRow extends HostCounts {
  /** The label's value; null for hosts without the label. */
  readonly value: string | null;
}

/** Hosts sharing one combination of topology label values (null: the host has no such label). */
export interface TopologyCellRow {
  readonly values: readonly (string | null)[];
  readonly total: number;
  readonly online: number;
  /** Hosts with a step in a rollout that is not finished. */
  readonly inRollout: number;
  /** Hosts whose step in an unfinished rollout is failed or silent. */
  readonly failing: number;
  /** Hosts with open drift. */
  readonly drifting: number;
}

/** One host's step in one rollout (the host page: its steps across rollouts). */
export interface HostStepRow {
  readonly rolloutId: string;
  readonly rolloutName: string;
  readonly rolloutState: string;
  readonly waveIndex: number;
  /** The wave's name (null if its row is gone). */
  readonly wave: string | null;
  readonly state: StepRecord['state'];
  readonly attempt: number;
  readonly message: string | null;
  readonly updatedAt: Instant;
}

/** A rollout without its steps: what a view of a large rollout needs besides counts. */
export interface RolloutHeader {
  readonly plan: Plan;
  readonly rollout: RolloutRecord;
  readonly waves: readonly WaveRecord[];
}

export interface StepCountRow {
  readonly waveIndex: number;
  readonly state: StepRecord['state'];
  readonly count: number;
  /** Of these, steps whose rollback failed or was not confirmed (failed/silent at their rollback attempt). */
  readonly unconfirmedRollbacks: number;
}

export interface StepPageQuery {
  /** Only steps in one of these states. */
  readonly states?: readonly StepRecord['state'][];
  readonly waveIndex?: number;
  /** Keyset: steps after this (wave, host) in (wave index, host name) order. */
  readonly after?: { readonly waveIndex: number; readonly host: string };
  readonly limit: number;
}

export interface PurgeResult {
  readonly events: number;
  readonly reports: number;
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
  /** The hosts of many credential hashes in one statement, by hash (unknown hashes are left out). */
  hostsByCredentialHashes(hashes: readonly string[]): Promise<Map<string, HostRow>>;
  /** Updates last_seen, and labels/facts when given. */
  recordHeartbeat(name: string, update: { now: Instant; labels?: Labels; facts?: Record<string, unknown> }): Promise<void>;
  /**
   * Moves last_seen forward for many hosts in one statement (the server's batched liveness
   * flush); never backwards, and names that are not enrolled are skipped. Returns rows updated.
   */
  recordLastSeen(names: readonly string[], times: readonly Instant[]): Promise<number>;
  /**
   * Every host, by name. `withFacts: false` leaves facts out but `allow` (what the agent allows,
   * for eligibility): facts carry package lists and routing tables, which the engine does not need.
   */
  listHosts(options?: { withFacts?: boolean }): Promise<HostRow[]>;
  /** One page of hosts by name (keyset after `afterName`), filtered. */
  listHostsPage(query: HostPageQuery): Promise<HostRow[]>;
  /** Online/offline counts of the hosts the filter covers (its `status` is ignored). */
  countHosts(filter: Omit<HostFilter, 'status'> & { onlineSince: Instant }): Promise<HostCounts>;
  /** The same counts per value of one label key, largest groups first, at most `maxValues` of them. */
  countHostsByLabel(key: string, filter: Omit<HostFilter, 'status'> & { onlineSince: Instant }, maxValues: number): Promise<HostSummaryRow[]>;
  /** Counts per combination of the values of `keys` (topology levels), in value order, at most `maxCells` combinations. */
  countHostsByTopology(keys: readonly string[], filter: Omit<HostFilter, 'status'> & { onlineSince: Instant }, maxCells: number): Promise<TopologyCellRow[]>;
  /** One host by name (null: not enrolled). */
  hostByName(name: string): Promise<HostRow | null>;
  /** A host's steps across rollouts, newest first. */
  stepsOfHost(host: string, limit: number): Promise<HostStepRow[]>;

  // ---- rollouts ----
  /** `fence`: as in TransitionWrite, checked in the same transaction. */
  createRollout(rollout: RolloutRecord, plan: Plan, planSource: string, event: LogInput, fence?: LeaseFence): Promise<void>;
  /** Writes one engine transition atomically. Returns false if reportId was already recorded. */
  persistTransition(write: TransitionWrite): Promise<boolean>;
  /** Whether this host's report id has been recorded (processed) already. */
  hasReport(host: string, reportId: string): Promise<boolean>;
  /** Whether the host has a step in the rollout (only such hosts may report to it). */
  hostInRollout(rolloutId: string, host: string): Promise<boolean>;
  loadRollout(id: string): Promise<StoredRollout | null>;
  /** Plan, rollout row and waves, without steps (a large rollout has one per host). */
  loadRolloutHeader(id: string): Promise<RolloutHeader | null>;
  /** Step counts of a rollout by wave and state. */
  countSteps(rolloutId: string): Promise<StepCountRow[]>;
  /** One page of a rollout's steps in (wave index, host) order, filtered. */
  listStepsPage(rolloutId: string, query: StepPageQuery): Promise<StepRecord[]>;
  /**
   * Retention: deletes up to `batch` events and up to `batch` report records of rollouts in a
   * final state whose last transition is older than `finishedBefore`. Never touches an active
   * rollout. Call again until it returns zeros.
   */
  purgeFinished(finishedBefore: Instant, batch: number): Promise<PurgeResult>;
  /** The rollout row alone (no plan, waves or steps): cheap, for existence and state checks. */
  getRollout(id: string): Promise<RolloutRecord | null>;
  /** Newest first. */
  listRollouts(limit?: number): Promise<RolloutRecord[]>;
  /** Rollouts whose id starts with `prefix`, newest first (for `rollout status r_01h`; see server/rollout-ref.ts). */
  rolloutsByIdPrefix(prefix: string, limit: number): Promise<RolloutRecord[]>;
  /** Ids of rollouts not in a final state (pending, queued, running, paused, rolling_back), oldest first. */
  activeRolloutIds(): Promise<string[]>;
  /** Hosts whose rollback went silent in a finished rollout (assigned again when heard from). */
  silentRollbacks(): Promise<Array<{ rolloutId: string; host: string }>>;
  /** Events with seq > afterSeq, oldest first. */
  listEvents(rolloutId: string, afterSeq?: number, limit?: number): Promise<EventRow[]>;
  /** Steps of this host that need the agent (applying, verifying, rolling_back), any rollout. */
  assignmentsForHost(host: string): Promise<HostAssignment[]>;
  /** assignmentsForHost for many hosts in one statement; hosts without work are left out. */
  assignmentsForHosts(hosts: readonly string[]): Promise<Map<string, HostAssignment[]>>;
  /** Counts for /metrics. */
  rolloutCountsByState(): Promise<Record<string, number>>;
  /** Hosts that reverted a change by themselves (commit-confirmed), over all rollouts. */
  revertedHostsTotal(): Promise<number>;

  // ---- drift (issue 3) ----
  /**
   * Records a host's drift report in one transaction: new events first (ids already recorded for
   * this host are ignored), then resolutions. Returns how many events were new.
   */
  recordDrift(host: string, report: { events: readonly DriftEventInput[]; resolved: readonly DriftResolution[] }, now: Instant): Promise<number>;
  /** Newest first (by arrival, then agent time). */
  listDrift(filter?: DriftFilter): Promise<DriftEventRow[]>;
}

export type { ChangeKind };

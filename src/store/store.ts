// The store: one schema, one set of SQL queries (PostgreSQL's dialect), two drivers: PGlite in a
// data directory (embedded default) and PostgreSQL (`--database-url`). Everything above this file
// talks to `Store`; only ./sql-store.ts holds SQL, and ./pglite.ts / ./postgres.ts only move bytes.
import type { Plan, HostInfo, Instant, Labels, RolloutRecord, StepRecord, WaveRecord, ChangeKind } from '../core/types.ts';
import type { RolloutEffect } from '../core/rollout/types.ts';
import type { LeaseFence } from './leader-lease.ts';
import { ConflictError, SluiceError } from '../core/errors.ts';

/** Re-enrolling a host name without its current credential. */
export class HostNameTakenError extends ConflictError {
  constructor(readonly host: string) {
    super(
      `host ${host} is already enrolled with another credential; the agent must present its current credential, ` +
        `or an admin resets the host first (sluice hosts reset ${host}, or POST /v1/hosts/${host}/reset)`,
    );
    this.name = 'HostNameTakenError';
  }
}

/** A scoped enrollment token that is used up, expired or revoked (checked when its use is taken). */
export class EnrollTokenRefusedError extends SluiceError {
  constructor() {
    super('unauthenticated', 'the enrollment token is used up, expired or revoked');
    this.name = 'EnrollTokenRefusedError';
  }
}

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
  /** Labels this host may claim (from the scoped enrollment token it enrolled with); absent: any. */
  readonly labelConstraints?: LabelConstraints;
  /** Set by the credential lookups: the presented credential is the one before a rotation, valid until this instant. */
  readonly previousValidUntil?: Instant;
  /** Set by the credential lookups: a rotation's previous credential is still valid (the new one was not used yet). */
  readonly rotationPending?: true;
}

/** Per label key, the values a host may carry: `{region: ['eu-west-1']}`. Every key is required. */
export type LabelConstraints = Readonly<Record<string, readonly string[]>>;

/** A scoped enrollment token as stored (the secret itself is never stored, only its hash). */
export interface EnrollTokenRow {
  readonly id: string;
  readonly name: string;
  readonly expiresAt: Instant | null;
  readonly maxUses: number | null;
  readonly uses: number;
  readonly labels: LabelConstraints;
  readonly createdBy: string;
  readonly createdAt: Instant;
  readonly revokedAt: Instant | null;
}

export interface EnrollHostInput extends HostInfo {
  readonly facts: Record<string, unknown>;
  readonly credentialHash: string;
  readonly now: Instant;
  /**
   * The hash of the credential the caller presented as the host's current one. An existing
   * name is re-enrolled only when it matches (or the name was reset): otherwise
   * HostNameTakenError, and nothing changes.
   */
  readonly presentedHash?: string | null;
  /**
   * A scoped enrollment token: one use is taken in the same transaction (refused, with nothing
   * written, when it is used up, expired or revoked: EnrollTokenRefusedError).
   */
  readonly enrollTokenId?: string | null;
  readonly labelConstraints?: LabelConstraints | null;
}

export interface RotateInput {
  readonly name: string;
  /** The credential the rotation was asked with: the current one, or the previous one within its grace. */
  readonly presentedHash: string;
  readonly newHash: string;
  /** Until when the credential being replaced stays valid. */
  readonly graceUntil: Instant;
  readonly now: Instant;
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
  /** An operator's request that caused this transition: audited in the same transaction. */
  readonly audit?: AuditInput;
  /** Webhook deliveries the transition caused: written to the outbox in the same transaction. */
  readonly notifications?: readonly NotificationInput[];
}

// ---- notifications: the webhook outbox (issue 12) ----

export type NotificationState = 'pending' | 'delivered' | 'failed';

/** One delivery of one event to one endpoint, as written to the outbox. */
export interface NotificationInput {
  /** The delivery id (X-Sluice-Delivery, `id` in the body): stable across retries. */
  readonly id: string;
  /** The URL: deliveries to one endpoint go out in the order they were written. */
  readonly endpoint: string;
  readonly format: 'json' | 'slack';
  /** Where the HMAC secret comes from: `env:NAME` (the plan's secretEnv), `server` (--notify-secret-file), null: unsigned. */
  readonly secretRef: string | null;
  readonly event: string;
  readonly rolloutId: string | null;
  /** The exact bytes POSTed (and signed). */
  readonly body: string;
  readonly createdAt: Instant;
}

export interface NotificationRow extends NotificationInput {
  readonly seq: number;
  readonly state: NotificationState;
  readonly attempts: number;
  readonly nextAttemptAt: Instant;
  readonly lastError: string | null;
  readonly lastStatus: number | null;
  readonly deliveredAt: Instant | null;
}

export interface NotificationUpdate {
  readonly state: NotificationState;
  readonly attempts: number;
  readonly nextAttemptAt: Instant;
  readonly lastError: string | null;
  readonly lastStatus: number | null;
  readonly deliveredAt: Instant | null;
}

// ---- access control: named tokens and the audit log ----

export type TokenRole = 'viewer' | 'operator' | 'approver' | 'remediator' | 'admin';

/** A named API token as stored: never the secret, only its SHA-256 (not returned by reads). */
export interface ApiTokenRow {
  readonly id: string;
  readonly name: string;
  readonly owner: string;
  readonly role: TokenRole;
  readonly createdAt: Instant;
  /** The principal that created it. */
  readonly createdBy: string;
  readonly expiresAt: Instant | null;
  readonly revokedAt: Instant | null;
  readonly lastUsedAt: Instant | null;
}

export interface NewApiToken {
  readonly id: string;
  readonly name: string;
  readonly owner: string;
  readonly role: TokenRole;
  readonly secretHash: string;
  readonly createdAt: Instant;
  readonly createdBy: string;
  readonly expiresAt: Instant | null;
}

export type AuditResult = 'ok' | 'denied' | 'failed';

/** One audit log entry to append. */
export interface AuditInput {
  readonly at: Instant;
  /** The principal's name (`admin` for the bootstrap token), `host:NAME`, or `anonymous`. */
  readonly actor: string;
  readonly role: string | null;
  readonly tokenId: string | null;
  /** What was asked, e.g. `rollout.start`, `rollout.approve`, `token.create`, or `METHOD /route`. */
  readonly action: string;
  /** What it was asked of: a rollout id, a token name, a path. */
  readonly target: string | null;
  readonly sourceIp: string | null;
  readonly result: AuditResult;
  readonly detail: Record<string, unknown> | null;
}

/**
 * An audit entry handed down with a change: the writer builds it with the target it knows (a new
 * rollout's id) and sets `written` once its transaction committed.
 */
export interface AuditIntent {
  readonly entry: (target?: string) => AuditInput;
  written: boolean;
}

export interface AuditRow extends AuditInput {
  readonly id: number;
}

export interface AuditQuery {
  readonly actor?: string;
  /** Exact action, or a prefix ending in `.` / `*` (`rollout.*`). */
  readonly action?: string;
  readonly target?: string;
  readonly result?: AuditResult;
  /** at >= since */
  readonly since?: Instant;
  /** at < until */
  readonly until?: Instant;
  /** Keyset: entries with id > afterId (oldest first). */
  readonly afterId?: number;
  readonly limit: number;
}

/** Who started a rollout: the principal's name and the token's owner. */
export interface RolloutStarter {
  readonly name: string;
  readonly owner: string | null;
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
/** Facts a lean host row can keep besides `allow` (a fixed list: they become SQL). */
export type LeanFactKey = 'driftGuard' | 'pendingUpdates' | 'packages';

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
  /**
   * Creates the host or, if the name exists, replaces its labels and credential (re-enrollment),
   * but only when `presentedHash` is the host's credential or the name was reset; otherwise
   * HostNameTakenError (409) and nothing is written.
   */
  enrollHost(host: EnrollHostInput): Promise<HostRow>;
  /** The host whose current credential (or previous one, within its grace at `now`) has this hash. */
  hostByCredentialHash(hash: string, now?: Instant): Promise<HostRow | null>;
  /** The hosts of many credential hashes in one statement, by hash (unknown hashes are left out). */
  hostsByCredentialHashes(hashes: readonly string[], now?: Instant): Promise<Map<string, HostRow>>;
  /** Clears the host's credentials (admin reset): the next enrollment of the name is accepted. false: no such host. */
  resetHostCredential(name: string, now: Instant): Promise<boolean>;
  /** Replaces the credential, keeping the one replaced valid until graceUntil. false: the presented credential is not valid. */
  rotateHostCredential(rotation: RotateInput): Promise<boolean>;
  /** The new credential was used: the one it replaced is refused from now on. */
  confirmHostCredential(name: string, hash: string): Promise<void>;

  // ---- scoped enrollment tokens ----
  createEnrollToken(token: Omit<EnrollTokenRow, 'uses' | 'revokedAt'> & { hash: string }): Promise<EnrollTokenRow>;
  listEnrollTokens(): Promise<EnrollTokenRow[]>;
  /** The token with this hash if it can still be used at `now` (not revoked, expired or used up). */
  usableEnrollToken(hash: string, now: Instant): Promise<EnrollTokenRow | null>;
  /** false: no such token (revoking twice is fine). */
  revokeEnrollToken(idOrName: string, now: Instant): Promise<EnrollTokenRow | null>;
  /** Updates last_seen, and labels/facts when given. */
  recordHeartbeat(name: string, update: { now: Instant; labels?: Labels; facts?: Record<string, unknown> }): Promise<void>;
  /**
   * Moves last_seen forward for many hosts in one statement (the server's batched liveness
   * flush); never backwards, and names that are not enrolled are skipped. Returns rows updated.
   */
  recordLastSeen(names: readonly string[], times: readonly Instant[]): Promise<number>;
  /**
   * Every host, by name. `withFacts: false` leaves facts out but `allow` (what the agent allows,
   * for eligibility) and the `factKeys` asked for: facts carry package lists and routing tables,
   * which at 100,000 hosts are gigabytes nobody reading a summary needs. `packageNames` narrows
   * a lean `packages` fact to those packages (by name, with or without an `:arch` suffix).
   */
  listHosts(options?: { withFacts?: boolean; factKeys?: readonly LeanFactKey[]; packageNames?: readonly string[] }): Promise<HostRow[]>;
  /** One page of hosts by name (keyset after `afterName`), filtered. */
  listHostsPage(query: HostPageQuery): Promise<HostRow[]>;
  /** Online/offline counts of the hosts the filter covers (its `status` is ignored). */
  countHosts(filter: Omit<HostFilter, 'status'> & { onlineSince: Instant }): Promise<HostCounts>;
  /** The same counts per value of one label key, largest groups first, at most `maxValues` of them. */
  countHostsByLabel(key: string, filter: Omit<HostFilter, 'status'> & { onlineSince: Instant }, maxValues: number): Promise<HostSummaryRow[]>;
  /** Counts per combination of the values of `keys` (topology levels), in value order, at most `maxCells` combinations. */
  countHostsByTopology(keys: readonly string[], filter: Omit<HostFilter, 'status'> & { onlineSince: Instant }, maxCells: number): Promise<TopologyCellRow[]>;
  /** A host's steps across rollouts, newest first. */
  stepsOfHost(host: string, limit: number): Promise<HostStepRow[]>;

  // ---- rollouts ----
  /** `fence`: as in TransitionWrite, checked in the same transaction. */
  createRollout(
    rollout: RolloutRecord,
    plan: Plan,
    planSource: string,
    event: LogInput,
    fence?: LeaseFence,
    extra?: { readonly startedBy?: RolloutStarter; readonly audit?: AuditInput },
  ): Promise<void>;
  /** Who started the rollout (null: unknown, a rollout from before migration 0007; undefined: no such rollout). */
  rolloutStarter(id: string): Promise<RolloutStarter | null | undefined>;
  /** The rollout's `wave.approved` events (who approved which wave), oldest first; a partial index serves it. */
  listApprovals(rolloutId: string, limit: number): Promise<EventRow[]>;
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

  // ---- access control ----
  /** Creates a named token (ConflictError if the name is taken), with its audit entry in the same transaction. */
  createApiToken(token: NewApiToken, audit?: AuditInput): Promise<ApiTokenRow>;
  /** The token whose secret hashes to `hash`, revoked and expired ones included (the caller decides). */
  apiTokenByHash(hash: string): Promise<ApiTokenRow | null>;
  /** Every token by name, revoked ones included. */
  listApiTokens(): Promise<ApiTokenRow[]>;
  /**
   * Revokes a token by name at `at`, with its audit entry in the same transaction. Null: no such
   * token. Revoking a revoked token keeps the first revocation time.
   */
  revokeApiToken(name: string, at: Instant, audit?: AuditInput): Promise<ApiTokenRow | null>;
  /** Moves last_used_at forward (never back). */
  touchApiToken(id: string, at: Instant): Promise<void>;
  appendAudit(entry: AuditInput): Promise<void>;

  // ---- fleet-wide freeze (migration 0011) ----
  /** The freeze in force at `now` (not ended, not past its `until`), or null. */
  activeFreeze(now: Instant): Promise<FreezeRow | null>;
  /** Starts a freeze, with its audit entry in the same transaction; ConflictError when one is in force. */
  startFreeze(freeze: NewFreeze, audit?: AuditInput): Promise<FreezeRow>;
  /** Ends the freeze in force, with its audit entry; null when none is. */
  endFreeze(at: Instant, by: string, audit?: AuditInput): Promise<FreezeRow | null>;
  /** Oldest first, filtered, keyset-paged by id. */
  listAudit(query: AuditQuery): Promise<AuditRow[]>;
  // ---- notifications (issue 12) ----
  /** Writes deliveries to the outbox outside a transition (drift found). */
  enqueueNotifications(rows: readonly NotificationInput[]): Promise<void>;
  /**
   * The deliveries to attempt now: for each endpoint not in `busy`, its oldest pending row, if
   * it is due (next_attempt_at <= now). Later rows of an endpoint wait for the head: in order.
   */
  dueNotifications(now: Instant, limit: number, busy: readonly string[]): Promise<NotificationRow[]>;
  /** Records an attempt's outcome. */
  updateNotification(id: string, update: NotificationUpdate): Promise<void>;
  /** Retention: deletes up to `batch` delivered or failed deliveries written before `before`; returns how many. */
  purgeNotifications(before: Instant, batch: number): Promise<number>;
  /** Recent deliveries, newest first. */
  listNotifications(filter: { state?: NotificationState; rolloutId?: string; limit: number }): Promise<NotificationRow[]>;

  // ---- the remediation guard (issue 13) ----
  hostByName(name: string): Promise<HostRow | null>;
  /**
   * Counts the scopes, lets `decide` answer, and records the request with its answer, in one
   * transaction under one lock: two auto-healers asking at once (on any replica) cannot both take
   * the last place in a budget.
   */
  guardRemediation(
    query: RemediationCountQuery,
    decide: (counts: readonly RemediationScopeCount[]) => RemediationVerdict,
    request: RemediationRequestInput,
  ): Promise<RemediationRow>;
  listRemediations(filter: { host?: string; decision?: 'allow' | 'deny'; since?: Instant; limit: number }): Promise<RemediationRow[]>;
  addRemediationOverride(o: { scope: string; createdAt: Instant; until: Instant; createdBy: string; reason: string }): Promise<RemediationOverrideRow>;
  endRemediationOverride(id: string, now: Instant): Promise<boolean>;
  /** Overrides not ended and not expired at `now`, newest first. */
  activeRemediationOverrides(now: Instant): Promise<RemediationOverrideRow[]>;
}

export interface RemediationCountQuery {
  readonly host: string;
  /** Each scope's label filter; null: every host. */
  readonly scopes: readonly { readonly scope: string; readonly labels: Labels | null }[];
  /** Hosts last seen before this are unhealthy. */
  readonly onlineSince: Instant;
  /** Remediations allowed at or after this count against the budget. */
  readonly remediatedSince: Instant;
}

export interface RemediationScopeCount {
  readonly scope: string;
  readonly size: number;
  /** Offline, or allowed a remediation since `remediatedSince`, or the host asking; each host once. */
  readonly affected: number;
}

export interface RemediationVerdict {
  readonly allow: boolean;
  readonly reason: string;
  readonly scope: string | null;
  readonly affected: number | null;
  readonly limit: number | null;
}

export interface RemediationRequestInput {
  readonly at: Instant;
  readonly host: string;
  readonly action: string;
  readonly requester: string;
  readonly principal: string;
  readonly reasonGiven: string | null;
}

export interface RemediationRow extends RemediationRequestInput, RemediationVerdict {
  readonly id: string;
}

export interface RemediationOverrideRow {
  readonly id: string;
  readonly scope: string;
  readonly createdAt: Instant;
  readonly until: Instant;
  readonly createdBy: string;
  readonly reason: string;
  readonly endedAt: Instant | null;
}

export type { ChangeKind };

export interface NewFreeze {
  readonly reason: string;
  /** Who started it (the token's name). */
  readonly by: string;
  readonly startedAt: Instant;
  /** When it ends by itself; null: until ended. */
  readonly until: Instant | null;
}

export interface FreezeRow extends NewFreeze {
  readonly id: number;
  readonly endedAt: Instant | null;
  readonly endedBy: string | null;
}

// The one implementation of `Store`: every SQL statement Sluice runs lives here, in the dialect
// PGlite and PostgreSQL share. The drivers (./pglite.ts, ./postgres.ts) only move bytes.
import type { Instant, Labels, Plan, RolloutRecord, RolloutStatus, StepRecord, WaveRecord } from '../core/types.ts';
import { FINAL_ROLLOUT_STATES, ROLLOUT_STATES } from '../core/types.ts';
import type { RolloutEffect } from '../core/rollout/types.ts';
import { ConflictError, NotFoundError } from '../core/errors.ts';
import { migrate, pgCode } from './migrate.ts';
import { checkFence } from './leader-lease.ts';
import { EnrollTokenRefusedError, HostNameTakenError } from './store.ts';
import type {
  ApiTokenRow,
  AuditInput,
  AuditRow,
  DriftEventRow,
  EnrollTokenRow,
  LabelConstraints,
  EventRow,
  FreezeRow,
  HostAssignment,
  HostFilter,
  HostRow,
  LeanFactKey,
  LogInput,
  NotificationInput,
  NotificationRow,
  NotificationState,
  RemediationOverrideRow,
  RemediationRow,
  RemediationScopeCount,
  Sql,
  SqlTx,
  StepCountRow,
  Store,
  StoredRollout,
  TransitionWrite,
} from './store.ts';

const UNIQUE_VIOLATION = '23505';
const ACTIVE_STATES: readonly RolloutStatus[] = ['pending', 'queued', 'running', 'paused', 'rolling_back'];
const DEFAULT_LIST_ROLLOUTS = 1000;
const DEFAULT_LIST_EVENTS = 500;
const DEFAULT_LIST_DRIFT = 500;
const FINAL_STATES: readonly RolloutStatus[] = FINAL_ROLLOUT_STATES;
/** facts reduced to what the engine needs (eligibility). */
const LEAN_FACTS = `case when facts ? 'allow' then jsonb_build_object('allow', facts->'allow') else '{}'::jsonb end as facts`;

const LEAN_FACT_KEYS: readonly LeanFactKey[] = ['driftGuard', 'pendingUpdates', 'packages'];

/** `allow` and the asked-for keys of facts, the ones a host has (never SQL from input: a fixed list). */
function leanFacts(keys: readonly LeanFactKey[], packagesParam?: string): string {
  const wanted = LEAN_FACT_KEYS.filter((k) => keys.includes(k));
  if (wanted.length === 0) return LEAN_FACTS;
  const list = ['allow', ...wanted].map((k) => `'${k}'`).join(', ');
  // With packagesParam ($N, a text[] of keys): the packages map keeps only those (looked up, not scanned).
  const value =
    packagesParam === undefined
      ? 'value'
      : `case when key = 'packages' and jsonb_typeof(value) = 'object' then coalesce((select jsonb_object_agg(k, value->k) from unnest(${packagesParam}::text[]) k where value ? k), '{}'::jsonb) else value end`;
  return `coalesce((select jsonb_object_agg(key, ${value}) from jsonb_each(facts) where key in (${list})), '{}'::jsonb) as facts`;
}

/** Debian architectures an older agent may have qualified a package name with (`libssl3:amd64`). */
const ARCHES = ['amd64', 'arm64', 'armel', 'armhf', 'i386', 'loong64', 'mips64el', 'mipsel', 'ppc64el', 'riscv64', 's390x', 'all'];

/** The inventory keys a package may be listed under: bare, or qualified with an architecture. */
function packageKeys(names: readonly string[]): string[] {
  return names.flatMap((n) => [n, ...ARCHES.map((a) => `${n}:${a}`)]);
}

/** SQL conditions for a host filter; parameters are appended to `params`. */
function hostConditions(filter: HostFilter, params: unknown[]): string[] {
  const where: string[] = [];
  if (filter.labels !== undefined && Object.keys(filter.labels).length > 0) {
    params.push(JSON.stringify(filter.labels));
    where.push(`labels @> $${params.length}::jsonb`); // hosts_labels_idx (GIN, jsonb_path_ops)
  }
  if (filter.status !== undefined) {
    if (filter.onlineSince === undefined) throw new Error('a status filter needs onlineSince');
    params.push(filter.onlineSince);
    where.push(filter.status === 'online' ? `last_seen >= $${params.length}` : `last_seen < $${params.length}`);
  }
  return where;
}

type Row = Record<string, unknown>;

export function createSqlStore(sql: Sql, kind: 'pglite' | 'postgres'): Store {
  async function assignmentsFor(hosts: readonly string[]): Promise<Map<string, HostAssignment[]>> {
    const out = new Map<string, HostAssignment[]>();
    if (hosts.length === 0) return out;
    // Which step states need the agent, depending on the rollout's state: work is only handed
    // out while the rollout runs (or is paused: in-flight hosts finish); rollbacks continue
    // after the rollout stopped, so a halted rollout can still be rolled back by an operator.
    const rows = await sql.query<Row>(
      `select s.host, s.rollout_id, r.name as rollout_name, s.attempt, s.state as step_state, r.plan
       from steps s join rollouts r on r.id = s.rollout_id
       where s.host = any($1::text[]) and (
         (s.state in ('applying', 'verifying') and r.state in ('running', 'paused'))
         or (s.state = 'rolling_back' and r.state in ('rolling_back', 'rolled_back', 'halted')))
       order by s.host, r.created_at, r.id`,
      [[...hosts]],
    );
    for (const row of rows) {
      const host = String(row.host);
      let list = out.get(host);
      if (!list) out.set(host, (list = []));
      list.push({
        rolloutId: String(row.rollout_id),
        rolloutName: String(row.rollout_name),
        attempt: num(row.attempt),
        action: row.step_state === 'applying' ? 'apply' : row.step_state === 'verifying' ? 'verify' : 'rollback',
        plan: row.plan as Plan,
      });
    }
    return out;
  }

  /** Current credentials, and previous ones still in their grace (the row says which). */
  async function hostsByHashes(hashes: readonly string[], now: Instant): Promise<Map<string, HostRow>> {
    const out = new Map<string, HostRow>();
    if (hashes.length === 0) return out;
    const rows = await sql.query<Row>(
      `select h.*, h.credential_hash as presented, false as via_previous from hosts h where h.credential_hash = any($1::text[])
       union all
       select h.*, h.previous_credential_hash as presented, true as via_previous from hosts h
       where h.previous_credential_hash = any($1::text[]) and h.previous_valid_until > $2`,
      [[...hashes], now],
    );
    for (const row of rows) {
      const base = hostRow(row);
      const graceUntil = row.previous_valid_until === null || row.previous_valid_until === undefined ? null : num(row.previous_valid_until);
      const pending = graceUntil !== null && graceUntil > now;
      out.set(String(row.presented), {
        ...base,
        ...(row.via_previous === true && graceUntil !== null ? { previousValidUntil: graceUntil } : {}),
        ...(row.via_previous !== true && pending ? { rotationPending: true as const } : {}),
      });
    }
    return out;
  }

  return {
    kind,

    async migrate(): Promise<void> {
      await migrate(sql);
    },

    close: () => sql.close(),

    // ---- hosts ----

    enrollHost(host) {
      return sql
        .transaction(async (tx) => {
          if (host.enrollTokenId) {
            // Checked and counted in one statement: concurrent enrollments never exceed max_uses.
            const used = await tx.query<Row>(
              `update enroll_tokens set uses = uses + 1
               where id = $1 and (max_uses is null or uses < max_uses) and (expires_at is null or expires_at > $2) and revoked_at is null
               returning id`,
              [host.enrollTokenId, host.now],
            );
            if (used.length === 0) throw new EnrollTokenRefusedError();
          }
          // An existing name is replaced only with its current credential (or the previous one in
          // its grace), or after a reset; the row lock makes two racing enrollments of a reset
          // name see each other: the second finds the first's credential and is refused.
          const rows = await tx.query<Row>(
            `insert into hosts (name, labels, facts, credential_hash, enrolled_at, last_seen, enroll_token_id, label_constraints)
             values ($1, $2::jsonb, $3::jsonb, $4, $5, $5, $7, $8::jsonb)
             on conflict (name) do update set
               labels = excluded.labels, facts = excluded.facts,
               credential_hash = excluded.credential_hash, last_seen = excluded.last_seen,
               previous_credential_hash = null, previous_valid_until = null, credential_reset_at = null,
               enroll_token_id = excluded.enroll_token_id, label_constraints = excluded.label_constraints
             where hosts.credential_hash is null or hosts.credential_hash = $6
               or (hosts.previous_credential_hash = $6 and hosts.previous_valid_until > $5)
             returning *`,
            [
              host.name,
              JSON.stringify(host.labels),
              JSON.stringify(host.facts),
              host.credentialHash,
              host.now,
              host.presentedHash ?? null,
              host.enrollTokenId ?? null,
              host.labelConstraints ? JSON.stringify(host.labelConstraints) : null,
            ],
          );
          if (rows.length === 0) throw new HostNameTakenError(host.name);
          return hostRow(first(rows));
        })
        .catch((err: unknown) => {
          if (pgCode(err) === UNIQUE_VIOLATION) throw new ConflictError(`another host already uses this credential`);
          throw err;
        });
    },

    async hostByCredentialHash(hash, now = Date.now()) {
      const found = await hostsByHashes([hash], now);
      return found.get(hash) ?? null;
    },

    hostsByCredentialHashes(hashes, now = Date.now()) {
      return hostsByHashes(hashes, now);
    },

    async resetHostCredential(name, now) {
      const rows = await sql.query<Row>(
        `update hosts set credential_hash = null, previous_credential_hash = null, previous_valid_until = null, credential_reset_at = $2
         where name = $1 returning name`,
        [name, now],
      );
      return rows.length > 0;
    },

    async rotateHostCredential(r) {
      // From the current credential: it becomes the previous one, valid until graceUntil. From
      // the previous one (in its grace: the answer of an earlier rotation was lost): the
      // unused new one is replaced, the previous one keeps its deadline.
      try {
        const rows = await sql.query<Row>(
          `update hosts set
             previous_credential_hash = case when credential_hash = $2 then credential_hash else previous_credential_hash end,
             previous_valid_until = case when credential_hash = $2 then $4 else previous_valid_until end,
             credential_hash = $3
           where name = $1 and (credential_hash = $2 or (previous_credential_hash = $2 and previous_valid_until > $5))
           returning name`,
          [r.name, r.presentedHash, r.newHash, r.graceUntil, r.now],
        );
        return rows.length > 0;
      } catch (err) {
        if (pgCode(err) === UNIQUE_VIOLATION) throw new ConflictError(`another host already uses this credential`);
        throw err;
      }
    },

    async confirmHostCredential(name, hash) {
      await sql.query(
        `update hosts set previous_credential_hash = null, previous_valid_until = null
         where name = $1 and credential_hash = $2 and previous_credential_hash is not null`,
        [name, hash],
      );
    },

    // ---- scoped enrollment tokens ----

    async createEnrollToken(t) {
      try {
        const rows = await sql.query<Row>(
          `insert into enroll_tokens (id, name, hash, expires_at, max_uses, labels, created_by, created_at)
           values ($1, $2, $3, $4, $5, $6::jsonb, $7, $8) returning *`,
          [t.id, t.name, t.hash, t.expiresAt, t.maxUses, JSON.stringify(t.labels), t.createdBy, t.createdAt],
        );
        return enrollTokenRow(first(rows));
      } catch (err) {
        if (pgCode(err) === UNIQUE_VIOLATION) throw new ConflictError(`an enrollment token named ${t.name} already exists`);
        throw err;
      }
    },

    async listEnrollTokens() {
      const rows = await sql.query<Row>('select * from enroll_tokens order by created_at, id');
      return rows.map(enrollTokenRow);
    },

    async usableEnrollToken(hash, now) {
      const rows = await sql.query<Row>(
        `select * from enroll_tokens where hash = $1 and revoked_at is null
           and (expires_at is null or expires_at > $2) and (max_uses is null or uses < max_uses)`,
        [hash, now],
      );
      return rows[0] ? enrollTokenRow(rows[0]) : null;
    },

    async revokeEnrollToken(idOrName, now) {
      const rows = await sql.query<Row>(
        `update enroll_tokens set revoked_at = coalesce(revoked_at, $2) where id = $1 or name = $1 returning *`,
        [idOrName, now],
      );
      return rows[0] ? enrollTokenRow(rows[0]) : null;
    },

    async recordHeartbeat(name, update) {
      const rows = await sql.query<Row>(
        `update hosts set last_seen = greatest(last_seen, $2),
           labels = coalesce($3::jsonb, labels), facts = coalesce($4::jsonb, facts)
         where name = $1 returning name`,
        [name, update.now, jsonOrNull(update.labels), jsonOrNull(update.facts)],
      );
      if (rows.length === 0) throw new NotFoundError(`host ${name} is not enrolled`);
    },

    async recordLastSeen(names, times) {
      if (names.length === 0) return 0;
      // One statement for the whole batch, sorted by name so that concurrent flushes (replicas)
      // take row locks in the same order.
      const order = names.map((_, i) => i).sort((a, b) => (names[a]! < names[b]! ? -1 : names[a]! > names[b]! ? 1 : 0));
      const rows = await sql.query<Row>(
        `with v as (select * from unnest($1::text[], $2::bigint[]) as v(name, t) order by name),
           u as (update hosts h set last_seen = v.t from v where h.name = v.name and h.last_seen < v.t returning 1)
         select count(*) as n from u`,
        [order.map((i) => names[i]), order.map((i) => times[i])],
      );
      return num(rows[0]?.n ?? 0);
    },

    async listHosts(options = {}) {
      if (options.withFacts !== false) return (await sql.query<Row>('select * from hosts order by name')).map(hostRow);
      const narrow = options.packageNames !== undefined;
      const rows = await sql.query<Row>(
        `select name, labels, ${leanFacts(options.factKeys ?? [], narrow ? '$1' : undefined)}, enrolled_at, last_seen from hosts order by name`,
        narrow ? [packageKeys(options.packageNames!)] : [],
      );
      return rows.map(hostRow);
    },

    async listHostsPage(query) {
      const params: unknown[] = [];
      const where = hostConditions(query, params);
      if (query.afterName !== undefined) {
        params.push(query.afterName);
        where.push(`name > $${params.length}`);
      }
      params.push(query.limit);
      const columns = query.withFacts === false ? `name, labels, ${LEAN_FACTS}, enrolled_at, last_seen` : 'name, labels, facts, enrolled_at, last_seen';
      const rows = await sql.query<Row>(
        `select ${columns} from hosts ${where.length > 0 ? `where ${where.join(' and ')}` : ''} order by name limit $${params.length}`,
        params,
      );
      return rows.map(hostRow);
    },

    async countHosts(filter) {
      const params: unknown[] = [filter.onlineSince];
      const where = hostConditions({ ...(filter.labels ? { labels: filter.labels } : {}) }, params);
      const rows = await sql.query<Row>(
        `select count(*) filter (where last_seen >= $1) as online, count(*) filter (where last_seen < $1) as offline
         from hosts ${where.length > 0 ? `where ${where.join(' and ')}` : ''}`,
        params,
      );
      return { online: num(rows[0]?.online ?? 0), offline: num(rows[0]?.offline ?? 0) };
    },

    async countHostsByLabel(key, filter, maxValues) {
      const params: unknown[] = [filter.onlineSince, key];
      const where = hostConditions({ ...(filter.labels ? { labels: filter.labels } : {}) }, params);
      params.push(maxValues);
      const rows = await sql.query<Row>(
        `select labels->>$2 as value,
           count(*) filter (where last_seen >= $1) as online, count(*) filter (where last_seen < $1) as offline
         from hosts ${where.length > 0 ? `where ${where.join(' and ')}` : ''}
         group by 1 order by count(*) desc, 1 nulls last limit $${params.length}`,
        params,
      );
      return rows.map((row) => ({ value: row.value === null ? null : String(row.value), online: num(row.online), offline: num(row.offline) }));
    },

    async countHostsByTopology(keys, filter, maxCells) {
      const params: unknown[] = [filter.onlineSince];
      const cols = keys.map((k) => {
        params.push(k);
        return `labels->>$${params.length}`;
      });
      const where = hostConditions({ ...(filter.labels ? { labels: filter.labels } : {}) }, params);
      params.push(maxCells);
      const active = `('pending', 'queued', 'running', 'paused', 'rolling_back')`;
      const rows = await sql.query<Row>(
        `select ${cols.map((c, i) => `${c} as v${i}`).join(', ')}${cols.length > 0 ? ',' : ''}
           count(*) as total,
           count(*) filter (where h.last_seen >= $1) as online,
           count(*) filter (where exists (select 1 from steps s join rollouts r on r.id = s.rollout_id where s.host = h.name and r.state in ${active})) as in_rollout,
           count(*) filter (where exists (select 1 from steps s join rollouts r on r.id = s.rollout_id where s.host = h.name and s.state in ('failed', 'silent') and r.state in ${active})) as failing,
           count(*) filter (where exists (select 1 from drift_events d where d.host = h.name and d.resolved_at is null)) as drifting
         from hosts h ${where.length > 0 ? `where ${where.join(' and ')}` : ''}
         ${cols.length > 0 ? `group by ${cols.map((_, i) => i + 1).join(', ')} order by ${cols.map((_, i) => `${i + 1} nulls last`).join(', ')}` : ''}
         limit $${params.length}`,
        params,
      );
      return rows.map((row) => ({
        values: keys.map((_, i) => (row[`v${i}`] === null || row[`v${i}`] === undefined ? null : String(row[`v${i}`]))),
        total: num(row.total),
        online: num(row.online),
        inRollout: num(row.in_rollout),
        failing: num(row.failing),
        drifting: num(row.drifting),
      }));
    },

    async stepsOfHost(host, limit) {
      const rows = await sql.query<Row>(
        `select s.rollout_id, r.name as rollout_name, r.state as rollout_state, s.wave_index, w.name as wave_name, s.state, s.attempt, s.message, s.updated_at
         from steps s join rollouts r on r.id = s.rollout_id
         left join waves w on w.rollout_id = s.rollout_id and w.idx = s.wave_index
         where s.host = $1 order by r.created_at desc, r.id desc limit $2`,
        [host, limit],
      );
      return rows.map((row) => ({
        rolloutId: String(row.rollout_id),
        rolloutName: String(row.rollout_name),
        rolloutState: String(row.rollout_state),
        waveIndex: num(row.wave_index),
        wave: row.wave_name === null || row.wave_name === undefined ? null : String(row.wave_name),
        state: String(row.state) as StepRecord['state'],
        attempt: num(row.attempt),
        message: row.message === null || row.message === undefined ? null : String(row.message),
        updatedAt: num(row.updated_at),
      }));
    },

    // ---- rollouts ----

    async createRollout(rollout, plan, planSource, event, fence, extra = {}) {
      await sql
        .transaction(async (tx) => {
          if (fence) await checkFence(tx, fence);
          await tx.query(
            `insert into rollouts (id, name, state, next_spec, failed_total, targeted_hosts, reason, plan, plan_source, created_at, updated_at, created_by, created_by_owner)
             values ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10, $11, $12, $13)`,
            [
              rollout.id,
              rollout.name,
              rollout.state,
              rollout.nextSpec,
              rollout.failedTotal,
              rollout.targetedHosts ?? null,
              rollout.reason,
              JSON.stringify(plan),
              planSource,
              rollout.createdAt,
              rollout.updatedAt,
              extra.startedBy?.name ?? null,
              extra.startedBy?.owner ?? null,
            ],
          );
          await insertEvents(tx, rollout.id, rollout.createdAt, [event]);
          if (extra.audit) await insertAudit(tx, extra.audit);
        })
        .catch((err: unknown) => {
          if (pgCode(err) === UNIQUE_VIOLATION) throw new ConflictError(`rollout ${rollout.id} already exists`);
          throw err;
        });
    },

    persistTransition(write) {
      return sql.transaction((tx) => persistTransition(tx, write));
    },

    async rolloutStarter(id) {
      const rows = await sql.query<Row>('select created_by, created_by_owner from rollouts where id = $1', [id]);
      const row = rows[0];
      if (!row) return undefined;
      if (row.created_by === null || row.created_by === undefined) return null;
      return { name: String(row.created_by), owner: row.created_by_owner === null ? null : String(row.created_by_owner) };
    },

    async listApprovals(rolloutId, limit) {
      // The kind is written out (not a parameter) so that events_approved_idx, a partial index, applies.
      const rows = await sql.query<Row>(`select * from events where rollout_id = $1 and kind = 'wave.approved' order by seq limit $2`, [rolloutId, limit]);
      return rows.map(eventRow);
    },

    // ---- access control ----

    async createApiToken(token, audit) {
      return sql
        .transaction(async (tx) => {
          const rows = await tx.query<Row>(
            `insert into api_tokens (id, name, owner, role, secret_hash, created_at, created_by, expires_at)
             values ($1, $2, $3, $4, $5, $6, $7, $8) returning *`,
            [token.id, token.name, token.owner, token.role, token.secretHash, token.createdAt, token.createdBy, token.expiresAt],
          );
          if (audit) await insertAudit(tx, audit);
          return apiTokenRow(first(rows));
        })
        .catch((err: unknown) => {
          if (pgCode(err) === UNIQUE_VIOLATION) throw new ConflictError(`a token named ${token.name} exists already (names stay taken after a revoke)`);
          throw err;
        });
    },

    async apiTokenByHash(hash) {
      const rows = await sql.query<Row>('select * from api_tokens where secret_hash = $1', [hash]);
      return rows[0] ? apiTokenRow(rows[0]) : null;
    },

    async listApiTokens() {
      const rows = await sql.query<Row>('select * from api_tokens order by name');
      return rows.map(apiTokenRow);
    },

    async revokeApiToken(name, at, audit) {
      return sql.transaction(async (tx) => {
        const rows = await tx.query<Row>('update api_tokens set revoked_at = coalesce(revoked_at, $2) where name = $1 returning *', [name, at]);
        if (!rows[0]) return null;
        if (audit) await insertAudit(tx, audit);
        return apiTokenRow(rows[0]);
      });
    },

    async touchApiToken(id, at) {
      await sql.query('update api_tokens set last_used_at = $2 where id = $1 and (last_used_at is null or last_used_at < $2)', [id, at]);
    },

    async activeFreeze(now) {
      const rows = await sql.query<Row>('select * from fleet_freezes where ended_at is null and (until_at is null or until_at > $1) order by id desc limit 1', [now]);
      return rows[0] ? freezeRow(rows[0]) : null;
    },

    async startFreeze(freeze, audit) {
      return sql.transaction(async (tx) => {
        // A freeze past its `until` ended by itself: record it ended then, so a new one can start.
        await tx.query('update fleet_freezes set ended_at = until_at, ended_by = $2 where ended_at is null and until_at is not null and until_at <= $1', [freeze.startedAt, 'expired']);
        const active = await tx.query<Row>('select * from fleet_freezes where ended_at is null for update');
        if (active[0]) {
          const f = freezeRow(active[0]);
          throw new ConflictError(`the fleet is already frozen (${f.reason}) by ${f.by}; \`sluice freeze end\` first to change it`);
        }
        const rows = await tx.query<Row>(
          'insert into fleet_freezes (reason, started_by, started_at, until_at) values ($1, $2, $3, $4) returning *',
          [freeze.reason, freeze.by, freeze.startedAt, freeze.until],
        );
        if (audit) await insertAudit(tx, audit);
        return freezeRow(first(rows));
      }).catch((err: unknown) => {
        if (pgCode(err) === UNIQUE_VIOLATION) throw new ConflictError('the fleet is already frozen (another replica just froze it)');
        throw err;
      });
    },

    async endFreeze(at, by, audit) {
      return sql.transaction(async (tx) => {
        const rows = await tx.query<Row>(
          'update fleet_freezes set ended_at = $1, ended_by = $2 where ended_at is null and (until_at is null or until_at > $1) returning *',
          [at, by],
        );
        if (!rows[0]) return null;
        if (audit) await insertAudit(tx, audit);
        return freezeRow(rows[0]);
      });
    },

    async appendAudit(entry) {
      await insertAudit(sql, entry);
    },

    async listAudit(query) {
      const params: unknown[] = [];
      const where: string[] = [];
      const add = (cond: (n: string) => string, value: unknown) => {
        params.push(value);
        where.push(cond(`$${params.length}`));
      };
      if (query.actor !== undefined) add((n) => `actor = ${n}`, query.actor);
      if (query.action !== undefined) {
        const prefix = /[.*]$/.test(query.action) ? query.action.replace(/\*$/, '') : null;
        if (prefix !== null) add((n) => `left(action, length(${n})) = ${n}`, prefix);
        else add((n) => `action = ${n}`, query.action);
      }
      if (query.target !== undefined) add((n) => `target = ${n}`, query.target);
      if (query.result !== undefined) add((n) => `result = ${n}`, query.result);
      if (query.since !== undefined) add((n) => `at >= ${n}`, query.since);
      if (query.until !== undefined) add((n) => `at < ${n}`, query.until);
      if (query.afterId !== undefined) add((n) => `id > ${n}`, query.afterId);
      params.push(query.limit);
      const rows = await sql.query<Row>(
        `select * from audit_log ${where.length > 0 ? `where ${where.join(' and ')}` : ''} order by id limit $${params.length}`,
        params,
      );
      return rows.map(auditRow);
    },

    async hasReport(host, reportId) {
      const rows = await sql.query<Row>('select 1 as found from reports where host = $1 and id = $2', [host, reportId]);
      return rows.length > 0;
    },

    async hostInRollout(rolloutId, host) {
      const rows = await sql.query<Row>('select 1 as found from steps where rollout_id = $1 and host = $2', [rolloutId, host]);
      return rows.length > 0;
    },

    async getRollout(id) {
      const rows = await sql.query<Row>(
        'select id, name, state, next_spec, failed_total, targeted_hosts, reason, created_at, updated_at, reverted_hosts, skipped_hosts, held_reason, waiting from rollouts where id = $1',
        [id],
      );
      return rows[0] ? rolloutRecord(rows[0]) : null;
    },

    loadRolloutHeader(id) {
      return sql.transaction(async (tx) => {
        await tx.query('set transaction isolation level repeatable read');
        const rollouts = await tx.query<Row>('select * from rollouts where id = $1', [id]);
        const row = rollouts[0];
        if (!row) return null;
        const waves = await tx.query<Row>('select * from waves where rollout_id = $1 order by idx', [id]);
        return { plan: row.plan as Plan, rollout: rolloutRecord(row), waves: waves.map(waveRecord) };
      });
    },

    async countSteps(rolloutId) {
      const rows = await sql.query<Row>(
        `select wave_index, state, count(*) as n,
           count(*) filter (where rollback_attempt is not null and attempt = rollback_attempt and state in ('failed', 'silent')) as unconfirmed
         from steps where rollout_id = $1 group by wave_index, state order by wave_index, state`,
        [rolloutId],
      );
      return rows.map(
        (row): StepCountRow => ({
          waveIndex: num(row.wave_index),
          state: row.state as StepCountRow['state'],
          count: num(row.n),
          unconfirmedRollbacks: num(row.unconfirmed),
        }),
      );
    },

    async listStepsPage(rolloutId, query) {
      const params: unknown[] = [rolloutId];
      const where = ['rollout_id = $1'];
      if (query.states !== undefined && query.states.length > 0) {
        params.push(query.states);
        where.push(`state = any($${params.length}::text[])`);
      }
      if (query.waveIndex !== undefined) {
        params.push(query.waveIndex);
        where.push(`wave_index = $${params.length}`);
      }
      if (query.after !== undefined) {
        params.push(query.after.waveIndex, query.after.host);
        where.push(`(wave_index, host) > ($${params.length - 1}, $${params.length})`);
      }
      params.push(query.limit);
      const rows = await sql.query<Row>(
        `select * from steps where ${where.join(' and ')} order by wave_index, host limit $${params.length}`,
        params,
      );
      return rows.map(stepRecord);
    },

    async purgeFinished(finishedBefore, batch) {
      // One bounded statement per table: a long purge never holds locks for long, and an active
      // rollout's rows are never candidates (the state is read in the same statement).
      const finished = 'select id from rollouts where state = any($1::text[]) and updated_at < $2';
      // Rows are picked by their physical address (ctid, a TID scan): neither table's rows are
      // ever updated, so the address cannot move between the select and the delete.
      const purge = (table: 'events' | 'reports') =>
        sql.query<Row>(
          `with gone as (delete from ${table} where ctid = any(array(select ctid from ${table} where rollout_id in (${finished}) limit $3)) returning 1)
           select count(*) as n from gone`,
          [FINAL_STATES, finishedBefore, batch],
        );
      const events = await purge('events');
      const reports = await purge('reports');
      return { events: num(events[0]?.n ?? 0), reports: num(reports[0]?.n ?? 0) };
    },

    loadRollout(id) {
      return sql.transaction(async (tx): Promise<StoredRollout | null> => {
        // One snapshot for the three reads, so a concurrent transition is seen whole or not at all.
        await tx.query('set transaction isolation level repeatable read');
        const rollouts = await tx.query<Row>('select * from rollouts where id = $1', [id]);
        const row = rollouts[0];
        if (!row) return null;
        const waves = await tx.query<Row>('select * from waves where rollout_id = $1 order by idx', [id]);
        const steps = await tx.query<Row>('select * from steps where rollout_id = $1 order by wave_index, host', [id]);
        return {
          plan: row.plan as Plan,
          planSource: String(row.plan_source),
          rollout: rolloutRecord(row),
          waves: waves.map(waveRecord),
          steps: steps.map(stepRecord),
        };
      });
    },

    async listRollouts(limit = DEFAULT_LIST_ROLLOUTS) {
      const rows = await sql.query<Row>(
        `select id, name, state, next_spec, failed_total, targeted_hosts, reason, created_at, updated_at, reverted_hosts, skipped_hosts, held_reason, waiting
         from rollouts order by created_at desc, id desc limit $1`,
        [limit],
      );
      return rows.map(rolloutRecord);
    },

    async rolloutsByIdPrefix(prefix, limit) {
      // left() rather than LIKE: ids contain `_`, a LIKE wildcard.
      const rows = await sql.query<Row>(
        `select id, name, state, next_spec, failed_total, targeted_hosts, reason, created_at, updated_at
         from rollouts where left(id, length($1)) = $1 order by created_at desc, id desc limit $2`,
        [prefix, limit],
      );
      return rows.map(rolloutRecord);
    },

    async activeRolloutIds() {
      const rows = await sql.query<Row>('select id from rollouts where state = any($1::text[]) order by created_at, id', [
        ACTIVE_STATES,
      ]);
      return rows.map((row) => String(row.id));
    },

    async silentRollbacks() {
      const rows = await sql.query<Row>(
        `select s.rollout_id, s.host from steps s join rollouts r on r.id = s.rollout_id
         where s.state = 'silent' and s.rollback_attempt = s.attempt and not (r.state = any($1::text[]))
         order by s.rollout_id, s.host`,
        [ACTIVE_STATES],
      );
      return rows.map((row) => ({ rolloutId: String(row.rollout_id), host: String(row.host) }));
    },

    async listEvents(rolloutId, afterSeq = 0, limit = DEFAULT_LIST_EVENTS) {
      const rows = await sql.query<Row>(
        'select * from events where rollout_id = $1 and seq > $2 order by seq limit $3',
        [rolloutId, afterSeq, limit],
      );
      return rows.map(eventRow);
    },

    async assignmentsForHost(host) {
      return (await assignmentsFor([host])).get(host) ?? [];
    },

    assignmentsForHosts: (hosts) => assignmentsFor(hosts),

    async recordDrift(host, report, now) {
      return sql.transaction(async (tx) => {
        // $2 is used twice: cast it, or PostgreSQL cannot settle on one type for it.
        let inserted = 0;
        if (report.events.length > 0) {
          const rows = await tx.query<Row>(
            `insert into drift_events (host, id, kind, subject, message, at, received_at, resolved_at, data)
             select $1, e.id, e.kind, e.subject, e.message, e.at, $2::bigint, case when e.open then null else $2::bigint end, e.data
             from jsonb_to_recordset($3::jsonb) as e(id text, kind text, subject text, message text, at bigint, open boolean, data jsonb)
             on conflict (host, id) do nothing
             returning id`,
            [host, now, JSON.stringify(report.events.map((e) => ({ ...e, data: e.data ?? null })))],
          );
          inserted = rows.length;
        }
        for (const r of report.resolved) {
          await tx.query(
            `update drift_events set resolved_at = $5::bigint
             where host = $1 and kind = $2 and subject = $3 and resolved_at is null and at <= $4::bigint`,
            [host, r.kind, r.subject, r.at, now],
          );
        }
        return inserted;
      });
    },

    // ---- notifications ----

    async enqueueNotifications(rows) {
      if (rows.length > 0) await insertNotifications(sql, rows);
    },

    async dueNotifications(now, limit, busy) {
      const rows = await sql.query<Row>(
        `select * from (
           select distinct on (endpoint) * from notifications where state = 'pending' order by endpoint, seq
         ) heads
         where next_attempt_at <= $1 and not (endpoint = any($2::text[]))
         order by seq limit $3`,
        [now, [...busy], limit],
      );
      return rows.map(notificationRow);
    },

    async updateNotification(id, u) {
      await sql.query(
        `update notifications set state = $2, attempts = $3, next_attempt_at = $4, last_error = $5, last_status = $6, delivered_at = $7 where id = $1`,
        [id, u.state, u.attempts, u.nextAttemptAt, u.lastError, u.lastStatus, u.deliveredAt],
      );
    },

    async purgeNotifications(before, batch) {
      const rows = await sql.query<Row>(
        `with gone as (delete from notifications where seq = any(array(
           select seq from notifications where state <> 'pending' and created_at < $1 order by seq limit $2)) returning 1)
         select count(*) as n from gone`,
        [before, batch],
      );
      return num(rows[0]?.n ?? 0);
    },

    async listNotifications(filter) {
      const rows = await sql.query<Row>(
        `select * from notifications where ($1::text is null or state = $1) and ($2::text is null or rollout_id = $2) order by seq desc limit $3`,
        [filter.state ?? null, filter.rolloutId ?? null, filter.limit],
      );
      return rows.map(notificationRow);
    },

    // ---- the remediation guard ----

    async hostByName(name) {
      const rows = await sql.query<Row>('select * from hosts where name = $1', [name]);
      return rows[0] ? hostRow(rows[0]) : null;
    },

    async guardRemediation(query, decide, request) {
      return sql.transaction(async (tx) => {
        // One guard decision at a time, fleet-wide and across replicas (released at commit).
        await tx.query(`select pg_advisory_xact_lock(${REMEDIATION_LOCK})`);
        const counts: RemediationScopeCount[] = [];
        for (const s of query.scopes) {
          const params: unknown[] = [query.onlineSince, query.host, query.remediatedSince];
          const where = s.labels ? hostConditions({ labels: s.labels }, params) : [];
          const rows = await tx.query<Row>(
            `select count(*) as size,
               count(*) filter (where last_seen < $1 or name = $2 or name in (
                 select host from remediation_requests where decision = 'allow' and at >= $3)) as affected
             from hosts ${where.length > 0 ? `where ${where.join(' and ')}` : ''}`,
            params,
          );
          counts.push({ scope: s.scope, size: num(rows[0]?.size ?? 0), affected: num(rows[0]?.affected ?? 0) });
        }
        const verdict = decide(counts);
        const row = first(
          await tx.query<Row>(
            `insert into remediation_requests (at, host, action, requester, principal, reason_given, decision, reason, scope, affected, scope_limit)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) returning id`,
            [request.at, request.host, request.action, request.requester, request.principal, request.reasonGiven,
              verdict.allow ? 'allow' : 'deny', verdict.reason, verdict.scope, verdict.affected, verdict.limit],
          ),
        );
        return { id: String(row.id), ...request, ...verdict };
      });
    },

    async listRemediations(filter) {
      const rows = await sql.query<Row>(
        `select * from remediation_requests
         where ($1::text is null or host = $1) and ($2::text is null or decision = $2) and ($3::bigint is null or at >= $3)
         order by id desc limit $4`,
        [filter.host ?? null, filter.decision ?? null, filter.since ?? null, filter.limit],
      );
      return rows.map(remediationRow);
    },

    async addRemediationOverride(o) {
      const row = first(
        await sql.query<Row>(
          `insert into remediation_overrides (scope, created_at, until_at, created_by, reason) values ($1, $2, $3, $4, $5) returning *`,
          [o.scope, o.createdAt, o.until, o.createdBy, o.reason],
        ),
      );
      return overrideRow(row);
    },

    async endRemediationOverride(id, now) {
      if (!/^[0-9]{1,18}$/.test(id)) return false;
      const rows = await sql.query<Row>('update remediation_overrides set ended_at = $2 where id = $1 and ended_at is null returning id', [id, now]);
      return rows.length > 0;
    },

    async activeRemediationOverrides(now) {
      const rows = await sql.query<Row>('select * from remediation_overrides where ended_at is null and until_at > $1 order by id desc', [now]);
      return rows.map(overrideRow);
    },

    async listDrift(filter = {}) {
      const rows = await sql.query<Row>(
        `select * from drift_events
         where ($1::text is null or host = $1) and (not $2::boolean or resolved_at is null)
         order by received_at desc, at desc, host, id
         limit $3`,
        [filter.host ?? null, filter.open === true, filter.limit ?? DEFAULT_LIST_DRIFT],
      );
      return rows.map(driftRow);
    },

    async revertedHostsTotal() {
      const rows = await sql.query<Row>('select coalesce(sum(reverted_hosts), 0) as n from rollouts');
      return num(rows[0]?.n ?? 0);
    },

    async rolloutCountsByState() {
      const rows = await sql.query<Row>('select state, count(*) as n from rollouts group by state');
      const counts: Record<string, number> = {};
      for (const state of ROLLOUT_STATES) counts[state] = 0;
      for (const row of rows) counts[String(row.state)] = num(row.n);
      return counts;
    },
  };
}

async function persistTransition(tx: SqlTx, write: TransitionWrite): Promise<boolean> {
  if (write.fence) await checkFence(tx, write.fence);
  if (write.reportId !== undefined) {
    const recorded = await tx.query<Row>(
      'insert into reports (id, rollout_id, host, at) values ($1, $2, $3, $4) on conflict do nothing returning id',
      [write.reportId, write.rolloutId, write.reportHost ?? write.event?.host ?? '', write.at],
    );
    if (recorded.length === 0) return false;
  }

  // Rows are upserted by key, so only the last effect per key matters (one multi-row statement
  // cannot touch a row twice). Rollouts first: waves and steps reference them.
  const rollouts = new Map<string, RolloutRecord>();
  const waves = new Map<string, WaveRecord>();
  const steps = new Map<string, StepRecord>();
  const logs: LogInput[] = write.event ? [write.event] : [];
  for (const effect of write.effects) {
    switch (effect.type) {
      case 'rollout':
        rollouts.set(effect.rollout.id, effect.rollout);
        break;
      case 'wave':
        waves.set(`${effect.wave.rolloutId}\u0000${effect.wave.index}`, effect.wave);
        break;
      case 'step':
        steps.set(`${effect.step.rolloutId}\u0000${effect.step.host}`, effect.step);
        break;
      case 'log':
        logs.push(logInput(effect));
        break;
      case 'assign':
        // the step row written with it already carries state and attempt
        break;
    }
  }

  for (const rollout of rollouts.values()) {
    const updated = await tx.query<Row>(
      `update rollouts set name = $2, state = $3, next_spec = $4, failed_total = $5,
         targeted_hosts = coalesce($6, targeted_hosts), reason = $7, updated_at = $8,
         reverted_hosts = coalesce($9, reverted_hosts), skipped_hosts = coalesce($10, skipped_hosts),
         held_reason = $11, waiting = $12
       where id = $1 returning id`,
      [
        rollout.id,
        rollout.name,
        rollout.state,
        rollout.nextSpec,
        rollout.failedTotal,
        rollout.targetedHosts ?? null,
        rollout.reason,
        rollout.updatedAt,
        rollout.revertedHosts ?? null,
        rollout.skippedHosts ?? null,
        rollout.heldReason ?? null,
        rollout.waiting ?? null,
      ],
    );
    // Rollouts are created by createRollout with their plan; an effect for another id is a bug.
    if (updated.length === 0) throw new NotFoundError(`rollout ${rollout.id} does not exist`);
  }

  if (waves.size > 0) {
    await tx.query(
      `insert into waves (rollout_id, idx, name, spec_index, spec_leaf, state, host_count, failed, started_at, bake_started_at, finished_at)
       select rollout_id, idx, name, spec_index, spec_leaf, state, host_count, failed, started_at, bake_started_at, finished_at
       from jsonb_to_recordset($1::jsonb) as w(rollout_id text, idx int, name text, spec_index int, spec_leaf int, state text,
         host_count int, failed int, started_at bigint, bake_started_at bigint, finished_at bigint)
       on conflict (rollout_id, idx) do update set
         name = excluded.name, spec_index = excluded.spec_index, spec_leaf = excluded.spec_leaf, state = excluded.state,
         host_count = excluded.host_count, failed = excluded.failed, started_at = excluded.started_at,
         bake_started_at = excluded.bake_started_at, finished_at = excluded.finished_at`,
      [
        JSON.stringify(
          [...waves.values()].map((w) => ({
            rollout_id: w.rolloutId,
            idx: w.index,
            name: w.name,
            spec_index: w.specIndex,
            spec_leaf: w.leaf ?? null,
            state: w.state,
            host_count: w.hostCount,
            failed: w.failed,
            started_at: w.startedAt,
            bake_started_at: w.bakeStartedAt,
            finished_at: w.finishedAt,
          })),
        ),
      ],
    );
  }

  if (steps.size > 0) {
    // A wave start emits one step per host (tens of thousands): one statement for all of them.
    await tx.query(
      `insert into steps (rollout_id, host, wave_index, state, attempt, message, checked_at, updated_at, confirmed_at, rollback_attempt)
       select rollout_id, host, wave_index, state, attempt, message, checked_at, updated_at, confirmed_at, rollback_attempt
       from jsonb_to_recordset($1::jsonb) as s(rollout_id text, host text, wave_index int, state text,
         attempt int, message text, checked_at bigint, updated_at bigint, confirmed_at bigint, rollback_attempt int)
       on conflict (rollout_id, host) do update set
         wave_index = excluded.wave_index, state = excluded.state, attempt = excluded.attempt,
         message = excluded.message, checked_at = excluded.checked_at, updated_at = excluded.updated_at,
         confirmed_at = excluded.confirmed_at, rollback_attempt = excluded.rollback_attempt`,
      [
        JSON.stringify(
          [...steps.values()].map((s) => ({
            rollout_id: s.rolloutId,
            host: s.host,
            wave_index: s.waveIndex,
            state: s.state,
            attempt: s.attempt,
            message: s.message,
            checked_at: s.checkedAt,
            updated_at: s.updatedAt,
            confirmed_at: s.confirmedAt ?? null,
            rollback_attempt: s.rollbackAttempt ?? null,
          })),
        ),
      ],
    );
  }

  await insertEvents(tx, write.rolloutId, write.at, logs);
  if (write.audit) await insertAudit(tx, write.audit);
  if (write.notifications && write.notifications.length > 0) await insertNotifications(tx, write.notifications);
  return true;
}

async function insertAudit(tx: SqlTx, e: AuditInput): Promise<void> {
  await tx.query(
    `insert into audit_log (at, actor, role, token_id, action, target, source_ip, result, detail)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb)`,
    [e.at, e.actor, e.role, e.tokenId, e.action, e.target, e.sourceIp, e.result, e.detail === null ? null : JSON.stringify(e.detail)],
  );
}

/** Appends events in order, one statement; `seq` follows the order given. */
async function insertEvents(tx: SqlTx, rolloutId: string, at: Instant, events: readonly LogInput[]): Promise<void> {
  if (events.length === 0) return;
  await tx.query(
    `insert into events (rollout_id, at, kind, message, host, wave, data)
     select $1, $2, e.kind, e.message, e.host, e.wave, e.data
     from rows from (jsonb_to_recordset($3::jsonb) as (kind text, message text, host text, wave text, data jsonb))
       with ordinality as e(kind, message, host, wave, data, ord)
     order by e.ord`,
    [
      rolloutId,
      at,
      JSON.stringify(
        events.map((e) => ({ kind: e.kind, message: e.message, host: e.host ?? null, wave: e.wave ?? null, data: e.data ?? null })),
      ),
    ],
  );
}

/** A `log` effect as an event: fields other than the columns go into `data`. */
function logInput(effect: Extract<RolloutEffect, { type: 'log' }>): LogInput {
  const { type: _type, kind, message, host, wave, ...rest } = effect;
  return {
    kind,
    message,
    ...(host !== undefined ? { host } : {}),
    ...(wave !== undefined ? { wave } : {}),
    ...(Object.keys(rest).length > 0 ? { data: rest as Record<string, unknown> } : {}),
  };
}

// ---- row mappers: bigint columns may arrive as strings (pg) or numbers (PGlite) ----

function hostRow(row: Row): HostRow {
  const constraints = row.label_constraints as LabelConstraints | null | undefined;
  return {
    name: String(row.name),
    labels: row.labels as Labels,
    facts: row.facts as Record<string, unknown>,
    enrolledAt: num(row.enrolled_at),
    lastSeen: num(row.last_seen),
    ...(constraints ? { labelConstraints: constraints } : {}),
  };
}

function enrollTokenRow(row: Row): EnrollTokenRow {
  return {
    id: String(row.id),
    name: String(row.name),
    expiresAt: numOrNull(row.expires_at),
    maxUses: numOrNull(row.max_uses),
    uses: num(row.uses),
    labels: row.labels as LabelConstraints,
    createdBy: String(row.created_by),
    createdAt: num(row.created_at),
    revokedAt: numOrNull(row.revoked_at),
  };
}

function rolloutRecord(row: Row): RolloutRecord {
  return {
    id: String(row.id),
    name: String(row.name),
    state: row.state as RolloutStatus,
    nextSpec: num(row.next_spec),
    failedTotal: num(row.failed_total),
    ...(row.targeted_hosts !== null && row.targeted_hosts !== undefined ? { targetedHosts: num(row.targeted_hosts) } : {}),
    reason: row.reason === null ? null : String(row.reason),
    createdAt: num(row.created_at),
    updatedAt: num(row.updated_at),
    revertedHosts: row.reverted_hosts === undefined || row.reverted_hosts === null ? 0 : num(row.reverted_hosts),
    skippedHosts: row.skipped_hosts === undefined || row.skipped_hosts === null ? 0 : num(row.skipped_hosts),
    heldReason: row.held_reason === undefined || row.held_reason === null ? null : String(row.held_reason),
    ...(row.waiting === undefined || row.waiting === null ? {} : { waiting: String(row.waiting) }),
  };
}

function freezeRow(row: Row): FreezeRow {
  return {
    id: num(row.id),
    reason: String(row.reason),
    by: String(row.started_by),
    startedAt: num(row.started_at),
    until: row.until_at === null || row.until_at === undefined ? null : num(row.until_at),
    endedAt: row.ended_at === null || row.ended_at === undefined ? null : num(row.ended_at),
    endedBy: row.ended_by === null || row.ended_by === undefined ? null : String(row.ended_by),
  };
}

function waveRecord(row: Row): WaveRecord {
  return {
    rolloutId: String(row.rollout_id),
    index: num(row.idx),
    name: String(row.name),
    specIndex: num(row.spec_index),
    ...(row.spec_leaf === null || row.spec_leaf === undefined ? {} : { leaf: num(row.spec_leaf) }),
    state: row.state as WaveRecord['state'],
    hostCount: num(row.host_count),
    failed: num(row.failed),
    startedAt: numOrNull(row.started_at),
    bakeStartedAt: numOrNull(row.bake_started_at),
    finishedAt: numOrNull(row.finished_at),
  };
}

function stepRecord(row: Row): StepRecord {
  return {
    rolloutId: String(row.rollout_id),
    host: String(row.host),
    waveIndex: num(row.wave_index),
    state: row.state as StepRecord['state'],
    attempt: num(row.attempt),
    message: row.message === null ? null : String(row.message),
    checkedAt: numOrNull(row.checked_at),
    updatedAt: num(row.updated_at),
    confirmedAt: numOrNull(row.confirmed_at),
    rollbackAttempt: numOrNull(row.rollback_attempt),
  };
}

function eventRow(row: Row): EventRow {
  return {
    seq: num(row.seq),
    rolloutId: String(row.rollout_id),
    at: num(row.at),
    kind: String(row.kind),
    message: String(row.message),
    host: row.host === null ? null : String(row.host),
    wave: row.wave === null ? null : String(row.wave),
    data: (row.data ?? null) as Record<string, unknown> | null,
  };
}

function apiTokenRow(row: Row): ApiTokenRow {
  return {
    id: String(row.id),
    name: String(row.name),
    owner: String(row.owner),
    role: row.role as ApiTokenRow['role'],
    createdAt: num(row.created_at),
    createdBy: String(row.created_by),
    expiresAt: numOrNull(row.expires_at),
    revokedAt: numOrNull(row.revoked_at),
    lastUsedAt: numOrNull(row.last_used_at),
  };
}

function auditRow(row: Row): AuditRow {
  const str = (v: unknown) => (v === null || v === undefined ? null : String(v));
  return {
    id: num(row.id),
    at: num(row.at),
    actor: String(row.actor),
    role: str(row.role),
    tokenId: str(row.token_id),
    action: String(row.action),
    target: str(row.target),
    sourceIp: str(row.source_ip),
    result: row.result as AuditRow['result'],
    detail: (row.detail ?? null) as Record<string, unknown> | null,
  };
}

function driftRow(row: Row): DriftEventRow {
  return {
    host: String(row.host),
    id: String(row.id),
    kind: String(row.kind),
    subject: String(row.subject),
    message: String(row.message),
    at: num(row.at),
    receivedAt: num(row.received_at),
    resolvedAt: numOrNull(row.resolved_at),
    data: (row.data ?? null) as Record<string, unknown> | null,
  };
}

async function insertNotifications(tx: Pick<SqlTx, 'query'>, rows: readonly NotificationInput[]): Promise<void> {
  await tx.query(
    `insert into notifications (id, endpoint, format, secret_ref, event, rollout_id, body, next_attempt_at, created_at)
     select id, endpoint, format, secret_ref, event, rollout_id, body, created_at, created_at
     from jsonb_to_recordset($1::jsonb) as n(id text, endpoint text, format text, secret_ref text,
       event text, rollout_id text, body text, created_at bigint, ord int)
     order by ord
     on conflict (id) do nothing`,
    [
      JSON.stringify(
        rows.map((r, ord) => ({ ord, id: r.id, endpoint: r.endpoint, format: r.format, secret_ref: r.secretRef, event: r.event, rollout_id: r.rolloutId, body: r.body, created_at: r.createdAt })),
      ),
    ],
  );
}

function notificationRow(row: Row): NotificationRow {
  return {
    seq: num(row.seq),
    id: String(row.id),
    endpoint: String(row.endpoint),
    format: row.format === 'slack' ? 'slack' : 'json',
    secretRef: row.secret_ref === null ? null : String(row.secret_ref),
    event: String(row.event),
    rolloutId: row.rollout_id === null ? null : String(row.rollout_id),
    body: String(row.body),
    createdAt: num(row.created_at),
    state: String(row.state) as NotificationState,
    attempts: num(row.attempts),
    nextAttemptAt: num(row.next_attempt_at),
    lastError: row.last_error === null ? null : String(row.last_error),
    lastStatus: numOrNull(row.last_status),
    deliveredAt: numOrNull(row.delivered_at),
  };
}

// pg_advisory_xact_lock key of the remediation guard ("sluice" remediation, any fixed bigint).
const REMEDIATION_LOCK = 0x51c3_0013;

function remediationRow(row: Row): RemediationRow {
  return {
    id: String(row.id),
    at: num(row.at),
    host: String(row.host),
    action: String(row.action),
    requester: String(row.requester),
    principal: String(row.principal),
    reasonGiven: row.reason_given === null ? null : String(row.reason_given),
    allow: row.decision === 'allow',
    reason: String(row.reason),
    scope: row.scope === null ? null : String(row.scope),
    affected: numOrNull(row.affected),
    limit: numOrNull(row.scope_limit),
  };
}

function overrideRow(row: Row): RemediationOverrideRow {
  return {
    id: String(row.id),
    scope: String(row.scope),
    createdAt: num(row.created_at),
    until: num(row.until_at),
    createdBy: String(row.created_by),
    reason: String(row.reason),
    endedAt: numOrNull(row.ended_at),
  };
}

function num(value: unknown): number {
  return typeof value === 'number' ? value : Number(value);
}

function numOrNull(value: unknown): number | null {
  return value === null || value === undefined ? null : num(value);
}

function jsonOrNull(value: unknown): string | null {
  return value === undefined ? null : JSON.stringify(value);
}

function first(rows: Row[]): Row {
  const row = rows[0];
  if (!row) throw new Error('expected a row from a returning clause');
  return row;
}

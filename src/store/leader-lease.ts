// The leader lease (migration 0004): one row naming the replica that drives rollouts, its term and
// until when (the database's clock). Replicas take it over when it lapses; the holder renews it.
// Fencing: the leader passes its (holder, term) with every transition, and the transaction checks
// it first, `for share`, so a takeover (an update of that row) waits for transitions that already
// passed the check and every later transition of the old leader is refused with a FencedError.
import { UnavailableError } from '../core/errors.ts';
import type { Sql, SqlTx } from './store.ts';

/** Who may write transitions: the lease holder and the term it holds it under. */
export interface LeaseFence {
  readonly holder: string;
  readonly term: number;
}

/** A write of a leader that no longer holds the lease (or holds it under another term). */
export class FencedError extends UnavailableError {
  readonly fence: LeaseFence;
  constructor(fence: LeaseFence) {
    super(`this replica no longer holds the leader lease (term ${fence.term}): the write was refused; retry, the current leader will take it`);
    this.name = 'FencedError';
    this.fence = fence;
  }
}

export interface LeaseView {
  readonly holder: string;
  readonly term: number;
  readonly url: string;
  /** Whether it has not expired (by the database's clock). */
  readonly live: boolean;
  /** Milliseconds until it expires (negative: expired that long ago). */
  readonly expiresInMs: number;
}

export type LeaseAttempt = { readonly won: true; readonly term: number } | { readonly won: false; readonly current: LeaseView | null };

/**
 * Takes the lease if it is free or lapsed, or renews it if `holder` has it. The term stays only
 * when `renew` (the caller leads under the current term) and the same holder's lease is live; it
 * grows by one otherwise (a new holder, a lapse, or a holder that stopped leading meanwhile: a new
 * driver always gets a new term, so nothing of the old one's can still pass the fence).
 */
export async function acquireOrRenewLease(sql: Sql, holder: string, url: string, ttlMs: number, renew: boolean): Promise<LeaseAttempt> {
  const rows = await sql.query<{ term: number }>(
    `insert into leader_lease as l (id, holder, term, url, acquired_at, expires_at)
     values (1, $1, 1, $2, clock_timestamp(), clock_timestamp() + make_interval(secs => $3::double precision / 1000))
     on conflict (id) do update set
       term = case when $4 and l.holder = excluded.holder and l.expires_at > clock_timestamp() then l.term else l.term + 1 end,
       acquired_at = case when $4 and l.holder = excluded.holder and l.expires_at > clock_timestamp() then l.acquired_at else clock_timestamp() end,
       holder = excluded.holder, url = excluded.url, expires_at = excluded.expires_at
     where l.holder = excluded.holder or l.expires_at <= clock_timestamp()
     returning term`,
    [holder, url, ttlMs, renew],
  );
  const row = rows[0];
  if (row) return { won: true, term: Number(row.term) };
  return { won: false, current: await readLease(sql) };
}

export async function readLease(sql: Sql): Promise<LeaseView | null> {
  const rows = await sql.query<{ holder: string; term: number; url: string; expires_in_ms: number }>(
    `select holder, term, url, (extract(epoch from (expires_at - clock_timestamp())) * 1000)::bigint as expires_in_ms
     from leader_lease where id = 1`,
  );
  const row = rows[0];
  if (!row) return null;
  const expiresInMs = Number(row.expires_in_ms);
  return { holder: row.holder, term: Number(row.term), url: row.url, live: expiresInMs > 0, expiresInMs };
}

/** Ends the lease at once (a clean shutdown), so another replica need not wait for it to lapse. */
export async function releaseLease(sql: Sql, fence: LeaseFence): Promise<void> {
  await sql.query(`update leader_lease set expires_at = clock_timestamp() where id = 1 and holder = $1 and term = $2`, [fence.holder, fence.term]);
}

/** First statement of a fenced transaction: throws FencedError unless `fence` holds the live lease. */
export async function checkFence(tx: SqlTx, fence: LeaseFence): Promise<void> {
  const rows = await tx.query(
    `select term from leader_lease where id = 1 and holder = $1 and term = $2 and expires_at > clock_timestamp() for share`,
    [fence.holder, fence.term],
  );
  if (rows.length === 0) throw new FencedError(fence);
}

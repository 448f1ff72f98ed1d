// Liveness across replicas. Agents heartbeat to whichever replica they reach; only the leader
// judges silence, and it hears directly only its own agents. The others' heartbeats reach it
// through hosts.last_seen (written by every replica, in batches). Before each tick the leader
// reads last_seen of its in-flight hosts (only those: a silence verdict depends on them) and tells
// the driver about each host heard since it last looked; every few seconds it does the same for
// all hosts heard recently, which the driver's self-suspicion counts (half the fleet quiet at once
// means the server is cut off, not the hosts).
import type { Instant } from '../../core/types.ts';
import type { RolloutDriver } from '../../engine/rollout-driver.ts';
import type { Sql } from '../../store/store.ts';

/** Slack for batched writes: a flush may land a last_seen a little older than ones already read. */
const FLUSH_SLACK_MS = 5000;

export class LivenessRefresher {
  /** Last hosts.last_seen seen per host. */
  private readonly seen = new Map<string, Instant>();
  private lastFullAt = 0;
  private cursor: Instant;

  constructor(
    private readonly sql: Sql,
    /** Hosts got a fresh silentAfter from here when the driver started: older sightings say nothing new. */
    private readonly since: Instant,
    private readonly fullEveryMs = 5000,
    private readonly now: () => Instant = Date.now,
  ) {
    this.cursor = since;
  }

  async refresh(driver: RolloutDriver): Promise<void> {
    const inFlight = driver.inFlightHosts();
    // Nothing in flight: no tick can find a host silent, and self-suspicion is not asked.
    if (inFlight.length === 0) return;
    const rows = await this.sql.query<{ name: string; last_seen: number }>('select name, last_seen from hosts where name = any($1::text[])', [inFlight]);
    await this.apply(driver, rows);
    const now = this.now();
    if (now - this.lastFullAt >= this.fullEveryMs) {
      this.lastFullAt = now;
      const rows = await this.sql.query<{ name: string; last_seen: number }>('select name, last_seen from hosts where last_seen > $1', [
        this.cursor - FLUSH_SLACK_MS,
      ]);
      await this.apply(driver, rows);
    }
  }

  private async apply(driver: RolloutDriver, rows: readonly { name: string; last_seen: number }[]): Promise<void> {
    const heard: string[] = [];
    for (const row of rows) {
      const at = Number(row.last_seen);
      if (at > this.cursor) this.cursor = at;
      if (at <= (this.seen.get(row.name) ?? this.since)) continue;
      this.seen.set(row.name, at);
      heard.push(row.name);
    }
    // driver.heartbeat dispatches only to rollouts waiting on the host and writes nothing unless
    // something changes; one at a time keeps a large batch from flooding the rollouts' queues.
    for (const host of heard) await driver.heartbeat(host);
  }
}

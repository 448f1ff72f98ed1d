// Wires a server process as one replica of several on one PostgreSQL: the elector (who leads),
// the bus (wake-ups and host sightings between replicas) and the driver the routes use (the
// leader's while leading, an idle one otherwise). start-server.ts calls this for --database-url.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { HostInfo } from '../../core/types.ts';
import { RolloutDriver } from '../../engine/rollout-driver.ts';
import { createPostgresSql } from '../../store/postgres.ts';
import type { Sql, Store } from '../../store/store.ts';
import type { AssignmentHub } from '../assignment-hub.ts';
import type { Logger } from '../logger.ts';
import { ClusterBus } from './bus.ts';
import { Elector, followerStore, replicaDriver, type ElectorOptions } from './elector.ts';

export interface ReplicaRuntime {
  readonly id: string;
  readonly elector: Elector;
  /** For the routes: delegates to the leader's driver while this replica leads. */
  readonly driver: RolloutDriver;
  /** Joins the election; resolves after the first round (a lone replica then leads). */
  start(advertiseUrl: string): Promise<void>;
  close(): Promise<void>;
}

export interface ReplicaOptions {
  readonly databaseUrl: string;
  readonly store: Store;
  readonly hub: AssignmentHub;
  readonly log: Logger;
  /** A driver over `store` with these callbacks (the same settings as a lone server's). */
  readonly makeDriver: (store: Store, extra: { onAssignmentsChanged: (hosts: readonly string[] | null) => void; beforeTick?: () => Promise<void> }) => RolloutDriver;
  readonly lease?: Pick<ElectorOptions, 'ttlMs' | 'renewMs' | 'pollMs'>;
  readonly id?: string;
}

/** A replica id: readable in logs and pg_stat_activity, unique per process start. */
export function newReplicaId(): string {
  return `${hostname().slice(0, 32)}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

export function applicationName(id: string): string {
  return `sluice ${id}`.slice(0, 63);
}

export async function createReplica(opts: ReplicaOptions): Promise<ReplicaRuntime> {
  const id = opts.id ?? newReplicaId();
  const log = opts.log.child({ replica: id });
  // Its own small pool: lease renewals must not wait behind API traffic for a connection.
  const sql: Sql = await createPostgresSql(opts.databaseUrl, { max: 3, applicationName: applicationName(id), queryTimeoutMs: 3000, connectTimeoutMs: 3000 });
  let elector: Elector | null = null;
  const bus = new ClusterBus({
    url: opts.databaseUrl,
    sql,
    origin: id,
    applicationName: applicationName(id),
    log,
    onMessage: (m) => {
      if (m.type === 'assign') opts.hub.notify(m.hosts);
      else void hostSeenOnLeader(m.name);
    },
    onReconnect: () => opts.hub.notify(null),
  });
  const announce = (hosts: readonly string[] | null) => {
    opts.hub.notify(hosts);
    bus.publish({ type: 'assign', hosts });
  };

  // A host enrolled or relabelled on another replica: the leader's rollouts may take it.
  async function hostSeenOnLeader(name: string): Promise<void> {
    const driver = elector?.current();
    if (!driver) return;
    try {
      const rows = await sql.query<{ name: string; labels: Record<string, string>; allow: unknown; last_seen: number }>(
        `select name, labels, facts->'allow' as allow, last_seen from hosts where name = $1`,
        [name],
      );
      const row = rows[0];
      if (!row) return;
      const info: HostInfo = {
        name: row.name,
        labels: row.labels,
        ...(Array.isArray(row.allow) ? { allow: row.allow.filter((k): k is string => typeof k === 'string') } : {}),
        lastSeen: Number(row.last_seen),
      };
      await driver.hostSeen(info);
    } catch (err) {
      log.warn({ host: name, err: String(err) }, 'could not take in a host seen by another replica');
    }
  }

  elector = new Elector({
    sql,
    store: opts.store,
    holder: id,
    log,
    ...opts.lease,
    makeDriver: (store, beforeTick) => opts.makeDriver(store, { onAssignmentsChanged: announce, beforeTick }),
  });
  const idle = opts.makeDriver(followerStore(opts.store), { onAssignmentsChanged: () => {} });
  const driver = replicaDriver(elector, idle, (host) => bus.publish({ type: 'host', name: host.name }));
  const e = elector;
  return {
    id,
    elector: e,
    driver,
    async start(advertiseUrl) {
      await bus.start();
      await e.start(advertiseUrl);
    },
    async close() {
      await e.stop();
      await bus.stop();
      await sql.close().catch(() => {});
    },
  };
}

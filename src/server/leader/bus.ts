// Messages between replicas over PostgreSQL LISTEN/NOTIFY: assignment wake-ups (the leader
// committed a transition: agents long-polling on any replica re-read their assignments) and host
// sightings (a host enrolled or changed labels on a follower: the leader's active rollouts may take
// it). The channel is named after the schema, since notifications are database-wide. The listening
// connection is re-opened after it drops (a PostgreSQL restart); what was sent meanwhile is lost,
// so a reconnect wakes every local long-poll (they re-read from the store) and tells the listener.
import pg from 'pg';
import type { Sql } from '../../store/store.ts';
import type { Logger } from '../logger.ts';

/** NOTIFY payloads are limited to 8000 bytes: a long host list goes in several notifications. */
const MAX_PAYLOAD = 7500;
/** More notifications than this for one change (a wave of ~50,000 hosts): wake everyone instead. */
const MAX_CHUNKS = 400;

export type BusMessage = { readonly type: 'assign'; readonly hosts: readonly string[] | null } | { readonly type: 'host'; readonly name: string };

export interface BusOptions {
  readonly url: string;
  /** Publishes go through this pool. */
  readonly sql: Sql;
  /** This replica: its own messages are not delivered back to it. */
  readonly origin: string;
  readonly applicationName: string;
  readonly log: Logger;
  readonly onMessage: (message: BusMessage) => void;
  /** The listening connection came back after a drop: messages may have been missed. */
  readonly onReconnect?: () => void;
}

export class ClusterBus {
  private client: pg.Client | null = null;
  private channel: string | null = null;
  private stopped = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private failures = 0;
  listening = false;

  constructor(private readonly opts: BusOptions) {}

  async start(): Promise<void> {
    await this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const client = this.client;
    this.client = null;
    this.listening = false;
    await client?.end().catch(() => {});
  }

  publish(message: BusMessage): void {
    if (this.channel === null || this.stopped) return;
    const o = this.opts.origin;
    const payloads: string[] = [];
    if (message.type === 'host') {
      const text = JSON.stringify({ o, t: 'h', n: message.name });
      if (text.length <= MAX_PAYLOAD) payloads.push(text);
    } else if (message.hosts === null) {
      payloads.push(JSON.stringify({ o, t: 'a', h: null }));
    } else {
      let chunk: string[] = [];
      let size = 0;
      const flush = () => {
        if (chunk.length > 0) payloads.push(JSON.stringify({ o, t: 'a', h: chunk }));
        chunk = [];
        size = 0;
      };
      for (const host of message.hosts) {
        const cost = JSON.stringify(host).length + 1;
        if (size + cost > MAX_PAYLOAD - 64) flush();
        chunk.push(host);
        size += cost;
      }
      flush();
      if (payloads.length > MAX_CHUNKS) payloads.splice(0, payloads.length, JSON.stringify({ o, t: 'a', h: null }));
    }
    const channel = this.channel;
    for (const text of payloads) {
      this.opts.sql.query('select pg_notify($1, $2)', [channel, text]).catch((err: unknown) => {
        this.opts.log.debug({ err: String(err) }, 'could not notify the other replicas');
      });
    }
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const client = new pg.Client({ connectionString: this.opts.url, connectionTimeoutMillis: 5000, application_name: this.opts.applicationName });
    let dropped = false;
    const onDrop = (err?: Error) => {
      if (dropped) return;
      dropped = true;
      this.listening = false;
      if (this.client === client) this.client = null;
      client.end().catch(() => {});
      if (!this.stopped) {
        this.opts.log.warn({ err: err ? err.message : 'connection ended' }, 'lost the LISTEN connection to PostgreSQL; reconnecting');
        this.scheduleRetry();
      }
    };
    client.on('error', onDrop);
    client.on('end', () => onDrop());
    try {
      await client.connect();
      const rows = (await client.query<{ schema: string }>('select current_schema() as schema')).rows;
      this.channel = `sluice_${rows[0]?.schema ?? 'public'}`.slice(0, 63);
      client.on('notification', (n) => this.deliver(n.payload));
      await client.query(`listen "${this.channel.replace(/"/g, '""')}"`);
    } catch (err) {
      onDrop(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    if (this.stopped) {
      await client.end().catch(() => {});
      return;
    }
    this.client = client;
    this.listening = true;
    const missed = this.failures > 0;
    this.failures = 0;
    if (missed) {
      this.opts.log.info({}, 'LISTEN connection to PostgreSQL restored');
      this.opts.onReconnect?.();
    }
  }

  private scheduleRetry(): void {
    if (this.retryTimer || this.stopped) return;
    this.failures += 1;
    const delay = Math.min(5000, 250 * 2 ** Math.min(this.failures, 5));
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.connect();
    }, delay);
    this.retryTimer.unref?.();
  }

  private deliver(payload: string | undefined): void {
    if (!payload) return;
    let m: { o?: unknown; t?: unknown; h?: unknown; n?: unknown };
    try {
      m = JSON.parse(payload) as typeof m;
    } catch {
      return;
    }
    if (m.o === this.opts.origin) return;
    if (m.t === 'a') {
      const hosts = Array.isArray(m.h) ? m.h.filter((h): h is string => typeof h === 'string') : null;
      this.opts.onMessage({ type: 'assign', hosts });
    } else if (m.t === 'h' && typeof m.n === 'string') {
      this.opts.onMessage({ type: 'host', name: m.n });
    }
  }
}

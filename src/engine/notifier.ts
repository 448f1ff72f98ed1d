// Webhook notifications: rows for the durable outbox (written by the driver in the transaction of
// the transition that caused them), and the delivery loop the leader runs: oldest first per
// endpoint, signed (X-Sluice-Signature: sha256=HMAC(secret, body)), retried with capped exponential
// backoff, given up (state failed) after giveUpMs. At-least-once: a receiver de-duplicates on the
// delivery id. Nothing here is on a rollout's path: a receiver that is down or slow delays only
// its own later deliveries.
import { createHmac, randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Instant, NotifyEvent, NotifyFormat, Plan, RolloutRecord } from '../core/types.ts';
import type { RolloutEffect } from '../core/rollout/types.ts';
import { notifyEventOf, backoffMs, planEndpoints, renderBody, wants, type Endpoint, type NotificationFacts } from '../core/notify/notifications.ts';
import type { NotificationInput, NotificationRow, Store } from '../store/store.ts';

/** A server-wide endpoint (--notify-url, --notify-secret-file). The secret never goes to the store. */
export interface ServerEndpoint {
  readonly url: string;
  readonly format: NotifyFormat;
  readonly events?: readonly NotifyEvent[];
  readonly secret?: string;
}

export interface NotifierOptions {
  readonly store: Store;
  readonly log: { info(o: Record<string, unknown>, m: string): void; warn(o: Record<string, unknown>, m: string): void };
  readonly endpoints?: readonly ServerEndpoint[];
  readonly now?: () => Instant;
  /** Where `secretEnv` names are looked up (default process.env). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Per delivery (default 10 s). */
  readonly timeoutMs?: number;
  /** How often the loop looks for due deliveries while there is work (default 500 ms). */
  readonly pollMs?: number;
  /** How often it looks when the last look found nothing (default 2 s; kick() looks at once). */
  readonly idlePollMs?: number;
  readonly backoffBaseMs?: number;
  readonly backoffMaxMs?: number;
  /** A delivery not done this long after it was written is marked failed (default 24 h). */
  readonly giveUpMs?: number;
  /** Delivered and failed deliveries older than this are deleted (default 30 days; null: kept). */
  readonly retainMs?: number | null;
  /** Called after each attempt (metrics, tests). */
  readonly onAttempt?: (row: NotificationRow, ok: boolean, error: string | null) => void;
}

export const SIGNATURE_HEADER = 'X-Sluice-Signature';
const MAX_RESPONSE = 64 * 1024;

export function signBody(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;
}

export function newDeliveryId(now: Instant): string {
  return `d_${now.toString(36)}${randomBytes(6).toString('hex')}`;
}

export class Notifier {
  private readonly o: NotifierOptions;
  private readonly now: () => Instant;
  private readonly serverEndpoints: Endpoint[];
  private readonly busy = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private polling: Promise<void> | null = null;
  private readonly inflight = new Set<Promise<void>>();
  private lastPurge = 0;
  private idle = false;
  private kicked = false;

  constructor(o: NotifierOptions) {
    this.o = o;
    this.now = o.now ?? Date.now;
    this.serverEndpoints = (o.endpoints ?? []).map((e) => ({ url: e.url, format: e.format, ...(e.events ? { events: e.events } : {}), secretRef: e.secret ? 'server' : null }));
  }

  /** Whether any endpoint could want anything (no work at all otherwise). */
  get enabled(): boolean {
    return this.serverEndpoints.length > 0;
  }

  /** Outbox rows for a transition's effects: one per (notification event, endpoint that wants it). */
  forTransition(rollout: RolloutRecord, plan: Plan, effects: readonly RolloutEffect[], at: Instant): NotificationInput[] {
    const endpoints = plan.notify && plan.notify.length > 0 ? [...this.serverEndpoints, ...planEndpoints(plan.notify)] : this.serverEndpoints;
    if (endpoints.length === 0) return [];
    const out: NotificationInput[] = [];
    for (const e of effects) {
      if (e.type !== 'log') continue;
      const event = notifyEventOf(e.kind, e.message);
      if (!event) continue;
      const facts: NotificationFacts = {
        event,
        at,
        rollout: { id: rollout.id, name: rollout.name, state: rollout.state },
        ...(e.wave !== undefined ? { wave: e.wave } : {}),
        ...(e.host !== undefined ? { host: e.host } : {}),
        message: e.message,
      };
      out.push(...this.rows(endpoints, facts, rollout.id));
    }
    return out;
  }

  /** Outbox rows for an event outside a rollout (drift found): server-wide endpoints only. */
  forEvent(facts: NotificationFacts): NotificationInput[] {
    return this.rows(this.serverEndpoints, facts, facts.rollout?.id ?? null);
  }

  private rows(endpoints: readonly Endpoint[], facts: NotificationFacts, rolloutId: string | null): NotificationInput[] {
    const out: NotificationInput[] = [];
    for (const ep of endpoints) {
      if (!wants(ep, facts.event)) continue;
      const id = newDeliveryId(facts.at);
      out.push({ id, endpoint: ep.url, format: ep.format, secretRef: ep.secretRef, event: facts.event, rolloutId, body: renderBody(ep.format, id, facts), createdAt: facts.at });
    }
    return out;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.polling;
    await Promise.allSettled([...this.inflight]);
  }

  /** New rows were committed: look soon, even when idle. */
  kick(): void {
    if (!this.running) return;
    if (this.polling) {
      this.kicked = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.schedule(0);
  }

  private schedule(ms: number): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.polling = this.poll()
        .catch((err: unknown) => this.o.log.warn({ err: String(err) }, 'looking for webhook deliveries failed'))
        .finally(() => {
          this.polling = null;
          const again = this.kicked;
          this.kicked = false;
          this.schedule(again ? 0 : this.idle && this.inflight.size === 0 ? (this.o.idlePollMs ?? 2000) : (this.o.pollMs ?? 500));
        });
    }, ms);
    this.timer.unref?.();
  }

  /** One pass: start a delivery for every endpoint whose head is due and not already in flight. */
  async poll(): Promise<void> {
    const retainMs = this.o.retainMs === undefined ? 30 * 24 * 3600_000 : this.o.retainMs;
    if (retainMs !== null && this.now() - this.lastPurge >= 10 * 60_000) {
      this.lastPurge = this.now();
      const purged = await this.o.store.purgeNotifications(this.now() - retainMs, 5000);
      if (purged > 0) this.o.log.info({ purged, retainMs }, 'retention: purged old webhook deliveries');
    }
    const due = await this.o.store.dueNotifications(this.now(), 100, [...this.busy]);
    this.idle = due.length === 0;
    for (const row of due) {
      if (this.busy.has(row.endpoint)) continue;
      this.busy.add(row.endpoint);
      const p = this.deliver(row)
        .catch((err: unknown) => this.o.log.warn({ delivery: row.id, err: String(err) }, 'recording a webhook delivery failed'))
        .finally(() => {
          this.busy.delete(row.endpoint);
          this.inflight.delete(p);
        });
      this.inflight.add(p);
    }
  }

  private secretFor(row: NotificationRow): { secret: string | null; error: string | null } {
    if (row.secretRef === null) return { secret: null, error: null };
    if (row.secretRef === 'server') {
      const ep = (this.o.endpoints ?? []).find((e) => e.url === row.endpoint && e.secret);
      return ep?.secret ? { secret: ep.secret, error: null } : { secret: null, error: 'the server-wide secret for this endpoint is not configured any more' };
    }
    const name = row.secretRef.startsWith('env:') ? row.secretRef.slice(4) : row.secretRef;
    const value = (this.o.env ?? process.env)[name];
    return value ? { secret: value, error: null } : { secret: null, error: `the environment variable ${name} (secretEnv) is not set on the server` };
  }

  private async deliver(row: NotificationRow): Promise<void> {
    const { secret, error: secretError } = this.secretFor(row);
    const result = secretError !== null ? { ok: false, status: null, error: secretError } : await post(row, secret, this.o.timeoutMs ?? 10_000);
    const now = this.now();
    const attempts = row.attempts + 1;
    if (result.ok) {
      await this.o.store.updateNotification(row.id, { state: 'delivered', attempts, nextAttemptAt: now, lastError: null, lastStatus: result.status, deliveredAt: now });
    } else {
      const giveUp = now - row.createdAt >= (this.o.giveUpMs ?? 24 * 3600_000);
      const next = now + backoffMs(attempts, this.o.backoffBaseMs ?? 1000, this.o.backoffMaxMs ?? 300_000);
      await this.o.store.updateNotification(row.id, {
        state: giveUp ? 'failed' : 'pending',
        attempts,
        nextAttemptAt: giveUp ? now : next,
        lastError: result.error,
        lastStatus: result.status,
        deliveredAt: null,
      });
      const where = safeOrigin(row.endpoint);
      if (giveUp) this.o.log.warn({ delivery: row.id, endpoint: where, attempts, err: result.error }, 'webhook delivery given up');
      else if (attempts === 1 || attempts % 10 === 0) this.o.log.info({ delivery: row.id, endpoint: where, attempts, err: result.error }, 'webhook delivery failed; retrying with backoff');
    }
    this.o.onAttempt?.(row, result.ok, result.ok ? null : result.error);
  }
}

/** Scheme, host and port only: webhook URLs often carry a token in their path. */
export function safeOrigin(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}`;
  } catch {
    return '(invalid URL)';
  }
}

function post(row: NotificationRow, secret: string | null, timeoutMs: number): Promise<{ ok: boolean; status: number | null; error: string | null }> {
  let url: URL;
  try {
    url = new URL(row.endpoint);
  } catch {
    return Promise.resolve({ ok: false, status: null, error: 'invalid URL' });
  }
  const headers: Record<string, string | number> = {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(row.body),
    'user-agent': 'sluice-webhook/1',
    'x-sluice-event': row.event,
    'x-sluice-delivery': row.id,
  };
  if (secret !== null) headers[SIGNATURE_HEADER.toLowerCase()] = signBody(secret, row.body);
  return new Promise((resolve) => {
    let settled = false;
    const done = (r: { ok: boolean; status: number | null; error: string | null }) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(url, { method: 'POST', headers }, (res) => {
      const status = res.statusCode ?? 0;
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_RESPONSE) res.destroy();
      });
      const finish = () => done(status >= 200 && status < 300 ? { ok: true, status, error: null } : { ok: false, status, error: `HTTP ${status}` });
      res.on('end', finish);
      res.on('close', finish);
      res.on('error', () => finish());
    });
    const timer = setTimeout(() => {
      done({ ok: false, status: null, error: `no answer within ${timeoutMs} ms` });
      req.destroy();
    }, timeoutMs);
    timer.unref?.();
    req.on('error', (err) => done({ ok: false, status: null, error: err.message }));
    req.end(row.body);
  });
}

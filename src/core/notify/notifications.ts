// Notifications, the pure half: which event-log lines are notification events, and the bodies
// (the stable schema, version 1, and the Slack-compatible `{text}`). The server signs and delivers
// them (src/engine/notifier.ts) from the outbox; nothing here does I/O.
import type { Instant, NotifyEvent, NotifyFormat, NotifySpec, RolloutStatus } from '../types.ts';
import { NOTIFY_EVENTS } from '../types.ts';

/** Event-log kinds (src/core/rollout/transition.ts) that are notification events. */
export const NOTIFY_EVENT_OF_LOG: Readonly<Record<string, NotifyEvent>> = {
  'wave.started': 'wave.started',
  'wave.awaiting_approval': 'wave.awaiting_approval',
  'gate.failed': 'gate.failed',
  'rollout.halted': 'rollout.halted',
  'rollout.rolling_back': 'rollout.rolling_back',
  'rollout.rolled_back': 'rollout.rolled_back',
  'rollout.completed': 'rollout.completed',
  'host.reverted': 'host.reverted',
};

/**
 * The notification event of an event-log line, or undefined. `rollout.waiting` lines are waits at
 * a wave boundary (windows, freezes, fleet-wide limits): only a window's is an event
 * (`wave.waiting_window`, "waiting for window: opens Tue 09:00 Europe/Paris").
 */
export function notifyEventOf(kind: string, message: string): NotifyEvent | undefined {
  if (kind === 'rollout.waiting') return message.startsWith('waiting for window') ? 'wave.waiting_window' : undefined;
  return NOTIFY_EVENT_OF_LOG[kind];
}

export function isNotifyEvent(v: string): v is NotifyEvent {
  return (NOTIFY_EVENTS as readonly string[]).includes(v);
}

/** A webhook endpoint: from the plan (secret from an environment variable) or the server (secret file). */
export interface Endpoint {
  readonly url: string;
  readonly format: NotifyFormat;
  readonly events?: readonly NotifyEvent[];
  /** `env:NAME`, `server`, or null (unsigned). */
  readonly secretRef: string | null;
}

export function planEndpoints(notify: readonly NotifySpec[] | undefined): Endpoint[] {
  return (notify ?? []).map((n) => ({ url: n.url, format: n.format, ...(n.events ? { events: n.events } : {}), secretRef: n.secretEnv ? `env:${n.secretEnv}` : null }));
}

export function wants(endpoint: Endpoint, event: NotifyEvent): boolean {
  return endpoint.events === undefined || endpoint.events.includes(event);
}

/** The JSON body, schema version 1 (docs/notifications.md). Keys in this order, always. */
export interface NotificationBody {
  readonly version: 1;
  readonly id: string;
  readonly event: NotifyEvent;
  readonly at: string;
  readonly rollout: { readonly id: string; readonly name: string; readonly state: RolloutStatus } | null;
  readonly wave?: string;
  readonly host?: string;
  readonly message: string;
}

export interface NotificationFacts {
  readonly event: NotifyEvent;
  readonly at: Instant;
  readonly rollout: { readonly id: string; readonly name: string; readonly state: RolloutStatus } | null;
  readonly wave?: string;
  readonly host?: string;
  readonly message: string;
}

export function notificationBody(id: string, f: NotificationFacts): NotificationBody {
  return {
    version: 1,
    id,
    event: f.event,
    at: new Date(f.at).toISOString(),
    rollout: f.rollout,
    ...(f.wave !== undefined ? { wave: f.wave } : {}),
    ...(f.host !== undefined ? { host: f.host } : {}),
    message: f.message,
  };
}

const TITLES: Readonly<Record<NotifyEvent, string>> = {
  'wave.started': 'Wave started',
  'wave.awaiting_approval': 'Waiting for approval',
  'wave.waiting_window': 'Waiting for window',
  'gate.failed': 'Gate failed',
  'rollout.halted': 'Rollout halted',
  'rollout.rolling_back': 'Rolling back',
  'rollout.rolled_back': 'Rolled back',
  'rollout.completed': 'Rollout completed',
  'host.reverted': 'Host reverted itself',
  'drift.found': 'Drift found',
  'remediation.denied_burst': 'Remediation denied: mass failure',
};

/** The text of a Slack-compatible incoming webhook: `{"text": "..."}`. */
export function slackText(f: NotificationFacts): string {
  const what = f.rollout ? ` *${f.rollout.name}* (${f.rollout.id}, ${f.rollout.state})` : '';
  const where = [f.wave !== undefined ? `wave ${f.wave}` : null, f.host !== undefined ? `host ${f.host}` : null].filter((x) => x !== null).join(', ');
  return `[sluice] ${TITLES[f.event]}:${what}${where ? ` ${where}` : ''}: ${f.message}`;
}

/** The exact bytes POSTed to an endpoint for one event. */
export function renderBody(format: NotifyFormat, id: string, f: NotificationFacts): string {
  return format === 'slack' ? JSON.stringify({ text: slackText(f) }) : JSON.stringify(notificationBody(id, f));
}

/** Retry delay after `attempts` failed attempts: 1 s, 2 s, 4 s, ... capped. */
export function backoffMs(attempts: number, baseMs = 1000, maxMs = 300_000): number {
  const exp = Math.min(30, Math.max(0, attempts - 1));
  return Math.min(maxMs, baseMs * 2 ** exp);
}

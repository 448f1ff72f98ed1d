// One line per rollout event-log entry, for `rollout events` and under a watched status view.
import type { RolloutEventView } from './api-client.ts';
import { createPaint } from './render-style.ts';
import { formatClock, toIso } from './render-time.ts';
import { stripTerminalControlsDeep } from '../core/text.ts';

export interface RenderEventOptions {
  readonly color: boolean;
  /** IANA zone for the clock; the local zone when omitted. */
  readonly timeZone?: string;
}

export function renderEventLine(raw: RolloutEventView, options: RenderEventOptions): string {
  // Messages carry host output: no escape sequence of a host's reaches the operator's terminal.
  const event = stripTerminalControlsDeep(raw);
  const paint = createPaint(options.color);
  // Server messages usually name their host already; say it only when they do not.
  const host = event.host !== null && !event.message.includes(event.host) ? event.host : null;
  const where = [event.wave, host].filter((part): part is string => part !== null).join(' ');
  return [
    paint('dim', formatClock(event.at, options.timeZone)),
    paint(/fail|halt|abort|silent|rollback|rolled|exceeded/i.test(event.kind) ? 'red' : 'cyan', event.kind),
    ...(where !== '' ? [paint('dim', `[${where}]`)] : []),
    event.message,
  ].join('  ') + '\n';
}

export function eventJson(event: RolloutEventView): {
  seq: number;
  at: string;
  kind: string;
  message: string;
  host: string | null;
  wave: string | null;
} {
  return { seq: event.seq, at: toIso(event.at) ?? '', kind: event.kind, message: event.message, host: event.host, wave: event.wave };
}

// Follows a rollout until it reaches a final state: `rollout status --watch`, `rollout start
// --wait` (on stderr) and `rollout events --follow`. On a terminal the view is redrawn in place;
// into a pipe or file only what changed is printed, so logs stay readable.
import { UnavailableError } from '../core/errors.ts';
import { isFinalStatus } from '../core/rollout/rollout-state.ts';
import type { RolloutStatus } from '../core/types.ts';
import type { ApiClient, RolloutEventView, RolloutSummary, RolloutView } from './api-client.ts';
import type { CliIo, OutputStream } from './io.ts';
import { eventJson, renderEventLine } from './render-events.ts';
import { renderRolloutStatus, rolloutSignature, rolloutStatusJson } from './render-rollout.ts';

export const CLEAR_SCREEN = '\x1b[H\x1b[2J';
const EVENT_PAGE = 500;
/** Bounds one poll's catch-up through a long event log; the rest comes on the next poll. */
const MAX_EVENT_PAGES = 20;
/** Lines of the event log shown under a redrawn view, and printed when a watch starts. */
export const RECENT_EVENTS = 10;

export interface WatchOptions {
  readonly client: ApiClient;
  readonly id: string;
  readonly io: CliIo;
  readonly out: OutputStream;
  readonly color: boolean;
  /** `view`: the status view and new events; `json`: one status JSON per change; `events`: log lines only; `events-json`: one event JSON per line. */
  readonly format: 'view' | 'json' | 'events' | 'events-json';
  readonly intervalMs?: number;
  /** Consecutive failed polls (server unreachable) tolerated before giving up. */
  readonly maxFailures?: number;
  /** With `events*` formats: print the whole log first instead of only its recent lines. */
  readonly fromStart?: boolean;
}

/**
 * Polls until the rollout is final and returns its last state (the full view with the `view` and
 * `json` formats, which draw it).
 */
export async function watchRollout(options: WatchOptions): Promise<RolloutSummary> {
  const { client, id, io, out, color, format } = options;
  const intervalMs = options.intervalMs ?? 1000;
  const maxFailures = options.maxFailures ?? 30;
  let after: number | undefined;
  let lastSignature: string | undefined;
  let recent: string[] = [];
  let failures = 0;
  let first = true;
  const eventsOnly = format === 'events' || format === 'events-json';

  for (;;) {
    let rollout: RolloutSummary;
    let view: RolloutView | undefined;
    let events: RolloutEventView[];
    try {
      // State first, events second: once the state is final, this poll's events include the last ones.
      if (eventsOnly) {
        rollout = await fetchRolloutSummary(client, id);
      } else {
        view = await client.getRollout(id);
        rollout = view;
      }
      events = await fetchNewEvents(client, id, after);
      failures = 0;
    } catch (error) {
      // A server restart mid-watch should not end the watch; a lasting outage should.
      failures += 1;
      if (!(error instanceof UnavailableError) || failures >= maxFailures) throw error;
      await io.sleep(intervalMs);
      continue;
    }
    const last = events.at(-1);
    if (last !== undefined) after = last.seq;
    // On the first poll the whole log arrives: only its tail is news to the person watching.
    const shown = first && options.fromStart !== true ? events.slice(-RECENT_EVENTS) : events;
    first = false;
    const now = io.now();

    if (view === undefined) {
      for (const event of shown) {
        out.write(format === 'events' ? renderEventLine(event, { color }) : `${JSON.stringify(eventJson(event))}\n`);
      }
    } else if (format === 'json') {
      const signature = rolloutSignature(view);
      if (signature !== lastSignature) out.write(`${JSON.stringify(rolloutStatusJson(view))}\n`);
      lastSignature = signature;
    } else if (out.isTTY) {
      recent = [...recent, ...shown.map((e) => renderEventLine(e, { color }))].slice(-RECENT_EVENTS);
      out.write(CLEAR_SCREEN + renderRolloutStatus(view, { now, color }) + (recent.length > 0 ? `\n${recent.join('')}` : ''));
    } else {
      const signature = rolloutSignature(view);
      if (signature !== lastSignature) out.write(`${lastSignature === undefined ? '' : '\n'}${renderRolloutStatus(view, { now, color })}`);
      lastSignature = signature;
      for (const event of shown) out.write(renderEventLine(event, { color }));
    }

    if (isFinalStatus(rollout.state as RolloutStatus)) return rollout;
    await io.sleep(intervalMs);
  }
}

/**
 * A rollout's state without loading its steps (GET /v1/rollouts/:id reads every one): from the
 * list, which holds the newest rollouts; an older one (or an unknown id, which 404s) from its view.
 */
export async function fetchRolloutSummary(client: ApiClient, id: string): Promise<RolloutSummary> {
  const listed = (await client.listRollouts()).find((r) => r.id === id);
  return listed ?? (await client.getRollout(id));
}

/** Events after `after` (all when undefined), paging through the log up to a bound. */
export async function fetchNewEvents(client: ApiClient, id: string, after: number | undefined): Promise<RolloutEventView[]> {
  const all: RolloutEventView[] = [];
  let cursor = after;
  for (let page = 0; page < MAX_EVENT_PAGES; page++) {
    const events = await client.listEvents(id, cursor, EVENT_PAGE);
    all.push(...events);
    const last = events.at(-1);
    if (events.length < EVENT_PAGE || last === undefined) break;
    cursor = last.seq;
  }
  return all;
}

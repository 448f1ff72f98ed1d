// Retention: the event log and the report dedup records of finished rollouts (completed, halted,
// rolled_back, aborted) are deleted once the rollout has not changed for `retainMs` (default 30
// days). A periodic purge deletes them in bounded batches (one short statement per batch, a pause
// between batches), so it never holds locks for long or starves the API. Active rollouts are never
// touched, and the rollout, wave and step rows stay: `rollout status` of an old rollout still works,
// its `rollout events` are empty.
import type { Store } from '../store/store.ts';
import { parseDuration } from '../core/plan/duration.ts';
import { ValidationError } from '../core/errors.ts';

export const DEFAULT_RETAIN_FINISHED = '30d';
export const DEFAULT_RETENTION_INTERVAL_MS = 10 * 60_000;
export const RETENTION_BATCH = 5000;
/** Per run: at most this many batches per table, then the next run carries on. */
const MAX_BATCHES_PER_RUN = 200;

export interface RetentionLog {
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
}

/** `--retain-finished`: a duration (30d, 12h) or `off` (keep everything). Null means off. */
export function parseRetention(text: string): number | null {
  if (text === 'off' || text === 'never') return null;
  const ms = parseDuration(text);
  if (ms === null || ms <= 0) {
    throw new ValidationError(`--retain-finished takes a duration such as 30d, 12h or 90m, or "off"; got "${text}"`);
  }
  return ms;
}

export interface PurgeTotals {
  readonly events: number;
  readonly reports: number;
  readonly batches: number;
}

/** One purge run: batches until nothing is left (or MAX_BATCHES_PER_RUN), pausing between them. */
export async function purgeFinishedRollouts(
  store: Pick<Store, 'purgeFinished'>,
  opts: { retainMs: number; now: number; batch?: number; pauseMs?: number; shouldStop?: () => boolean },
): Promise<PurgeTotals> {
  const cutoff = opts.now - opts.retainMs;
  let events = 0;
  let reports = 0;
  let batches = 0;
  while (batches < MAX_BATCHES_PER_RUN && !(opts.shouldStop?.() ?? false)) {
    const done = await store.purgeFinished(cutoff, opts.batch ?? RETENTION_BATCH);
    batches += 1;
    events += done.events;
    reports += done.reports;
    if (done.events === 0 && done.reports === 0) break;
    if ((opts.pauseMs ?? 0) > 0) await new Promise((r) => setTimeout(r, opts.pauseMs));
  }
  return { events, reports, batches };
}

/** Runs the purge every `intervalMs` (first run soon after start). Returns a stop function. */
export function startRetention(opts: {
  store: Pick<Store, 'purgeFinished'>;
  log: RetentionLog;
  retainMs: number;
  now: () => number;
  intervalMs?: number;
  batch?: number;
}): { stop(): Promise<void>; runNow(): Promise<PurgeTotals> } {
  const intervalMs = opts.intervalMs ?? DEFAULT_RETENTION_INTERVAL_MS;
  let stopped = false;
  let running: Promise<PurgeTotals> | null = null;
  const run = (): Promise<PurgeTotals> => {
    if (running) return running;
    running = purgeFinishedRollouts(opts.store, {
      retainMs: opts.retainMs,
      now: opts.now(),
      pauseMs: 50,
      shouldStop: () => stopped,
      ...(opts.batch !== undefined ? { batch: opts.batch } : {}),
    })
      .then((totals) => {
        if (totals.events + totals.reports > 0) opts.log.info({ ...totals, retainMs: opts.retainMs }, 'retention: purged events and reports of finished rollouts');
        return totals;
      })
      .catch((err: unknown) => {
        opts.log.warn({ err: String(err) }, 'retention purge failed; it runs again later');
        return { events: 0, reports: 0, batches: 0 };
      })
      .finally(() => {
        running = null;
      });
    return running;
  };
  const first = setTimeout(() => void run(), Math.min(intervalMs, 30_000));
  const timer = setInterval(() => void run(), intervalMs);
  first.unref?.();
  timer.unref?.();
  return {
    runNow: run,
    async stop() {
      stopped = true;
      clearTimeout(first);
      clearInterval(timer);
      await running;
    },
  };
}

// Jittered exponential backoff shared by every network loop of the agent: a fleet of agents that
// lost the server together must not come back in lockstep (full jitter spreads them out).

export interface BackoffOptions {
  readonly initialMs: number;
  readonly maxMs: number;
}

/** Full jitter: uniform in [0, min(maxMs, initialMs * 2^attempt)]. `random` returns [0, 1). */
export function backoffDelay(attempt: number, opts: BackoffOptions, random: () => number): number {
  const exp = opts.initialMs * 2 ** Math.max(0, attempt);
  const cap = Math.min(opts.maxMs, Number.isFinite(exp) ? exp : opts.maxMs);
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.floor(r * cap);
}

/** The per-loop failure counter: `next()` after a failure, `reset()` after a success. */
export class Backoff {
  private attempt = 0;
  constructor(
    private readonly opts: BackoffOptions,
    private readonly random: () => number = Math.random,
  ) {}

  /** The delay to wait before the next try; each call grows the ceiling. */
  next(): number {
    const delay = backoffDelay(this.attempt, this.opts, this.random);
    this.attempt += 1;
    return delay;
  }

  reset(): void {
    this.attempt = 0;
  }

  get failures(): number {
    return this.attempt;
  }
}

/** Waits `ms`, or less if `signal` aborts. Resolves true if the full time passed. */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve(false);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export interface RetryOptions {
  readonly backoff: BackoffOptions;
  readonly signal: AbortSignal;
  readonly random?: () => number;
  /** Called after each failure with the delay before the next try (for logging). */
  readonly onError?: (err: unknown, failures: number, delayMs: number) => void;
}

/**
 * Calls `fn` until it resolves, waiting a jittered, growing delay after each failure.
 * Returns undefined if `signal` aborts first. Never rejects.
 */
export async function retry<T>(fn: () => Promise<T>, opts: RetryOptions): Promise<T | undefined> {
  const backoff = new Backoff(opts.backoff, opts.random);
  while (!opts.signal.aborted) {
    try {
      return await fn();
    } catch (err) {
      if (opts.signal.aborted) return undefined;
      const delay = backoff.next();
      opts.onError?.(err, backoff.failures, delay);
      await sleep(delay, opts.signal);
    }
  }
  return undefined;
}

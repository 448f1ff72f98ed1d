// Commit-confirmed on the agent: a change applied on a host stays only if it is confirmed within the
// plan's confirmWindow. Confirmed = the server acknowledged the apply and check reports, the agent
// is still exchanging with the server at the end of the window, and the invariants the plan
// watches (ipRulesPreserved / routesPreserved, as a diff against the snapshot taken just before
// the change) hold throughout. Otherwise the agent rolls back by itself: a change that cuts the
// host off the network cannot also take away the server's chance to undo it.
import { sleep } from './backoff.ts';

export interface ConfirmInput {
  readonly now: number;
  /** When the apply finished: the window starts there. */
  readonly appliedAt: number;
  readonly windowMs: number;
  /** Last successful exchange with the server (heartbeat, poll or reports), null if none yet. */
  readonly lastContact: number | null;
  /** Reports of this apply (apply and first checks) the server has not acknowledged yet. */
  readonly unacked: number;
  /** What is wrong with the watched invariants, null when they hold (or none are watched). */
  readonly invariantProblem: string | null;
  /** How old the last exchange may be at the end of the window (a few heartbeats). */
  readonly staleMs: number;
}

export type ConfirmVerdict =
  | { readonly state: 'waiting' }
  | { readonly state: 'confirmed' }
  | { readonly state: 'rollback'; readonly why: string };

function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10}s`;
}

/** Pure: what to do now. An invariant failure rolls back at once; reachability is judged at the end of the window. */
export function confirmVerdict(i: ConfirmInput): ConfirmVerdict {
  if (i.invariantProblem !== null) return { state: 'rollback', why: `invariant checks failed: ${i.invariantProblem}` };
  const end = i.appliedAt + i.windowMs;
  if (i.now < end) return { state: 'waiting' };
  const window = seconds(i.windowMs);
  if (i.lastContact === null || i.lastContact < i.appliedAt) {
    return { state: 'rollback', why: `could not reach the server: no successful exchange within the confirm window (${window}) after the change` };
  }
  if (i.unacked > 0) {
    return { state: 'rollback', why: `could not reach the server: ${i.unacked} report(s) of this change not acknowledged within the confirm window (${window})` };
  }
  if (i.now - i.lastContact > i.staleMs) {
    return { state: 'rollback', why: `could not reach the server: last successful exchange ${seconds(i.now - i.lastContact)} ago at the end of the confirm window (${window})` };
  }
  return { state: 'confirmed' };
}

export interface ConfirmWatchOptions {
  readonly appliedAt: number;
  readonly windowMs: number;
  readonly staleMs: number;
  /** How often the invariants are looked at during the window. */
  readonly probeMs: number;
  readonly now: () => number;
  readonly lastContact: () => number | null;
  readonly unacked: () => Promise<number>;
  readonly invariantProblem: () => Promise<string | null>;
  /** False once the step no longer needs watching (it was rolled back by the server's order). */
  readonly stillApplied: () => Promise<boolean>;
  readonly signal: AbortSignal;
}

/** Watches until a verdict; null when stopped or no longer needed. Bounded by the window. */
export async function watchConfirmWindow(o: ConfirmWatchOptions): Promise<Exclude<ConfirmVerdict, { state: 'waiting' }> | null> {
  while (!o.signal.aborted) {
    if (!(await o.stillApplied())) return null;
    const invariantProblem = await o.invariantProblem();
    const now = o.now();
    const end = o.appliedAt + o.windowMs;
    const unacked = now >= end ? await o.unacked() : 0;
    const verdict = confirmVerdict({
      now,
      appliedAt: o.appliedAt,
      windowMs: o.windowMs,
      lastContact: o.lastContact(),
      unacked,
      invariantProblem,
      staleMs: o.staleMs,
    });
    if (verdict.state !== 'waiting') return verdict;
    await sleep(Math.max(1, Math.min(o.probeMs, end - now)), o.signal);
  }
  return null;
}

/** Remembers the last successful exchange with the server; the agent's client marks it. */
export class ServerContact {
  private last: number | null = null;
  constructor(private readonly now: () => number = Date.now) {}
  mark(): void {
    this.last = this.now();
  }
  get lastAt(): number | null {
    return this.last;
  }
}

/** Makes every answered call of `client` (heartbeat, assignments, reports) mark `contact`. */
export function trackContact<C extends { heartbeat: (...a: never[]) => Promise<unknown>; assignments: (...a: never[]) => Promise<unknown>; reports: (...a: never[]) => Promise<unknown> }>(
  client: C,
  contact: ServerContact,
): C {
  for (const method of ['heartbeat', 'assignments', 'reports'] as const) {
    const call = client[method].bind(client) as (...a: unknown[]) => Promise<unknown>;
    (client as Record<string, unknown>)[method] = async (...args: unknown[]) => {
      const answer = await call(...args);
      contact.mark();
      return answer;
    };
  }
  return client;
}

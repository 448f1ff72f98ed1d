// The host's apt package lists, refreshed when they are older than a plan allows: apt preflight
// downloads the exact versions to read their scripts, and with stale (or missing) lists that fails
// "Unable to locate package". Age is the mtime of /var/lib/apt/periodic/update-success-stamp, which
// apt's daily job and Debian/Ubuntu's update hook touch after a successful `apt-get update`, and
// which the agent touches after its own. No stamp: the age is unknown, so the lists are refreshed.
import { mkdir, readdir, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describeResult, tail } from '../exec.ts';
import { defaultRunner } from '../facts/argv-runner.ts';
import type { ArgvRunner } from '../facts/argv-runner.ts';
import { aptEnvironment } from './apt.ts';

export const LISTS_STAMP = 'var/lib/apt/periodic/update-success-stamp';
const LISTS_DIR = 'var/lib/apt/lists';

export interface ListsState {
  /** Some Packages index is there. */
  readonly present: boolean;
  /** Since the last successful `apt-get update`; null: unknown (no stamp). */
  readonly ageMs: number | null;
}

export async function readListsState(root: string, now: number = Date.now()): Promise<ListsState> {
  const names = await readdir(join(root, LISTS_DIR)).catch(() => [] as string[]);
  const present = names.some((n) => /_Packages(\.[a-z0-9]+)?$/.test(n));
  const st = await stat(join(root, LISTS_STAMP)).catch(() => null);
  return { present, ageMs: st === null ? null : Math.max(0, now - st.mtimeMs) };
}

export interface ListsOutcome {
  readonly ok: boolean;
  readonly refreshed: boolean;
  /** Why the lists were refreshed, or why they could not be. */
  readonly message: string;
}

export function formatAge(ms: number): string {
  if (ms < 60_000) return `${Math.round(ms / 1000)}s`;
  if (ms < 3600_000) return `${Math.round(ms / 60_000)}m`;
  const h = Math.floor(ms / 3600_000);
  const m = Math.round((ms % 3600_000) / 60_000);
  return m === 0 ? `${h}h` : `${h}h${m}m`;
}

// One `apt-get update` per root at a time (preflight and the drift guard may both want one).
const running = new Map<string, Promise<ListsOutcome>>();

export interface RefreshOptions {
  readonly run?: ArgvRunner;
  readonly timeoutMs?: number;
  readonly now?: () => number;
  readonly signal?: AbortSignal;
}

/**
 * Refreshes the lists of `root` ('/' on a real host; a test root uses its own apt configuration)
 * when they are missing, of unknown age or older than `maxAgeMs` (0: always). ok false says
 * exactly why they are stale and why `apt-get update` did not fix it.
 */
export async function ensureFreshLists(root: string, maxAgeMs: number, opts: RefreshOptions = {}): Promise<ListsOutcome> {
  const now = opts.now ?? Date.now;
  const state = await readListsState(root, now());
  const why = !state.present
    ? 'no apt package lists'
    : maxAgeMs <= 0
      ? 'the plan asks for fresh apt package lists (maxListAge 0)'
      : state.ageMs === null
        ? `apt package lists of unknown age (no ${'/' + LISTS_STAMP})`
        : state.ageMs > maxAgeMs
          ? `apt package lists ${formatAge(state.ageMs)} old (the plan allows ${formatAge(maxAgeMs)})`
          : null;
  if (why === null) return { ok: true, refreshed: false, message: `apt package lists ${formatAge(state.ageMs ?? 0)} old` };
  const busy = running.get(root);
  if (busy) return busy;
  const p = refresh(root, why, opts).finally(() => running.delete(root));
  running.set(root, p);
  return p;
}

async function refresh(root: string, why: string, opts: RefreshOptions): Promise<ListsOutcome> {
  const run = opts.run ?? defaultRunner;
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const env = await aptEnvironment(root);
  const res = await run(['apt-get', 'update', '-q', '-o', `DPkg::Lock::Timeout=${Math.max(1, Math.floor(timeoutMs / 1000))}`], {
    timeoutMs,
    env,
    maxOutputBytes: 256 * 1024,
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  // apt-get update exits 0 even when some sources failed ("W: Failed to fetch"; "Some index files failed").
  const output = `${res.stderr}\n${res.stdout}`;
  const failures = output.split('\n').filter((l) => /^(E|W): (Failed to fetch|Some index files failed|Could not|Unable to|The repository)/.test(l.trim()));
  if (res.exitCode !== 0 || failures.length > 0) {
    const detail = failures.length > 0 ? failures.map((l) => l.trim()).join(' ') : tail(output, 400);
    return { ok: false, refreshed: false, message: `${why}, and apt-get update failed (${describeResult(res, timeoutMs)}): ${tail(detail, 600)}` };
  }
  await touchStamp(root);
  return { ok: true, refreshed: true, message: `${why}: refreshed them (apt-get update)` };
}

async function touchStamp(root: string): Promise<void> {
  const path = join(root, LISTS_STAMP);
  await mkdir(join(root, 'var/lib/apt/periodic'), { recursive: true });
  const t = new Date();
  await utimes(path, t, t).catch(() => writeFile(path, ''));
}

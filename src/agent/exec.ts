// Runs an argv (never a shell string) with a timeout, a bounded output and a process group that is
// killed as a whole, so a command's children cannot outlive its timeout.
import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { ValidationError } from '../core/errors.ts';

export interface RunArgvOptions {
  readonly timeoutMs: number;
  /** Bytes kept per stream (the first ones); default 64 KiB. */
  readonly maxOutputBytes?: number;
  /** The child's whole environment (build it with childEnv); default childEnv(). */
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
  readonly signal?: AbortSignal;
}

export interface RunArgvResult {
  /** null when the process was killed by a signal or could not be started. */
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
  readonly truncated: boolean;
  /** Why the process could not be started (e.g. "spawn nope ENOENT"), else null. */
  readonly error: string | null;
}

const DEFAULT_MAX_OUTPUT = 64 * 1024;
const KILL_GRACE_MS = 2000;
// After the command exits, a background child may still hold its stdout open; do not wait for it forever.
const CLOSE_GRACE_MS = 1000;

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

// What a child may inherit from the agent: the search path, home, locale, time zone, temp dir and
// proxies (apt downloads through them). Nothing else: the agent's own environment holds its
// secrets (SLUICE_TOKEN is passed by env), and a child's stderr ends up in report messages.
const INHERITED_ENV = [
  'PATH', 'HOME', 'LANG', 'LC_ALL', 'LANGUAGE', 'TZ', 'TMPDIR',
  'http_proxy', 'https_proxy', 'no_proxy', 'HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY',
] as const;

/** The environment every child of the agent starts from, plus `extra`. runArgv's default. */
export function childEnv(extra: Readonly<Record<string, string>> = {}): Record<string, string> {
  const env: Record<string, string> = { PATH: DEFAULT_PATH };
  for (const name of INHERITED_ENV) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  return { ...env, ...extra };
}

/** Throws ValidationError unless argv is a non-empty array of strings without NUL bytes. */
export function validateArgv(argv: unknown): asserts argv is readonly string[] {
  if (!Array.isArray(argv) || argv.length === 0) {
    throw new ValidationError('argv must be a non-empty array of strings');
  }
  argv.forEach((arg: unknown, i) => {
    if (typeof arg !== 'string') throw new ValidationError(`argv[${i}] must be a string`);
    if (arg.includes('\0')) throw new ValidationError(`argv[${i}] contains a NUL byte`);
  });
  if (argv[0] === '') throw new ValidationError('argv[0] (the program) must not be empty');
}

/**
 * Whether any live (non-zombie) process is left in the group. kill(-pgid, 0) answers for most
 * cases at once; only a group that still answers is looked up in /proc (asynchronously), since
 * kill also counts zombies that an init which does not reap would leave forever.
 */
export async function groupAlive(pgid: number): Promise<boolean> {
  try {
    process.kill(-pgid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return true; // no /proc: trust kill
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = await readFile(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // "pid (comm) state ppid pgrp ...": comm may contain spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) === pgid && fields[0] !== 'Z') return true;
  }
  return false;
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

/**
 * Never throws for a failing command (non-zero exit, signal, timeout, missing program): the
 * result says what happened. Throws only for an invalid argv.
 */
export function runArgv(argv: readonly string[], opts: RunArgvOptions): Promise<RunArgvResult> {
  validateArgv(argv);
  const max = opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
  const [program, ...args] = argv as [string, ...string[]];

  return new Promise<RunArgvResult>((resolve) => {
    let child;
    try {
      child = spawn(program, args, {
        shell: false,
        detached: true, // own process group, so a timeout kills the children too
        stdio: ['ignore', 'pipe', 'pipe'],
        env: opts.env ? { ...opts.env } : childEnv(),
        ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
      });
    } catch (err) {
      resolve(failedToStart(err));
      return;
    }

    const out = { stdout: [] as Buffer[], stderr: [] as Buffer[], stdoutBytes: 0, stderrBytes: 0 };
    let truncated = false;
    const collect = (which: 'stdout' | 'stderr') => (chunk: Buffer) => {
      const kept = which === 'stdout' ? out.stdoutBytes : out.stderrBytes;
      const room = max - kept;
      if (room <= 0) {
        truncated = true;
        return;
      }
      const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
      if (part.length < chunk.length) truncated = true;
      out[which].push(part);
      if (which === 'stdout') out.stdoutBytes += part.length;
      else out.stderrBytes += part.length;
    };
    child.stdout?.on('data', collect('stdout'));
    child.stderr?.on('data', collect('stderr'));

    const pid = child.pid;
    let timedOut = false;
    let killing = false;
    let exitCode: number | null = null;
    let exitSignal: string | null = null;
    let exited = false;
    let finished = false;
    let startError: string | null = null;
    const timers: NodeJS.Timeout[] = [];

    const finish = () => {
      if (finished) return;
      finished = true;
      for (const t of timers) clearTimeout(t);
      opts.signal?.removeEventListener('abort', onAbort);
      child.stdout?.destroy();
      child.stderr?.destroy();
      resolve({
        exitCode,
        signal: exitSignal,
        stdout: Buffer.concat(out.stdout).toString('utf8'),
        stderr: Buffer.concat(out.stderr).toString('utf8'),
        timedOut,
        truncated,
        error: startError,
      });
    };

    // After a kill, resolve only once the whole group is gone (or SIGKILL was sent and the grace passed),
    // so callers can rely on "returned" meaning "nothing of it is still running".
    const finishWhenGroupGone = (deadline: number) => {
      if (finished) return;
      if (pid === undefined || Date.now() >= deadline) {
        finish();
        return;
      }
      groupAlive(pid).then(
        (alive) => {
          if (!alive || finished) finish();
          else timers.push(setTimeout(() => finishWhenGroupGone(deadline), 25));
        },
        () => finish(),
      );
    };

    const startKill = () => {
      if (killing || pid === undefined) return;
      killing = true;
      killGroup(pid, 'SIGTERM');
      timers.push(setTimeout(() => killGroup(pid, 'SIGKILL'), KILL_GRACE_MS));
    };

    const onAbort = () => startKill();
    if (opts.signal) {
      if (opts.signal.aborted) startKill();
      else opts.signal.addEventListener('abort', onAbort, { once: true });
    }
    timers.push(
      setTimeout(() => {
        if (exited) return;
        timedOut = true;
        startKill();
      }, opts.timeoutMs),
    );

    child.on('error', (err) => {
      // Spawn failures (ENOENT, EACCES) arrive here; there is no process to wait for.
      if (pid === undefined) {
        startError = err.message;
        exited = true;
        finish();
      }
    });
    child.on('exit', (code, signal) => {
      exited = true;
      exitCode = code;
      exitSignal = signal;
      // A child that left the group (setsid) may hold the pipes open: bound the wait for 'close'.
      timers.push(setTimeout(finish, killing ? KILL_GRACE_MS + CLOSE_GRACE_MS : CLOSE_GRACE_MS));
    });
    child.on('close', () => {
      if (killing && pid !== undefined) finishWhenGroupGone(Date.now() + KILL_GRACE_MS + 1000);
      else finish();
    });
  });
}

function failedToStart(err: unknown): RunArgvResult {
  return {
    exitCode: null,
    signal: null,
    stdout: '',
    stderr: '',
    timedOut: false,
    truncated: false,
    error: err instanceof Error ? err.message : String(err),
  };
}

/** "exited with code 3", "killed by SIGTERM after the 500 ms timeout", "could not start: ...". */
export function describeResult(result: RunArgvResult, timeoutMs: number): string {
  if (result.error !== null) return `could not start: ${result.error}`;
  if (result.timedOut) return `timed out after ${timeoutMs} ms (process group killed)`;
  if (result.signal !== null) return `killed by ${result.signal}`;
  return `exited with code ${result.exitCode}`;
}

/** The last `chars` characters of a command's output, trimmed, for messages. */
export function tail(text: string, chars = 500): string {
  const t = text.trim();
  return t.length > chars ? `...${t.slice(t.length - chars)}` : t;
}

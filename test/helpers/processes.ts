// Real processes for end-to-end tests: a `sluice server` and `sluice agent`s started through the
// real CLI entry point, with their output kept for assertions and debugging. Every wait is bounded.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const REPO = resolve(import.meta.dirname, '../..');
export const SLUICE = join(REPO, 'bin', 'sluice');

export interface Proc {
  readonly child: ChildProcess;
  output(): string;
  /** Resolves with the exit code (or signal name) once the process has ended. */
  readonly exited: Promise<number | string>;
  kill(signal?: NodeJS.Signals): Promise<number | string>;
}

/** `softNoFile`: started under that soft open-file limit (through `sh -c 'ulimit -Sn N'`). */
export function startProc(args: readonly string[], env: Record<string, string> = {}, cwd = REPO, softNoFile?: number): Proc {
  const [cmd, argv] = softNoFile === undefined ? [SLUICE, args] : ['sh', ['-c', `ulimit -Sn ${softNoFile} && exec "$@"`, 'sh', SLUICE, ...args]];
  const child = spawn(cmd, argv, {
    cwd,
    env: { ...process.env, SLUICE_LOG_LEVEL: process.env.SLUICE_LOG_LEVEL ?? 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (chunk: Buffer) => {
    out += chunk.toString();
    // Bound memory: keep the last 2 MB.
    if (out.length > 2_000_000) out = out.slice(-1_000_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | string>((r) => child.once('exit', (code, signal) => r(code ?? signal ?? 'unknown')));
  return {
    child,
    output: () => out,
    exited,
    async kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
}

export async function waitFor<T>(what: string, fn: () => Promise<T | null | undefined | false> | T | null | undefined | false, timeoutMs = 30_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
}

export function tempDir(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), `sluice-${prefix}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true, maxRetries: 5 }) };
}

export const ADMIN_TOKEN = 'sla_e2e_admin_token_0123456789';
export const ENROLL_TOKEN = 'sle_e2e_enroll_token_0123456789';

export interface ServerProc extends Proc {
  readonly url: string;
  readonly port: number;
}

/** Starts `sluice server` on the given port (0: any) and waits until /healthz answers. */
export async function startServerProc(dataDir: string, port = 0, extraEnv: Record<string, string> = {}, softNoFile?: number): Promise<ServerProc> {
  const proc = startProc(
    ['server', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir],
    { SLUICE_ADMIN_TOKEN: ADMIN_TOKEN, SLUICE_ENROLL_TOKEN: ENROLL_TOKEN, ...extraEnv },
    REPO,
    softNoFile,
  );
  try {
    // A bound, not a target: an embedded database on a loaded 2-core machine has taken over 30 s.
    const url = await waitFor(
      'the server to listen',
      async () => {
        if (proc.child.exitCode !== null) throw new Error(`server exited: ${proc.output()}`);
        const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(proc.output());
        return m ? m[1] : null;
      },
      60_000,
      50,
    );
    await waitFor('the server to answer /healthz', async () => (await fetch(`${url}/healthz`)).ok, 10_000, 50);
    return { ...proc, url, port: Number(new URL(url).port) };
  } catch (err) {
    // Stopped before its data directory is removed (it would still be writing into it).
    await proc.kill('SIGKILL');
    throw err;
  }
}

export interface AgentSpec {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly allow?: string;
  readonly stateDir: string;
  readonly extraArgs?: readonly string[];
}

export function startAgentProc(serverUrl: string, spec: AgentSpec, env: Record<string, string> = {}): Proc {
  const labels = Object.entries(spec.labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  return startProc(
    [
      'agent',
      '--server', serverUrl,
      '--name', spec.name,
      '--labels', labels,
      '--allow', spec.allow ?? 'command',
      '--state-dir', spec.stateDir,
      '--heartbeat', '1s',
      ...(spec.extraArgs ?? []),
    ],
    // The token in the environment, not on the command line (where ps shows it, and --token warns).
    { SLUICE_ENROLL_TOKEN: ENROLL_TOKEN, ...env },
  );
}

/** Calls the operator API with the e2e admin token. */
export async function api(url: string, method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(url + path, {
    method,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} -> ${res.status}: ${text}`);
  return JSON.parse(text);
}

/** One API call with `token`, whatever its status: the status and the parsed body (null when empty). */
export async function callApi(url: string, token: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(url + path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

/** Runs the CLI to completion and returns its exit code and output. */
export async function runCli(args: readonly string[], env: Record<string, string> = {}, timeoutMs = 120_000): Promise<{ code: number | string; stdout: string; stderr: string }> {
  const child = spawn(SLUICE, args, { cwd: REPO, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await new Promise<number | string>((r) => child.once('exit', (c, s) => r(c ?? s ?? 'unknown')));
  clearTimeout(timer);
  return { code, stdout, stderr };
}

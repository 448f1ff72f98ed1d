// HTTP client for the agent routes of docs/api.md. Every call has a timeout; failures become
// SluiceErrors (unauthenticated for 401, unavailable for network errors and 5xx) so the agent's
// loops can decide between backing off and re-enrolling. Never logs: it holds secrets.
import { z } from 'zod';
import { SluiceError, UnavailableError, isErrorCode } from '../core/errors.ts';
import { normalizeServerUrl } from './server-url.ts';
import type { Labels } from '../core/types.ts';
import { parseAssignmentsAnswer, type AssignmentsAnswer } from './assignment.ts';
import type { AgentReport } from './state-dir.ts';

export interface ClientOptions {
  /** Base URL, e.g. http://127.0.0.1:7400 */
  readonly server: string;
  /** Per-request timeout (long-polls add their wait to it). Default 15 s. */
  readonly timeoutMs?: number;
}

export interface EnrollBody {
  readonly name: string;
  readonly labels: Labels;
  readonly facts?: Record<string, unknown>;
}

const enrollAnswer = z.object({ host: z.string().min(1), credential: z.string().min(1) });
const heartbeatAnswer = z.object({ ok: z.boolean(), heartbeatMs: z.number().optional() });
const reportsAnswer = z.object({ accepted: z.array(z.string()) });
const driftAnswer = z.object({ recorded: z.number() });
const errorAnswer = z.object({ error: z.object({ code: z.string(), message: z.string() }) });

export class AgentClient {
  readonly server: string;
  private readonly timeoutMs: number;

  constructor(opts: ClientOptions) {
    this.server = normalizeServerUrl(opts.server);
    this.timeoutMs = opts.timeoutMs ?? 15_000;
  }

  async enroll(token: string, body: EnrollBody, signal?: AbortSignal): Promise<{ host: string; credential: string }> {
    return this.call('POST', '/v1/agent/enroll', token, body, enrollAnswer, this.timeoutMs, signal);
  }

  async heartbeat(
    credential: string,
    body: { labels: Labels; facts?: Record<string, unknown> },
    signal?: AbortSignal,
  ): Promise<{ ok: boolean; heartbeatMs?: number | undefined }> {
    return this.call('POST', '/v1/agent/heartbeat', credential, body, heartbeatAnswer, this.timeoutMs, signal);
  }

  async assignments(
    credential: string,
    opts: { waitMs: number; version: string | null; signal?: AbortSignal },
  ): Promise<AssignmentsAnswer> {
    const query = new URLSearchParams({ waitMs: String(opts.waitMs) });
    if (opts.version !== null) query.set('version', opts.version);
    const raw = await this.call(
      'GET',
      `/v1/agent/assignments?${query}`,
      credential,
      undefined,
      z.unknown(),
      opts.waitMs + this.timeoutMs,
      opts.signal,
    );
    try {
      return parseAssignmentsAnswer(raw);
    } catch (err) {
      throw new SluiceError('failed', (err as Error).message);
    }
  }

  async reports(credential: string, reports: readonly AgentReport[], signal?: AbortSignal): Promise<{ accepted: string[] }> {
    return this.call('POST', '/v1/agent/reports', credential, { reports }, reportsAnswer, this.timeoutMs, signal);
  }

  /** Drift guard events and resolved conditions (POST /v1/agent/drift); the body is built by drift-guard.ts. */
  async drift(credential: string, body: unknown, signal?: AbortSignal): Promise<{ recorded: number }> {
    return this.call('POST', '/v1/agent/drift', credential, body, driftAnswer, this.timeoutMs, signal);
  }

  private async call<T>(
    method: 'GET' | 'POST',
    path: string,
    secret: string,
    body: unknown,
    schema: z.ZodType<T>,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<T> {
    const timeout = AbortSignal.timeout(timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    const route = path.split('?')[0];
    let res: Response;
    let text: string;
    try {
      res = await fetch(`${this.server}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${secret}`,
          accept: 'application/json',
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: combined,
      });
      text = await res.text();
    } catch (err) {
      if (signal?.aborted) throw new SluiceError('unavailable', `${method} ${route}: stopped`, { cause: err });
      const why = timeout.aborted ? `no answer within ${timeoutMs} ms` : describeNetworkError(err);
      throw new UnavailableError(`${method} ${route}: ${why}`, { cause: err });
    }
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const error = errorAnswer.safeParse(json);
      const message = error.success ? error.data.error.message : `HTTP ${res.status}`;
      if (res.status === 401) throw new SluiceError('unauthenticated', `${method} ${route}: ${message}`);
      if (res.status >= 500 || res.status === 429) throw new UnavailableError(`${method} ${route}: HTTP ${res.status}: ${message}`);
      const code = error.success && isErrorCode(error.data.error.code) ? error.data.error.code : 'invalid';
      throw new SluiceError(code, `${method} ${route}: HTTP ${res.status}: ${message}`);
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      throw new SluiceError('failed', `${method} ${route}: malformed answer from the server`);
    }
    return parsed.data;
  }
}

export { normalizeServerUrl };

function describeNetworkError(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  if (cause?.code) return `${cause.code} ${cause.message ?? ''}`.trim();
  return err instanceof Error ? err.message : String(err);
}

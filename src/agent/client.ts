// HTTP client for the agent routes of docs/api.md. Every call has a timeout; failures become
// SluiceErrors (unauthenticated for 401, unavailable for network errors and 5xx) so the agent's
// loops can decide between backing off and re-enrolling. Never logs: it holds secrets.
import * as z from 'zod/mini';
import './zod.ts';
import { SluiceError, UnavailableError, isErrorCode } from '../core/errors.ts';
import { normalizeServerUrl } from './server-url.ts';
import { describeCertificateError } from '../core/tls-trust.ts';
import type { Labels } from '../core/types.ts';
import { parseAssignmentsAnswer, type AssignmentsAnswer } from './assignment.ts';
import type { AgentReport } from './state-dir.ts';

export interface ClientOptions {
  /** Base URL, e.g. http://127.0.0.1:7400 */
  readonly server: string;
  /** Per-request timeout (long-polls add their wait to it). Default 15 s. */
  readonly timeoutMs?: number;
  /** PEM CA(s) the server's https certificate must chain to (--ca-file); default: Node's trust store. */
  readonly ca?: string;
}

export interface EnrollBody {
  readonly name: string;
  readonly labels: Labels;
  readonly facts?: Record<string, unknown>;
  /** The host's current credential: the server re-enrolls an existing name only with it (or after an admin reset). */
  readonly currentCredential?: string;
}

const enrollAnswer = z.object({ host: z.string().check(z.minLength(1)), credential: z.string().check(z.minLength(1)) });
const rotateAnswer = z.object({ host: z.string().check(z.minLength(1)), credential: z.string().check(z.minLength(1)) });
const heartbeatAnswer = z.object({ ok: z.boolean(), heartbeatMs: z.optional(z.number()) });
const reportsAnswer = z.object({ accepted: z.array(z.string()) });
const driftAnswer = z.object({ recorded: z.number() });
const errorAnswer = z.object({ error: z.object({ code: z.string(), message: z.string() }) });

export class AgentClient {
  readonly server: string;
  private readonly timeoutMs: number;
  private readonly ca: string | undefined;

  constructor(opts: ClientOptions) {
    this.server = normalizeServerUrl(opts.server);
    this.timeoutMs = opts.timeoutMs ?? 15_000;
    this.ca = opts.ca;
  }

  async enroll(token: string, body: EnrollBody, signal?: AbortSignal): Promise<{ host: string; credential: string }> {
    return this.call('POST', '/v1/agent/enroll', token, body, enrollAnswer, this.timeoutMs, signal);
  }

  /** A new credential (POST /v1/agent/rotate); the one used here stays valid for the server's grace. */
  async rotate(credential: string, signal?: AbortSignal): Promise<{ host: string; credential: string }> {
    return this.call('POST', '/v1/agent/rotate', credential, {}, rotateAnswer, this.timeoutMs, signal);
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
    schema: z.ZodMiniType<T>,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<T> {
    const route = path.split('?')[0];
    let res: { status: number; text: string };
    try {
      res = await request(`${this.server}${path}`, method, secret, body === undefined ? undefined : JSON.stringify(body), timeoutMs, signal, this.ca);
    } catch (err) {
      if (signal?.aborted) throw new SluiceError('unavailable', `${method} ${route}: stopped`, { cause: err });
      const why = err instanceof RequestTimeout ? `no answer within ${timeoutMs} ms` : (describeCertificateError(err, this.server) ?? describeNetworkError(err));
      throw new UnavailableError(`${method} ${route}: ${why}`, { cause: err });
    }
    const text = res.text;
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (res.status < 200 || res.status > 299) {
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
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.cause?.code) return `${e.cause.code} ${e.cause.message ?? ''}`.trim();
  if (e.code && e.message && !e.message.includes(e.code)) return `${e.code} ${e.message}`;
  return err instanceof Error ? err.message : String(err);
}

class RequestTimeout extends Error {}

/** Answers above this are refused: the agent's answers are small (assignments are the largest). */
const MAX_ANSWER_BYTES = 16 * 1024 * 1024;

/**
 * One HTTP(S) request with node:http, not fetch: fetch loads undici, which costs an idle agent about
 * 20 MB of memory for a client that only ever sends small JSON requests to one server. A new
 * connection per request (no keep-alive pool to leak or go stale across server restarts).
 */
async function request(
  url: string,
  method: 'GET' | 'POST',
  secret: string,
  body: string | undefined,
  timeoutMs: number,
  signal: AbortSignal | undefined,
  ca: string | undefined,
): Promise<{ status: number; text: string }> {
  const https = url.startsWith('https:');
  const { request: send } = https ? await import('node:https') : await import('node:http');
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason ?? new Error('aborted'));
      return;
    }
    const headers: Record<string, string> = { authorization: `Bearer ${secret}`, accept: 'application/json' };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(body));
    }
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      fn();
    };
    const req = send(url, { method, headers, agent: false, ...(https && ca !== undefined ? { ca } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_ANSWER_BYTES) {
          req.destroy(new Error(`answer larger than ${MAX_ANSWER_BYTES} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => finish(() => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') })));
      res.on('error', (err) => finish(() => reject(err)));
    });
    const timer = setTimeout(() => {
      const err = new RequestTimeout(`no answer within ${timeoutMs} ms`);
      req.destroy(err);
      finish(() => reject(err));
    }, timeoutMs);
    const onAbort = () => {
      const err = signal?.reason instanceof Error ? signal.reason : new Error('aborted');
      req.destroy(err);
      finish(() => reject(err));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    req.on('error', (err) => finish(() => reject(err)));
    req.end(body);
  });
}

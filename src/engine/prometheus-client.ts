// The I/O half of metric gates: one bounded range query to Prometheus (`/api/v1/query_range`) over
// node:http(s), with a timeout and a body cap. Every way it can go wrong comes back as
// `{ok: false, error}`, never as an exception and never as "no problem": the pure verdict
// (src/core/rollout/metric-gates.ts) then fails the gate.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { GateSpec, Instant } from '../core/types.ts';
import { gateStep, type GateQueryResult, type GateSeries } from '../core/rollout/metric-gates.ts';

export const MAX_PROMETHEUS_BODY = 4 * 1024 * 1024;

export interface RangeQuery {
  readonly baseUrl: string;
  readonly query: string;
  readonly start: Instant;
  readonly end: Instant;
  readonly stepMs: number;
  readonly timeoutMs: number;
  /** TLS trust for https Prometheus (PEM). */
  readonly ca?: string | Buffer;
}

/** The samples of a gate's query over its window ending at `now`. */
export function queryGate(gate: GateSpec, baseUrl: string, now: Instant, ca?: string | Buffer): Promise<GateQueryResult> {
  return queryRange({ baseUrl, query: gate.query, start: now - gate.window, end: now, stepMs: gateStep(gate), timeoutMs: gate.timeout, ...(ca ? { ca } : {}) });
}

export function queryRange(q: RangeQuery): Promise<GateQueryResult> {
  let url: URL;
  try {
    url = new URL('api/v1/query_range', q.baseUrl.endsWith('/') ? q.baseUrl : `${q.baseUrl}/`);
  } catch {
    return Promise.resolve({ ok: false, error: `invalid Prometheus URL ${JSON.stringify(q.baseUrl)}` });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return Promise.resolve({ ok: false, error: `Prometheus URL must be http(s): ${q.baseUrl}` });
  const body = new URLSearchParams({
    query: q.query,
    start: (q.start / 1000).toFixed(3),
    end: (q.end / 1000).toFixed(3),
    step: `${Math.max(1, Math.round(q.stepMs / 1000))}s`,
  }).toString();
  const where = `${url.protocol}//${url.host}`;
  return new Promise<GateQueryResult>((resolve) => {
    let settled = false;
    const done = (r: GateQueryResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(
      url,
      {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body), accept: 'application/json' },
        ...(q.ca && url.protocol === 'https:' ? { ca: q.ca } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_PROMETHEUS_BODY) {
            done({ ok: false, error: `Prometheus at ${where} answered more than ${MAX_PROMETHEUS_BODY} bytes` });
            req.destroy();
            return;
          }
          chunks.push(chunk);
        });
        res.on('error', (err) => done({ ok: false, error: `reading the answer of Prometheus at ${where}: ${err.message}` }));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          done(parseAnswer(res.statusCode ?? 0, text, where));
        });
      },
    );
    const timer = setTimeout(() => {
      done({ ok: false, error: `Prometheus at ${where} did not answer within ${q.timeoutMs} ms` });
      req.destroy();
    }, q.timeoutMs);
    timer.unref?.();
    req.on('error', (err) => done({ ok: false, error: `Prometheus at ${where} is unreachable: ${err.message}` }));
    req.end(body);
  });
}

/** A query_range answer -> series, or why it is not evidence. Exported for tests. */
export function parseAnswer(status: number, text: string, where: string): GateQueryResult {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, error: `Prometheus at ${where} answered HTTP ${status} with a body that is not JSON` };
  }
  const o = json as { status?: unknown; error?: unknown; errorType?: unknown; data?: { resultType?: unknown; result?: unknown } };
  if (status < 200 || status >= 300 || o.status !== 'success') {
    const why = typeof o.error === 'string' ? `: ${o.errorType ?? 'error'}: ${o.error.slice(0, 500)}` : '';
    return { ok: false, error: `Prometheus at ${where} answered HTTP ${status}${why}` };
  }
  if (o.data?.resultType !== 'matrix' || !Array.isArray(o.data.result)) {
    return { ok: false, error: `Prometheus at ${where} answered an unexpected result type ${JSON.stringify(o.data?.resultType)} (expected matrix)` };
  }
  const series: GateSeries[] = [];
  for (const item of o.data.result as unknown[]) {
    const s = item as { metric?: unknown; values?: unknown };
    if (!Array.isArray(s.values)) return { ok: false, error: `Prometheus at ${where} answered a series without values` };
    const samples: [number, string][] = [];
    for (const p of s.values as unknown[]) {
      if (!Array.isArray(p) || typeof p[0] !== 'number' || typeof p[1] !== 'string') return { ok: false, error: `Prometheus at ${where} answered a malformed sample` };
      samples.push([p[0], p[1]]);
    }
    const labels: Record<string, string> = {};
    if (s.metric && typeof s.metric === 'object') for (const [k, v] of Object.entries(s.metric)) if (typeof v === 'string') labels[k] = v;
    series.push({ labels, samples });
  }
  return { ok: true, series };
}

// Leader-only requests on a follower: agent reports and rollout commands run engine transitions,
// which only the leader commits. A follower forwards them over HTTP to the leader's advertised URL
// with the caller's headers (the leader authenticates them as usual) and relays the answer; with
// no leader reachable it answers 503 with Retry-After, and the caller retries (an agent keeps its
// reports in its outbox: nothing is lost, and report ids make a repeat harmless). Reads (status,
// events, assignments) and heartbeats, enrollments and drift are served by every replica.
import type { MiddlewareHandler } from 'hono';
import { request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';
import { describeCertificateError } from '../../core/tls-trust.ts';
import type { Logger } from '../logger.ts';
import type { Replica } from './elector.ts';

export const FORWARDED_HEADER = 'x-sluice-forwarded-by';
const FORWARD_TIMEOUT_MS = 30_000;
/** Request headers a forward carries; hop-by-hop ones (connection, host, ...) are the proxy's own. */
const PASS_REQUEST = ['authorization', 'content-type', 'content-length', 'accept', 'user-agent'];
const PASS_RESPONSE = ['content-type', 'retry-after'];

/** Requests that run transitions: POST (or any write) to rollouts, and agent reports. */
export function isLeaderOnly(method: string, path: string): boolean {
  if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS') return false;
  return path === '/v1/agent/reports' || path === '/v1/rollouts' || path.startsWith('/v1/rollouts/');
}

function unavailable(reason: string, retryAfterS: number): Response {
  return new Response(JSON.stringify({ error: { code: 'unavailable', message: reason } }), {
    status: 503,
    headers: { 'content-type': 'application/json', 'retry-after': String(retryAfterS) },
  });
}

/**
 * fetch over node:https with a CA: Node's fetch (undici) takes no CA without its own Agent, which
 * Node does not export. Streams the body both ways, as fetch does; the signal aborts it.
 */
export function httpsForward(
  target: URL,
  init: { method: string; headers: Headers; body: ReadableStream<Uint8Array> | null; signal: AbortSignal; ca: string },
): Promise<Response> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    init.headers.forEach((value, name) => (headers[name] = value));
    const req = httpsRequest(target, { method: init.method, headers, ca: init.ca, agent: false, signal: init.signal }, (res) => {
      const out = new Headers();
      for (const [name, value] of Object.entries(res.headers)) {
        if (typeof value === 'string') out.set(name, value);
        else if (Array.isArray(value)) for (const v of value) out.append(name, v);
      }
      const status = res.statusCode ?? 502;
      const nullBody = status === 204 || status === 304 || init.method === 'HEAD';
      if (nullBody) res.resume();
      resolve(new Response(nullBody ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>), { status, headers: out }));
    });
    req.on('error', reject);
    if (init.body) Readable.fromWeb(init.body as import('node:stream/web').ReadableStream).on('error', (err) => req.destroy(err)).pipe(req);
    else req.end();
  });
}

export function forwardToLeader(replica: Replica, log: Logger, peerCa?: string): MiddlewareHandler {
  return async (c, next) => {
    if (!isLeaderOnly(c.req.method, c.req.path)) return next();
    const route = replica.route();
    if (route.kind === 'local') return next();
    if (route.kind === 'unavailable') return unavailable(route.reason, route.retryAfterS);
    // Forwarded once at most: a replica that is not the leader either (views differ for a moment) says so.
    if (c.req.header(FORWARDED_HEADER) !== undefined) return unavailable('this replica is not the leader either; retry', 1);
    const target = new URL(c.req.path + new URL(c.req.url).search, route.url);
    const headers = new Headers();
    for (const name of PASS_REQUEST) {
      const value = c.req.header(name);
      if (value !== undefined) headers.set(name, value);
    }
    headers.set(FORWARDED_HEADER, replica.status().replica);
    let res: Response;
    try {
      const body = c.req.raw.body;
      const signal = AbortSignal.any([c.req.raw.signal, AbortSignal.timeout(FORWARD_TIMEOUT_MS)]);
      res =
        peerCa !== undefined && target.protocol === 'https:'
          ? await httpsForward(target, { method: c.req.method, headers, body, signal, ca: peerCa })
          : await fetch(target, {
              method: c.req.method,
              headers,
              ...(body ? { body, duplex: 'half' } : {}),
              redirect: 'manual',
              signal,
            } as RequestInit);
    } catch (err) {
      const why = describeCertificateError(err, route.url) ?? (err instanceof Error ? err.message : String(err));
      log.warn({ leader: route.holder, url: route.url, path: c.req.path, err: why }, 'forwarding to the leader failed');
      return unavailable(`the leader (${route.holder}) is unreachable; retry`, 2);
    }
    const out = new Headers();
    for (const name of PASS_RESPONSE) {
      const value = res.headers.get(name);
      if (value !== null) out.set(name, value);
    }
    return new Response(res.body, { status: res.status, headers: out });
  };
}


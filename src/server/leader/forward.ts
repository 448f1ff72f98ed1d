// Leader-only requests on a follower: agent reports and rollout commands run engine transitions,
// which only the leader commits. A follower forwards them over HTTP to the leader's advertised URL
// with the caller's headers (the leader authenticates them as usual) and relays the answer; with
// no leader reachable it answers 503 with Retry-After, and the caller retries (an agent keeps its
// reports in its outbox: nothing is lost, and report ids make a repeat harmless). Reads (status,
// events, assignments) and heartbeats, enrollments and drift are served by every replica.
import type { MiddlewareHandler } from 'hono';
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

export function forwardToLeader(replica: Replica, log: Logger): MiddlewareHandler {
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
      res = await fetch(target, {
        method: c.req.method,
        headers,
        ...(body ? { body, duplex: 'half' } : {}),
        redirect: 'manual',
        signal: AbortSignal.any([c.req.raw.signal, AbortSignal.timeout(FORWARD_TIMEOUT_MS)]),
      } as RequestInit);
    } catch (err) {
      log.warn({ leader: route.holder, url: route.url, path: c.req.path, err: err instanceof Error ? err.message : String(err) }, 'forwarding to the leader failed');
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


// The agent heartbeat's fast path: POST /v1/agent/heartbeat handled by the request listener in
// front of the Hono app, for the happy path only. Heartbeats are most of a fleet's requests, and
// through Hono each one paid for routing, six layers of middleware, a context, zod and a web
// Response: about twice the CPU of the JSON work itself (docs/operations.md, "Figures").
//
// It takes a request only when nothing but the ordinary answer can come of it: the exact path,
// a bearer credential found in the in-memory credential cache (so no store read, and the same
// cache semantics: TTL, revocation, reset and rotation drop entries), no rotation to confirm, an
// address the failed-auth limit does not throttle, a declared body within MAX_BODY_BYTES, JSON
// the hand-written validator accepts (schemas.ts heartbeatBodyFast), labels not refused. Then it
// does what the route does (applyHeartbeat, agent-routes.ts: one implementation for both), and
// records the same request metric, log line and rate-limit bookkeeping.
//
// Everything else goes on to the Hono app unchanged (unknown or uncached credentials, other
// routes, throttled addresses, bodies it cannot vouch for, refused labels, errors): what the API
// answers then, audits and charges is exactly what it always did. A body already read is handed
// on with the request (PRE_READ_BODY), so the route reads the same text.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HostRow } from '../store/store.ts';
import { MAX_BODY_BYTES, PRE_READ_BODY, recordRequest, responseClosed, type AppDeps, type PreReadBody } from './app.ts';
import { bearerOf } from './auth.ts';
import { sourceOfIncoming, type RateLimiter } from './rate-limit.ts';
import { applyHeartbeat, heartbeatLabelProblem, readAssignments } from './routes/agent-routes.ts';
import { assignmentsQuery, heartbeatBodyFast } from './schemas.ts';
import { hashSecret } from './tokens.ts';

export const HEARTBEAT_PATH = '/v1/agent/heartbeat';
export const ASSIGNMENTS_PATH = '/v1/agent/assignments';

/**
 * Called by the request listener before the Hono app: true when it took the request (it answers
 * it); false to hand it on, now or later through `next` (then with the body it read).
 */
export interface AgentFastPath {
  (req: IncomingMessage, res: ServerResponse, next: () => void): boolean;
  /** Heartbeats answered here, and ones it read the body of and then handed on (tests, benchmarks). */
  readonly stats: { answered: number; handedOn: number; pollsWaited: number };
}

const DECLARED_LENGTH = /^\d{1,8}$/;

export function agentFastPath(deps: AppDeps, cachedHost: (hash: string) => HostRow | undefined, limiter: RateLimiter): AgentFastPath {
  const stats = { answered: 0, handedOn: 0, pollsWaited: 0 };

  /**
   * The host a request's credential belongs to, when the fast path may serve it: cached, no
   * rotation to confirm (requireHost confirms it on the new credential's first use: the route does
   * that), and an address the failed-auth limit does not throttle. null: the route's.
   */
  const cachedCaller = (req: IncomingMessage): { host: HostRow; secret: string; source: string } | null => {
    const secret = bearerOf(req.headers.authorization);
    if (secret === null) return null;
    const host = cachedHost(hashSecret(secret));
    if (host === undefined || host.rotationPending) return null;
    const source = sourceOfIncoming(req);
    return limiter.throttled(source, secret) > 0 ? null : { host, secret, source };
  };

  const take = (req: IncomingMessage, res: ServerResponse, next: () => void): boolean => {
    if (req.method === 'GET' && req.url?.startsWith(`${ASSIGNMENTS_PATH}?`)) return waitPoll(req, res, next);
    if (req.method !== 'POST' || req.url !== HEARTBEAT_PATH) return false;
    const started = performance.now();
    const caller = cachedCaller(req);
    if (caller === null) return false;
    const { host, secret, source } = caller;
    // A declared length only (a chunked body could be refused half-way: the route does that).
    const declared = req.headers['content-length'];
    if (declared === undefined || req.headers['transfer-encoding'] !== undefined || !DECLARED_LENGTH.test(declared) || Number(declared) > MAX_BODY_BYTES) return false;

    let handedOn = false;
    const handOn = (pre: PreReadBody) => {
      if (handedOn) return; // an error after the end, or the other way round: once
      handedOn = true;
      stats.handedOn += 1;
      (req as IncomingMessage & { [PRE_READ_BODY]?: PreReadBody })[PRE_READ_BODY] = pre;
      next();
    };
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.once('error', (error) => handOn({ error }));
    req.once('end', () => {
      if (handedOn) return;
      const text = chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8');
      let raw: unknown;
      try {
        raw = JSON.parse(text);
      } catch {
        return handOn({ text });
      }
      const body = heartbeatBodyFast(raw);
      if (body === null || heartbeatLabelProblem(host, body) !== null) return handOn({ text });
      applyHeartbeat(deps, host, body).then(
        (answer) => {
          const json = JSON.stringify(answer);
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
          res.end(json);
          stats.answered += 1;
          limiter.answered(source, secret, true, 200);
          recordRequest(deps, { method: 'POST', route: HEARTBEAT_PATH, path: HEARTBEAT_PATH, status: 200, started, actor: `host:${host.name}` });
        },
        // Nothing but liveness was recorded (applyHeartbeat): the route runs it again and answers
        // the error as it always did.
        () => handOn({ text }),
      );
    });
    return true;
  };

  /**
   * A long-poll's wait, held here instead of in the Hono route (whose context and middleware
   * chain cost ~16 kB per held poll: docs/operations.md): for a cached credential whose
   * assignments are unchanged, it waits on the hub exactly as the route would, then hands the
   * request on with `waitMs=0`, so the route authenticates it again, reads the assignments again
   * and answers (with its checks of a changed credential) as after its own wait; a credential reset
   * during the wait gets the same 401 `unauthenticated`, worded by the authentication ("unknown
   * host credential") instead of the route. Anything else is handed on at once, unchanged. The
   * request's log line then times the answer, not the wait.
   */
  const waitPoll = (req: IncomingMessage, res: ServerResponse, next: () => void): boolean => {
    const caller = cachedCaller(req);
    if (caller === null) return false;
    const params = new URL(req.url!, 'http://agent').searchParams;
    const query = assignmentsQuery.safeParse(Object.fromEntries(params));
    if (!query.success || query.data.waitMs === 0 || query.data.version === undefined) return false;
    const { version, waitMs } = query.data;
    // Worked out now, so nothing but these strings is kept while the poll is held.
    params.set('waitMs', '0');
    const afterWait = `${ASSIGNMENTS_PATH}?${params.toString()}`;
    const name = caller.host.name;
    readAssignments(deps, name).then(
      (read) => {
        if (read.version !== version) return next(); // changed already: the route answers at once
        stats.pollsWaited += 1;
        deps.hub.wait(name, waitMs, responseClosed(res), read.generation).then(() => {
          req.url = afterWait;
          next();
        }, next);
      },
      // A failed read: the route reads again and answers the error as it always did.
      () => next(),
    );
    return true;
  };
  return Object.assign(take, { stats });
}

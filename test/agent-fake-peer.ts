// A tiny stand-in for the server's agent routes (docs/api.md), for agent tests: it records what
// the agent sent, dedups report ids like the real server, and can go down and come back on the
// same port with its memory intact (like a server restarting on its database).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';

export interface PeerReport {
  id: string;
  rolloutId: string;
  attempt: number;
  kind: 'apply' | 'check' | 'rollback';
  ok: boolean;
  message: string;
  at: number;
}

export interface FakePeer {
  readonly url: string;
  readonly enrollToken: string;
  readonly enrolls: { name: string; labels: Record<string, string>; facts?: unknown }[];
  readonly heartbeats: { labels?: Record<string, string>; facts?: unknown }[];
  /** Reports processed for the first time, in arrival order. */
  readonly processed: PeerReport[];
  /** How many times each report id arrived (a resend of a processed id is acked and ignored). */
  readonly deliveries: Map<string, number>;
  /** Every Authorization header value seen (tests check secrets are used where they belong). */
  readonly authSeen: string[];
  /** Drift events and resolutions received (POST /v1/agent/drift), deduplicated by event id. */
  readonly drift: { events: { id: string; kind: string; subject: string; message: string; open: boolean; details?: Record<string, unknown> }[]; resolved: { kind: string; subject: string }[] };
  setAssignments(list: unknown[]): void;
  /** Serve this raw body for assignments instead (malformed-answer tests); null to stop. */
  setRawAssignments(body: string | null): void;
  /** Forget every credential: the next agent call gets 401. */
  revokeCredentials(): void;
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? JSON.parse(text) : undefined;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

export async function startFakePeer(): Promise<FakePeer> {
  const enrollToken = `sle_${randomUUID()}`;
  const credentials = new Map<string, string>(); // credential -> host
  const enrolls: FakePeer['enrolls'] = [];
  const heartbeats: FakePeer['heartbeats'] = [];
  const processed: PeerReport[] = [];
  const deliveries = new Map<string, number>();
  const authSeen: string[] = [];
  const drift: FakePeer['drift'] = { events: [], resolved: [] };
  let assignments: unknown[] = [];
  let raw: string | null = null;
  let version = 1;
  let waiters: (() => void)[] = [];

  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    try {
      const url = new URL(req.url ?? '/', 'http://peer');
      const auth = (req.headers.authorization ?? '').replace(/^Bearer /, '');
      authSeen.push(auth);
      if (req.method === 'POST' && url.pathname === '/v1/agent/enroll') {
        if (auth !== enrollToken) return send(res, 401, { error: { code: 'unauthenticated', message: 'bad token' } });
        const body = (await readJson(req)) as FakePeer['enrolls'][number];
        enrolls.push(body);
        const credential = `shc_${randomUUID()}`;
        credentials.set(credential, body.name);
        return send(res, 200, { host: body.name, credential });
      }
      if (!credentials.has(auth)) return send(res, 401, { error: { code: 'unauthenticated', message: 'unknown credential' } });
      if (req.method === 'POST' && url.pathname === '/v1/agent/heartbeat') {
        heartbeats.push((await readJson(req)) as FakePeer['heartbeats'][number]);
        return send(res, 200, { ok: true, heartbeatMs: 5000 });
      }
      if (req.method === 'GET' && url.pathname === '/v1/agent/assignments') {
        const waitMs = Math.min(Number(url.searchParams.get('waitMs') ?? 0), 30_000);
        if (raw === null && url.searchParams.get('version') === String(version)) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, waitMs);
            waiters.push(() => {
              clearTimeout(timer);
              resolve();
            });
            req.once('close', () => {
              clearTimeout(timer);
              resolve();
            });
          });
        }
        if (raw !== null) return send(res, 200, raw);
        return send(res, 200, { version: String(version), assignments });
      }
      if (req.method === 'POST' && url.pathname === '/v1/agent/drift') {
        const body = (await readJson(req)) as FakePeer['drift'];
        let recorded = 0;
        for (const e of body.events) {
          if (drift.events.some((x) => x.id === e.id)) continue;
          drift.events.push(e);
          recorded += 1;
        }
        drift.resolved.push(...body.resolved);
        return send(res, 200, { recorded });
      }
      if (req.method === 'POST' && url.pathname === '/v1/agent/reports') {
        const body = (await readJson(req)) as { reports: PeerReport[] };
        const accepted: string[] = [];
        for (const r of body.reports) {
          const seen = deliveries.get(r.id) ?? 0;
          deliveries.set(r.id, seen + 1);
          if (seen === 0) processed.push(r);
          accepted.push(r.id);
        }
        return send(res, 200, { accepted });
      }
      return send(res, 404, { error: { code: 'not_found', message: 'no such route' } });
    } catch (err) {
      return send(res, 500, { error: { code: 'failed', message: String(err) } });
    }
  };

  let server: Server = createServer((req, res) => void handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  const wake = () => {
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  };

  const down = async () => {
    wake();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };

  return {
    url: `http://127.0.0.1:${port}`,
    enrollToken,
    enrolls,
    heartbeats,
    processed,
    deliveries,
    authSeen,
    drift,
    setAssignments(list) {
      assignments = list;
      version += 1;
      wake();
    },
    setRawAssignments(body) {
      raw = body;
      version += 1;
      wake();
    },
    revokeCredentials() {
      credentials.clear();
    },
    down,
    async up() {
      server = createServer((req, res) => void handler(req, res));
      await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    },
    async close() {
      if (server.listening) await down();
    },
  };
}

/** Polls `cond` every 20 ms until it holds; fails after `timeoutMs` with `what`. */
export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

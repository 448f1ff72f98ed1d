// Bounds what idle and unauthenticated connections can take from a server process: header and
// idle timeouts, and a cap on open connections below the open-file limit. At the cap, the oldest
// connection that has not sent a whole request yet (a slowloris) is closed to make room; when there
// is none, a new connection gets a polite 503 with Retry-After (and is closed) instead of the
// process running out of file descriptors and locking everyone out. Connections scale by adding
// replicas.
import { readFileSync } from 'node:fs';
import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';

/** A connection that has sent no whole request for this long may be closed to make room at the cap. */
export const EVICT_AFTER_MS = 1000;


export interface ConnectionLimits {
  /** Most open connections (default: the open-file soft limit less a reserve, see defaultMaxConnections). */
  readonly maxConnections?: number;
  /** A client must send its request headers within this (default 10 s). */
  readonly headersTimeoutMs?: number;
  /** ... and its whole request (headers and body) within this (default 30 s). Long-polls wait after it. */
  readonly requestTimeoutMs?: number;
  /** An idle keep-alive connection is closed after this (default 75 s: longer than an agent's heartbeat and poll pauses). */
  readonly keepAliveTimeoutMs?: number;
  /** Seconds a refused client is asked to wait (default 5). */
  readonly retryAfterSeconds?: number;
  /**
   * The server speaks TLS: requests arrive on TLS sockets wrapping the raw ones counted here, and a
   * refused connection is closed without the 503 (plain HTTP would be garbage before a handshake).
   */
  readonly tls?: boolean;
}

/** File descriptors kept for everything but client connections: database, PGlite files, logs. */
export const FD_RESERVE = 512;

/** The open-file soft limit of this process (Linux /proc), or null when it cannot be read. */
export function openFileLimit(): number | null {
  try {
    const m = /^Max open files\s+(\d+|unlimited)\s+/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (!m) return null;
    return m[1] === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(m[1]);
  } catch {
    return null;
  }
}

export function defaultMaxConnections(limit = openFileLimit()): number {
  if (limit === null) return 10_000;
  return Math.max(64, limit - FD_RESERVE);
}

export interface ConnectionGuard {
  readonly maxConnections: number;
  /** Open connections now. */
  open(): number;
  /** Connections refused with 503 since the start. */
  refused(): number;
  /** Connections closed at the cap because they had sent no whole request (slowloris). */
  evicted(): number;
}

export function guardConnections(server: Server, limits: ConnectionLimits = {}): ConnectionGuard {
  const max = limits.maxConnections ?? defaultMaxConnections();
  const retryAfter = limits.retryAfterSeconds ?? 5;
  server.headersTimeout = limits.headersTimeoutMs ?? 10_000;
  server.requestTimeout = limits.requestTimeoutMs ?? 30_000;
  server.keepAliveTimeout = limits.keepAliveTimeoutMs ?? 75_000;
  const body = JSON.stringify({ error: { code: 'unavailable', message: `the server is at its connection limit (${max}); retry in ${retryAfter} s or use another replica` } });
  const refusal =
    `HTTP/1.1 503 Service Unavailable\r\nRetry-After: ${retryAfter}\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
  let open = 0;
  let refused = 0;
  let evicted = 0;
  // Connections that have not sent a whole request yet, oldest first: at the cap the oldest of them
  // (idle for at least EVICT_AFTER_MS) is closed to make room, so a slowloris cannot fill the cap.
  const fresh = new Map<Socket, { at: number; onClose: () => void }>();
  server.on('request', (req: IncomingMessage) => {
    fresh.delete(req.socket);
    // Under TLS the counted socket is the raw one under the TLSSocket.
    const parent = (req.socket as Socket & { _parent?: Socket | null })._parent;
    if (parent) fresh.delete(parent);
  });
  // The HTTP server's own 'connection' listener (which starts the parser) only sees accepted sockets.
  const inner = server.listeners('connection') as ((socket: Socket) => void)[];
  server.removeAllListeners('connection');
  server.on('connection', (socket: Socket) => {
    if (open >= max) {
      const oldest = fresh.entries().next();
      if (!oldest.done && Date.now() - oldest.value[1].at >= EVICT_AFTER_MS) {
        const [victim, entry] = oldest.value;
        fresh.delete(victim);
        victim.removeListener('close', entry.onClose); // its slot is this connection's now
        victim.destroy();
        evicted += 1;
        open -= 1;
      } else {
        refused += 1;
        socket.on('error', () => {});
        if (limits.tls === true) {
          socket.destroy();
          return;
        }
        // The answer is written at once, without reading the request; then the socket closes.
        socket.end(refusal);
        setTimeout(() => socket.destroy(), 2000).unref();
        return;
      }
    }
    open += 1;
    const onClose = () => {
      open -= 1;
      fresh.delete(socket);
    };
    fresh.set(socket, { at: Date.now(), onClose });
    socket.once('close', onClose);
    for (const listener of inner) listener.call(server, socket);
  });
  return { maxConnections: max, open: () => open, refused: () => refused, evicted: () => evicted };
}

// Bounds what idle and unauthenticated connections can take from a server process: header and
// idle timeouts, and a cap on open connections below the open-file limit, past which a new
// connection gets a polite 503 with Retry-After (and is closed) instead of the process running out
// of file descriptors and locking everyone out. Connections scale by adding replicas.
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { Socket } from 'node:net';

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
  // The HTTP server's own 'connection' listener (which starts the parser) only sees accepted sockets.
  const inner = server.listeners('connection') as ((socket: Socket) => void)[];
  server.removeAllListeners('connection');
  server.on('connection', (socket: Socket) => {
    if (open >= max) {
      refused += 1;
      socket.on('error', () => {});
      // The answer is written at once, without reading the request; then the socket closes.
      socket.end(refusal);
      setTimeout(() => socket.destroy(), 2000).unref();
      return;
    }
    open += 1;
    socket.once('close', () => {
      open -= 1;
    });
    for (const listener of inner) listener.call(server, socket);
  });
  return { maxConnections: max, open: () => open, refused: () => refused };
}

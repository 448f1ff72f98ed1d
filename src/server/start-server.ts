// Starts the control plane: store (PGlite or PostgreSQL), tokens, the durable rollout driver and
// the HTTP API. Used by `sluice server` and by tests that need a real server in-process.
import { serve, type ServerType } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { openStore } from '../store/open-store.ts';
import { acquirePostgresServerLock, type ServerLock } from '../store/postgres-server-lock.ts';
import { assertPostgresSchema } from '../store/postgres.ts';
import type { Store } from '../store/store.ts';
import { RolloutDriver } from '../engine/rollout-driver.ts';
import { SluiceError, ValidationError } from '../core/errors.ts';
import { AssignmentHub } from './assignment-hub.ts';
import { DEFAULT_RETAIN_FINISHED, parseRetention, startRetention } from './retention.ts';
import { createApp } from './app.ts';
import { createLogger, type Logger } from './logger.ts';
import { createServerMetrics } from './metrics.ts';
import { loadServerTokens, type ServerTokens } from './tokens.ts';

export interface ServerOptions {
  /** HOST:PORT; port 0 picks a free port. Default 127.0.0.1:7400. */
  readonly listen?: string;
  readonly dataDir?: string;
  readonly databaseUrl?: string;
  /** In-memory PGlite (tests). Tokens are then generated in memory unless given. */
  readonly memory?: boolean;
  readonly adminToken?: string;
  readonly enrollToken?: string;
  readonly heartbeatMs?: number;
  readonly tickMs?: number;
  readonly log?: Logger;
  /** Events and reports of rollouts finished longer ago are purged (retention.ts); null: keep them. Default 30 days. */
  readonly retainFinishedMs?: number | null;
  /** How often the retention purge runs (default 10 minutes). */
  readonly retentionIntervalMs?: number;
}

export interface RunningServer {
  readonly url: string;
  readonly adminToken: string;
  readonly enrollToken: string;
  readonly tokens: ServerTokens;
  readonly store: Store;
  readonly driver: RolloutDriver;
  close(): Promise<void>;
}

export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(listen);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) {
    throw new ValidationError(`--listen must be HOST:PORT (e.g. 127.0.0.1:7400), got "${listen}"`);
  }
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

export async function startServer(opts: ServerOptions = {}): Promise<RunningServer> {
  const log = opts.log ?? createLogger();
  const { host, port } = parseListen(opts.listen ?? '127.0.0.1:7400');
  const dataDir = resolve(opts.dataDir ?? '.sluice');
  const heartbeatMs = opts.heartbeatMs ?? 5000;
  const now = () => Date.now();

  const tokens: ServerTokens = opts.memory
    ? {
        adminToken: opts.adminToken ?? process.env.SLUICE_ADMIN_TOKEN ?? `sla_test_${Math.random().toString(36).slice(2)}${Date.now()}`,
        enrollToken: opts.enrollToken ?? process.env.SLUICE_ENROLL_TOKEN ?? `sle_test_${Math.random().toString(36).slice(2)}${Date.now()}`,
        adminTokenFile: null,
        enrollTokenFile: null,
      }
    : loadServerTokens(dataDir, {
        adminToken: opts.adminToken ?? process.env.SLUICE_ADMIN_TOKEN,
        enrollToken: opts.enrollToken ?? process.env.SLUICE_ENROLL_TOKEN,
      });

  // PGlite locks its data dir itself; PostgreSQL needs an explicit lock so only one server drives.
  if (opts.databaseUrl) await assertPostgresSchema(opts.databaseUrl); // a missing schema is not "another server"
  const serverLock: ServerLock | null = opts.databaseUrl ? await acquirePostgresServerLock(opts.databaseUrl) : null;
  const store = await openStore(
    opts.databaseUrl ? { databaseUrl: opts.databaseUrl } : opts.memory ? { memory: true } : { dataDir },
  ).catch(async (err: unknown) => {
    await serverLock?.release();
    throw err;
  });
  const hub = new AssignmentHub();
  const metrics = createServerMetrics(store, heartbeatMs * 3, now);
  const driver = new RolloutDriver({
    store,
    log,
    now,
    ...(opts.tickMs !== undefined ? { tickMs: opts.tickMs } : {}),
    onAssignmentsChanged: (hosts) => hub.notify(hosts),
    onTransition: (s) => metrics.transitionSeconds.observe(s),
  });
  await driver.start();
  const retainMs = opts.retainFinishedMs === undefined ? parseRetention(DEFAULT_RETAIN_FINISHED) : opts.retainFinishedMs;
  const retention =
    retainMs === null
      ? null
      : startRetention({ store, log, retainMs, now, ...(opts.retentionIntervalMs !== undefined ? { intervalMs: opts.retentionIntervalMs } : {}) });
  const app = createApp({ store, driver, hub, log, metrics, adminToken: tokens.adminToken, enrollToken: tokens.enrollToken, heartbeatMs, now });

  let server: ServerType;
  const address = await new Promise<AddressInfo>((resolveListen, reject) => {
    server = serve({ fetch: app.fetch, hostname: host, port }, (info) => resolveListen(info));
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(
        err.code === 'EADDRINUSE'
          ? new SluiceError('unavailable', `cannot listen on ${host}:${port}: the address is in use (is another sluice server running? use --listen)`)
          : err,
      );
    });
  }).catch(async (err: unknown) => {
    await retention?.stop();
    await driver.stop();
    await store.close();
    await serverLock?.release();
    throw err;
  });
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${shownHost}:${address.port}`;
  log.info({ url, store: store.kind }, 'sluice server listening');

  let closed = false;
  return {
    url,
    adminToken: tokens.adminToken,
    enrollToken: tokens.enrollToken,
    tokens,
    store,
    driver,
    async close() {
      if (closed) return;
      closed = true;
      hub.releaseAll();
      await new Promise<void>((r) => {
        server.close(() => r());
        // Long-polls were released above; drop idle keep-alive sockets too.
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      });
      await retention?.stop();
      await driver.stop();
      await store.close();
      await serverLock?.release();
    },
  };
}

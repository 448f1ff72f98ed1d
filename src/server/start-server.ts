// Starts the control plane: store (PGlite or PostgreSQL), tokens, the durable rollout driver and
// the HTTP API. Used by `sluice server` and by tests that need a real server in-process.
import { serve, type ServerType } from '@hono/node-server';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { hostname } from 'node:os';
import { Counter, Gauge } from 'prom-client';
import { openStore } from '../store/open-store.ts';
import { assertPostgresSchema } from '../store/postgres.ts';
import { applicationName, createReplica, newReplicaId, type ReplicaRuntime } from './leader/replica.ts';
import type { ElectorOptions } from './leader/elector.ts';
import type { Store } from '../store/store.ts';
import { RolloutDriver } from '../engine/rollout-driver.ts';
import { Notifier, type NotifierOptions } from '../engine/notifier.ts';
import type { GateQuery } from '../engine/gate-monitor.ts';
import { SluiceError, ValidationError } from '../core/errors.ts';
import { AssignmentHub } from './assignment-hub.ts';
import { HostLiveness } from './host-liveness.ts';
import { guardConnections, type ConnectionGuard, type ConnectionLimits } from './connection-guard.ts';
import type { Server } from 'node:http';
import { DEFAULT_RETAIN_FINISHED, parseRetention, startRetention } from './retention.ts';
import { createApi } from './app.ts';
import type { AgentFastPath } from './agent-fast-path.ts';
import { createLogger, type Logger } from './logger.ts';
import { createServerMetrics } from './metrics.ts';
import { activeFreeze } from './freeze.ts';
import type { RemediationPolicy } from '../core/remediation/guard.ts';
import { loadServerTokens, type ServerTokens } from './tokens.ts';
import type { RateLimitOptions } from './rate-limit.ts';

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
  /** How often heartbeats' last_seen is written to the store (default 1000 ms; keep it well under heartbeatMs). */
  readonly flushMs?: number;
  readonly log?: Logger;
  /**
   * PostgreSQL: the URL the other replicas forward leader-only requests to (default: the
   * address listened on, http://HOST:PORT).
   */
  readonly advertiseUrl?: string;
  /** PostgreSQL: leader lease timings (tests); defaults TTL 6 s, renew 2 s, followers poll 1 s. */
  readonly lease?: Pick<ElectorOptions, 'ttlMs' | 'renewMs' | 'pollMs'>;
  /** Connection cap and timeouts (connection-guard.ts); SLUICE_MAX_CONNECTIONS sets the cap too. */
  readonly connections?: ConnectionLimits;
  /** Events and reports of rollouts finished longer ago are purged (retention.ts); null: keep them. Default 30 days. */
  readonly retainFinishedMs?: number | null;
  /** How often the retention purge runs (default 10 minutes). */
  readonly retentionIntervalMs?: number;
  /** The remediation guard's budgets (default DEFAULT_REMEDIATION_POLICY). */
  readonly remediationPolicy?: RemediationPolicy;
  /** Serve HTTPS with this certificate (chain) and key, PEM files; reloadTls() reads them again. */
  readonly tls?: { readonly certFile: string; readonly keyFile: string };
  /** PEM CA(s) a follower trusts for the leader's https advertise URL (default: Node's default store). */
  readonly peerCa?: string;
  /** Metric gates: the Prometheus of gates that do not name one (--prometheus-url). */
  readonly prometheusUrl?: string;
  /** Metric gates: the query (tests stand in a fake Prometheus). */
  readonly gateQuery?: GateQuery;
  /** Webhooks: server-wide endpoints and the delivery loop's timings (tests shorten them). */
  readonly notify?: Omit<NotifierOptions, 'store' | 'log' | 'now'>;
  /**
   * Per source address: failed authentications (default 20 a minute, burst 20) and enrollments
   * (default 10 a second, burst 50); see rate-limit.ts and docs/host-identity.md.
   */
  readonly rateLimits?: RateLimitOptions;
  /** How long a rotated-away host credential stays valid unless the new one is used first (default 10 minutes). */
  readonly rotationGraceMs?: number;
  /** Fleet-wide limits (--max-changing-hosts, --max-running-rollouts); missing or null: no cap. */
  readonly maxChangingHosts?: number | null;
  readonly maxRunningRollouts?: number | null;
  /**
   * Agent heartbeats of cached credentials answered in front of the Hono app (agent-fast-path.ts).
   * Default true; false (or SLUICE_AGENT_FAST_PATH=0) sends every request through Hono (tests
   * compare the two, benchmarks measure both).
   */
  readonly agentFastPath?: boolean;
}

export interface RunningServer {
  readonly url: string;
  readonly adminToken: string;
  readonly enrollToken: string;
  readonly tokens: ServerTokens;
  readonly store: Store;
  readonly driver: RolloutDriver;
  /** PostgreSQL only: this process as one replica (its id, role, the elector). */
  readonly replica: ReplicaRuntime | null;
  /** In-memory liveness and the credential cache (flush counters for tests and benchmarks). */
  readonly liveness: HostLiveness;
  /** The heartbeat fast path's counters (agent-fast-path.ts); null when it is off. */
  readonly fastPath: AgentFastPath['stats'] | null;
  /**
   * Reads the TLS certificate and key files again and uses them for new connections (open ones
   * keep theirs). A bad pair is refused and the old one stays; the answer says which. Without TLS: null.
   */
  reloadTls(): { ok: true; fingerprint: string } | { ok: false; error: string } | null;
  close(): Promise<void>;
}

/** Loopback listen addresses: plain HTTP there is only readable on this machine. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** The certificate and key files read and checked together (a key that does not match is refused). */
export function loadTlsPair(files: { certFile: string; keyFile: string }): { cert: Buffer; key: Buffer; fingerprint: string } {
  const read = (flag: string, file: string) => {
    try {
      return readFileSync(file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new ValidationError(`${flag} ${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (err as Error).message}`);
    }
  };
  const cert = read('--tls-cert', files.certFile);
  const key = read('--tls-key', files.keyFile);
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    throw new ValidationError(`--tls-cert ${files.certFile} / --tls-key ${files.keyFile}: not a usable certificate and key (${(err as Error).message})`);
  }
  let fingerprint = '';
  try {
    fingerprint = new X509Certificate(cert).fingerprint256;
  } catch {
    // A fingerprint only for the log; the context above is what matters.
  }
  return { cert, key, fingerprint };
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
  // Read before anything opens: a wrong path is a flag error (exit 2), not a half-started server.
  let tlsPair = opts.tls ? loadTlsPair(opts.tls) : null;
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
        adminTokenFile: process.env.SLUICE_ADMIN_TOKEN_FILE || undefined,
        enrollTokenFile: process.env.SLUICE_ENROLL_TOKEN_FILE || undefined,
      });

  // PGlite locks its data dir itself (one process). On PostgreSQL any number of replicas share the
  // database and a leader lease decides which one drives rollouts (src/server/leader/).
  if (opts.databaseUrl) await assertPostgresSchema(opts.databaseUrl); // a missing schema: say so, exit 2
  const replicaId = opts.databaseUrl ? newReplicaId() : null;
  const rawStore = await openStore(
    opts.databaseUrl
      ? { databaseUrl: opts.databaseUrl, postgres: { applicationName: applicationName(replicaId!) } }
      : opts.memory
        ? { memory: true }
        : { dataDir },
  );
  // Heartbeats write nothing each: last_seen is kept in memory and flushed in batches.
  const liveness = new HostLiveness(rawStore, { ...(opts.flushMs !== undefined ? { flushMs: opts.flushMs } : {}), now, log });
  const store = liveness.store;
  const hub = new AssignmentHub();
  const metrics = createServerMetrics(store, heartbeatMs * 3, now);
  // One outbox, one delivery loop: it runs while this replica's driver does (the leader).
  const deliveries = new Counter({
    name: 'sluice_webhook_deliveries_total',
    help: 'Webhook delivery attempts by result (delivered, failed: retried or given up).',
    labelNames: ['result'] as const,
    registers: [metrics.registry],
  });
  const gateEvaluations = new Counter({
    name: 'sluice_gate_evaluations_total',
    help: 'Metric gate evaluations (Prometheus queries) by result (pass, fail).',
    labelNames: ['result'] as const,
    registers: [metrics.registry],
  });
  const onAttempt = opts.notify?.onAttempt;
  const notifier = new Notifier({
    ...(opts.retainFinishedMs !== undefined ? { retainMs: opts.retainFinishedMs } : {}),
    ...opts.notify,
    store,
    log,
    now,
    onAttempt: (row, ok, error) => {
      deliveries.inc({ result: ok ? 'delivered' : 'failed' });
      onAttempt?.(row, ok, error);
    },
  });
  const gates = {
    ...(opts.prometheusUrl !== undefined ? { defaultUrl: opts.prometheusUrl } : {}),
    ...(opts.gateQuery ? { query: opts.gateQuery } : {}),
    onVerdict: (pass: boolean) => gateEvaluations.inc({ result: pass ? 'pass' : 'fail' }),
  };
  const makeDriver = (driverStore: Store, extra: { onAssignmentsChanged: (hosts: readonly string[] | null) => void; beforeTick?: () => Promise<void> }) =>
    new RolloutDriver({
      store: driverStore,
      log,
      now,
      ...(opts.tickMs !== undefined ? { tickMs: opts.tickMs } : {}),
      onAssignmentsChanged: extra.onAssignmentsChanged,
      onTransition: (s) => metrics.transitionSeconds.observe(s),
      ...(extra.beforeTick ? { beforeTick: extra.beforeTick } : {}),
      gates,
      notifier,
      maxChangingHosts: opts.maxChangingHosts ?? null,
      maxRunningRollouts: opts.maxRunningRollouts ?? null,
    });
  let replica: ReplicaRuntime | null = null;
  let driver: RolloutDriver;
  if (opts.databaseUrl) {
    replica = await createReplica({
      databaseUrl: opts.databaseUrl,
      store,
      hub,
      log,
      makeDriver,
      id: replicaId!,
      ...(opts.lease ? { lease: opts.lease } : {}),
    }).catch(async (err: unknown) => {
      await store.close().catch(() => {});
      throw err;
    });
    driver = replica.driver;
    const elector = replica.elector;
    new Gauge({
      name: 'sluice_replica_leader',
      help: '1 while this replica holds the leader lease and drives rollouts, else 0 (PostgreSQL replicas).',
      registers: [metrics.registry],
      collect() {
        this.set(elector.current() ? 1 : 0);
      },
    });
  } else {
    driver = makeDriver(store, { onAssignmentsChanged: (hosts) => hub.notify(hosts) });
    await driver.start();
  }
  const fastPathOn = opts.agentFastPath ?? process.env.SLUICE_AGENT_FAST_PATH !== '0';
  const { app, fastPath } = createApi({
    store,
    driver,
    hub,
    log,
    metrics,
    adminToken: tokens.adminToken,
    enrollToken: tokens.enrollToken,
    heartbeatMs,
    now,
    ...(replica ? { replica: replica.elector } : {}),
    ...(opts.remediationPolicy ? { remediationPolicy: opts.remediationPolicy } : {}),
    // The remediation guard denies during a fleet freeze.
    activeFreeze: (at: number) => activeFreeze(store, at),
    ...(opts.peerCa !== undefined ? { peerCa: opts.peerCa } : {}),
    notifier,
    ...(opts.rateLimits ? { rateLimits: opts.rateLimits } : {}),
    ...(opts.rotationGraceMs !== undefined ? { rotationGraceMs: opts.rotationGraceMs } : {}),
    ...(fastPathOn ? { cachedHost: (hash: string) => liveness.cachedHost(hash) } : {}),
  });
  liveness.start();
  const retainMs = opts.retainFinishedMs === undefined ? parseRetention(DEFAULT_RETAIN_FINISHED) : opts.retainFinishedMs;
  // Every replica purges (bounded batches; deleting what another already deleted costs nothing).
  const retention =
    retainMs === null
      ? null
      : startRetention({ store, log, retainMs, now, ...(opts.retentionIntervalMs !== undefined ? { intervalMs: opts.retentionIntervalMs } : {}) });

  let server: ServerType;
  let guard: ConnectionGuard | undefined;
  const address = await new Promise<AddressInfo>((resolveListen, reject) => {
    server = tlsPair
      ? serve(
          {
            fetch: app.fetch,
            hostname: host,
            port,
            createServer: withFastPath(createHttpsServer, fastPath),
            serverOptions: { cert: tlsPair.cert, key: tlsPair.key, handshakeTimeout: opts.connections?.headersTimeoutMs ?? 10_000 },
          },
          (info) => resolveListen(info),
        )
      : serve({ fetch: app.fetch, hostname: host, port, createServer: withFastPath(createHttpServer, fastPath) }, (info) => resolveListen(info));
    guard = guardConnections(server as Server, { ...opts.connections, tls: tlsPair !== null });
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(
        err.code === 'EADDRINUSE'
          ? new SluiceError('unavailable', `cannot listen on ${host}:${port}: the address is in use (is another sluice server running? use --listen)`)
          : err,
      );
    });
  }).catch(async (err: unknown) => {
    await retention?.stop();
    if (replica) await replica.close();
    else await driver.stop();
    await liveness.stop();
    await store.close();
    throw err;
  });
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const scheme = tlsPair ? 'https' : 'http';
  const url = `${scheme}://${shownHost}:${address.port}`;
  if (replica) {
    const advertiseUrl = opts.advertiseUrl ?? advertisedFromListen(host, address.port, url, scheme);
    await replica.start(advertiseUrl);
    log.info({ replica: replica.id, advertiseUrl, role: replica.elector.status().role, reason: replica.elector.status().reason }, 'joined the replicas on PostgreSQL');
  }
  log.info(
    { url, store: store.kind, maxConnections: guard?.maxConnections, maxChangingHosts: opts.maxChangingHosts ?? null, maxRunningRollouts: opts.maxRunningRollouts ?? null, ...(tlsPair ? { certificate: tlsPair.fingerprint } : {}) },
    'sluice server listening',
  );
  if (!tlsPair && !isLoopbackHost(host)) {
    log.warn(
      { listen: `${host}:${address.port}` },
      'listening on a non-loopback address without TLS: tokens and host credentials cross the network in clear; use --tls-cert and --tls-key (docs/tls.md)',
    );
  }
  const reloadTls: RunningServer['reloadTls'] = () => {
    if (!opts.tls) return null;
    try {
      const pair = loadTlsPair(opts.tls);
      (server as unknown as HttpsServer).setSecureContext({ cert: pair.cert, key: pair.key });
      tlsPair = pair;
      log.info({ certificate: pair.fingerprint }, 'TLS certificate reloaded: new connections use it');
      return { ok: true, fingerprint: pair.fingerprint };
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      log.error({ err: error, certificate: tlsPair?.fingerprint }, 'TLS certificate reload failed: still serving the previous certificate');
      return { ok: false, error };
    }
  };

  let closed = false;
  return {
    url,
    adminToken: tokens.adminToken,
    enrollToken: tokens.enrollToken,
    tokens,
    store,
    driver,
    replica,
    liveness,
    fastPath: fastPath?.stats ?? null,
    reloadTls,
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
      if (replica) await replica.close();
      else await driver.stop();
      await liveness.stop(); // the last heartbeats' last_seen, written before the store closes
      await store.close();
    },
  };
}

type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * The server factory @hono/node-server calls, with the fast path (if any) in front of its request
 * listener (the Hono app): a request the fast path does not take, or hands on later, goes there.
 */
function withFastPath<T extends typeof createHttpServer | typeof createHttpsServer>(create: T, fastPath: AgentFastPath | null): T {
  if (!fastPath) return create;
  const make = create as unknown as (options: object, listener: RequestListener) => Server;
  return ((options: object, listener: RequestListener) =>
    make(options, (req, res) => {
      if (!fastPath(req, res, () => listener(req, res))) listener(req, res);
    })) as unknown as T;
}

/**
 * What other replicas call: the listen address, unless it is a wildcard (0.0.0.0, ::), which
 * another machine cannot dial; then this machine's hostname (set --advertise-url behind NAT).
 */
function advertisedFromListen(host: string, port: number, url: string, scheme: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return `${scheme}://${hostname()}:${port}`;
  return url;
}

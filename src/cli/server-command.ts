// `sluice server`: the control plane on the embedded store (default) or PostgreSQL.
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { readFile } from 'node:fs/promises';
import type { RemediationPolicy } from '../core/remediation/guard.ts';
import { ValidationError } from '../core/errors.ts';
import { DEFAULT_RETAIN_FINISHED, parseRetention } from '../server/retention.ts';
import type { ServerTokens } from '../server/tokens.ts';
import { DEFAULT_SERVER, DEFAULT_TOKEN_FILE } from './resolve-connection.ts';
import { readCaFile } from '../core/tls-trust.ts';
import { readSecretFile } from '../core/secret-file.ts';
import type { ServerEndpoint } from '../engine/notifier.ts';

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '' && url.username === '' && url.password === '';
  } catch {
    return false;
  }
}

/** Scheme and host only in messages: webhook URLs often carry a token in their path. */
function safeOrigin(text: string): string {
  try {
    const url = new URL(text);
    return `${url.protocol}//${url.host}`;
  } catch {
    return text.slice(0, 16);
  }
}
import { parseRateSpec } from '../server/rate-spec.ts';

export interface BannerFacts {
  /** The address the server really listens on (port 0 resolved). */
  readonly url: string;
  readonly storeKind: 'pglite' | 'postgres';
  /** Absolute. */
  readonly dataDir: string;
  readonly tokens: Pick<ServerTokens, 'adminTokenFile' | 'enrollTokenFile'>;
  /** Where the server was started: the CLI run from here finds ./.sluice/admin.token by itself. */
  readonly cwd: string;
}

/**
 * What `sluice server` prints once listening: where it is, where the tokens are, how to enroll an
 * agent and how to point the CLI at it. Every value is the one in use (--listen, --data-dir), and
 * the CLI hints only leave out what the CLI finds by itself from `cwd`.
 */
export function serverBanner(f: BannerFacts): string {
  const q = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
  const cliFindsServer = f.url === DEFAULT_SERVER;
  const cliFindsToken = f.tokens.adminTokenFile !== null && resolve(f.cwd, DEFAULT_TOKEN_FILE) === f.tokens.adminTokenFile;
  const lines = [
    '',
    `Sluice server listening on ${f.url} (store: ${f.storeKind === 'pglite' ? `embedded, ${f.dataDir}` : 'PostgreSQL'})`,
    f.tokens.adminTokenFile ? `  admin token:      ${f.tokens.adminTokenFile}` : '  admin token:      from SLUICE_ADMIN_TOKEN',
    f.tokens.enrollTokenFile ? `  enrollment token: ${f.tokens.enrollTokenFile}` : '  enrollment token: from SLUICE_ENROLL_TOKEN',
    `  dashboard:        ${f.url}/ui/ (sign in with the admin token${f.tokens.adminTokenFile ? `: cat ${q(f.tokens.adminTokenFile)}` : ''})`,
    '',
    'Enroll an agent on a host (it only runs the change kinds you --allow):',
    f.tokens.enrollTokenFile
      ? `  SLUICE_ENROLL_TOKEN_FILE=${q(f.tokens.enrollTokenFile)} sluice agent --server ${f.url} \\`
      : `  SLUICE_ENROLL_TOKEN=... sluice agent --server ${f.url} \\`,
    `      ${f.url.startsWith('https:') ? '--ca-file CA.pem ' : ''}--name web-1 --labels env=staging,zone=a --allow command`,
  ];
  if (f.url.startsWith('https:')) lines.push('  (--ca-file, or SLUICE_CA_FILE for the CLI: the CA that signed the certificate, unless it is publicly trusted)');
  if (cliFindsServer && cliFindsToken) {
    lines.push('Then, from this directory:', `  sluice hosts                     # the CLI finds ./${DEFAULT_TOKEN_FILE} by itself`);
  } else {
    lines.push('Then point the CLI at this server:');
    if (!cliFindsServer) lines.push(`  export SLUICE_SERVER=${f.url}`);
    if (!cliFindsToken) {
      lines.push(f.tokens.adminTokenFile ? `  export SLUICE_TOKEN_FILE=${q(f.tokens.adminTokenFile)}` : '  export SLUICE_TOKEN="$SLUICE_ADMIN_TOKEN"');
    }
    lines.push('  sluice hosts');
  }
  lines.push('  sluice rollout start examples/flag-on.yaml --wait', '');
  return lines.join('\n') + '\n';
}

/** --max-connections / SLUICE_MAX_CONNECTIONS: a whole number of at least 1, or unset. */
export function parseMaxConnections(raw: string | undefined): number | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  if (!/^\d{1,9}$/.test(raw.trim()) || Number(raw) < 1) {
    throw new ValidationError(`--max-connections must be a whole number of at least 1, got "${raw}"`);
  }
  return Number(raw);
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function registerServerCommand(program: Command): void {
  program
    .command('server')
    .description('Run the Sluice control plane: HTTP API, rollout engine and store.')
    .option('--listen <host:port>', 'address to listen on', '127.0.0.1:7400')
    .option('--data-dir <dir>', 'data directory: the embedded database (PGlite) and generated tokens', './.sluice')
    .option('--database-url <url>', 'use PostgreSQL at this URL instead of the embedded database (env: SLUICE_DATABASE_URL); several servers may share it (replicas, one leader)')
    .option('--advertise-url <url>', 'with --database-url: the URL other replicas reach this one at (default: http(s)://LISTEN) (env: SLUICE_ADVERTISE_URL)')
    .option('--max-connections <n>', 'most open client connections; past it new ones get 503 + Retry-After (default: the open-file limit less 512; env: SLUICE_MAX_CONNECTIONS)')
    .option('--tls-cert <file>', 'serve HTTPS with this certificate (PEM, the chain after it); SIGHUP reloads it (env: SLUICE_TLS_CERT)')
    .option('--tls-key <file>', 'the private key of --tls-cert (PEM) (env: SLUICE_TLS_KEY)')
    .option('--peer-ca-file <file>', "with replicas over https: the CA that signed the other replicas' certificates (default: the public roots Node trusts, plus NODE_EXTRA_CA_CERTS) (env: SLUICE_PEER_CA_FILE)")
    .option('--limit-failed-auth <rate>', 'failed authentications per source address, N/DURATION[,burst=B] or off (env: SLUICE_LIMIT_FAILED_AUTH; default 20/1m)')
    .option('--limit-enroll <rate>', 'enrollments per source address, N/DURATION[,burst=B] or off (env: SLUICE_LIMIT_ENROLL; default 10/1s,burst=50)')
    .option('--max-changing-hosts <n>', 'at most this many hosts changing at once across all rollouts; a rollout at the cap waits (env: SLUICE_MAX_CHANGING_HOSTS; default: no cap)')
    .option('--max-running-rollouts <n>', 'at most this many rollouts running at once; one over the cap waits before its first wave (env: SLUICE_MAX_RUNNING_ROLLOUTS; default: no cap)')
    .option('--retain-finished <duration>', `delete the events and report records of rollouts finished longer ago than this, or "off" (env: SLUICE_RETAIN_FINISHED; default ${DEFAULT_RETAIN_FINISHED})`)
    .option('--remediation-policy <file>', 'the remediation guard\'s budgets, YAML (env: SLUICE_REMEDIATION_POLICY; default: zone 20%, region/provider/fleet 10% per 10 minutes; see docs/remediation.md)')
    .option('--prometheus-url <url>', 'Prometheus for metric gates that do not name their own "prometheus" (env: SLUICE_PROMETHEUS_URL)')
    .option('--notify-url <url>', 'a webhook for every rollout\'s notifications (repeatable; env: SLUICE_NOTIFY_URL); see docs/notifications.md', collect, [])
    .option('--notify-secret-file <file>', 'the HMAC secret that signs --notify-url deliveries (env: SLUICE_NOTIFY_SECRET_FILE)')
    .option('--notify-format <format>', 'json (default) or slack, for --notify-url')
    .option('--notify-config <file>', 'more server-wide webhooks, each with its own format, events and secretFile (YAML; env: SLUICE_NOTIFY_CONFIG); see docs/notifications.md')
    .addHelpText(
      'after',
      `
Tokens: the admin token (operators) and the enrollment token (agents) come from
SLUICE_ADMIN_TOKEN and SLUICE_ENROLL_TOKEN, or from the files SLUICE_ADMIN_TOKEN_FILE and
SLUICE_ENROLL_TOKEN_FILE name; when unset they are generated once and kept, mode 0600, in
DATA_DIR/admin.token and DATA_DIR/enroll.token.

TLS: --tls-cert and --tls-key serve HTTPS. kill -HUP reloads both files: new connections get
the new certificate, open ones keep theirs; a bad pair is logged and the old one stays. Without
them the server speaks plain HTTP (and warns when it listens beyond loopback). See docs/tls.md.

Replicas: any number of servers may share one PostgreSQL database; all of them serve agents and
operators, one (elected with a lease) drives rollouts, and the others forward reports and rollout
commands to it at its --advertise-url. Give every replica the same SLUICE_ADMIN_TOKEN and
SLUICE_ENROLL_TOKEN. See docs/replicas.md.

Examples:
  sluice server                                   # embedded database in ./.sluice
  sluice server --listen 0.0.0.0:7400 --tls-cert /etc/sluice/tls/server.crt \\
      --tls-key /etc/sluice/tls/server.key          # HTTPS
  sluice server --listen 0.0.0.0:7400 --database-url postgres://sluice@db/sluice \\
      --advertise-url http://10.0.0.5:7400          # one of several replicas`,
    )
    .action(async (opts: {
      listen: string;
      dataDir: string;
      databaseUrl?: string;
      advertiseUrl?: string;
      maxConnections?: string;
      retainFinished?: string;
      tlsCert?: string;
      tlsKey?: string;
      peerCaFile?: string;
      remediationPolicy?: string;
      prometheusUrl?: string;
      notifyUrl: string[];
      notifySecretFile?: string;
      notifyFormat?: string;
      notifyConfig?: string;
      limitFailedAuth?: string;
      limitEnroll?: string;
      maxChangingHosts?: string;
      maxRunningRollouts?: string;
    }) => {
      const prometheusUrl = opts.prometheusUrl ?? (process.env.SLUICE_PROMETHEUS_URL || undefined);
      if (prometheusUrl !== undefined && !isHttpUrl(prometheusUrl)) throw new ValidationError(`--prometheus-url must be an http(s) URL such as http://prometheus:9090, got "${prometheusUrl}"`);
      const notifyUrls = opts.notifyUrl.length > 0 ? opts.notifyUrl : (process.env.SLUICE_NOTIFY_URL || '').split(/\s+/).filter((u) => u !== '');
      for (const u of notifyUrls) if (!isHttpUrl(u)) throw new ValidationError(`--notify-url must be an http(s) URL without credentials, got "${safeOrigin(u)}..."`);
      const notifyFormat = opts.notifyFormat ?? 'json';
      if (notifyFormat !== 'json' && notifyFormat !== 'slack') throw new ValidationError(`--notify-format must be json or slack, got "${notifyFormat}"`);
      const secretFile = opts.notifySecretFile ?? (process.env.SLUICE_NOTIFY_SECRET_FILE || undefined);
      if (secretFile !== undefined && notifyUrls.length === 0) throw new ValidationError('--notify-secret-file needs --notify-url');
      const notifySecret = secretFile === undefined ? undefined : readSecretFile(secretFile, '--notify-secret-file');
      const notifyEndpoints: ServerEndpoint[] = notifyUrls.map((url) => ({ url, format: notifyFormat, ...(notifySecret ? { secret: notifySecret } : {}) }));
      const notifyConfig = opts.notifyConfig ?? (process.env.SLUICE_NOTIFY_CONFIG || undefined);
      if (notifyConfig !== undefined) {
        const { parseNotifyConfig } = await import('../server/notify-config.ts');
        let text: string;
        try {
          text = await readFile(notifyConfig, 'utf8');
        } catch (err) {
          throw new ValidationError(`--notify-config: cannot read ${notifyConfig}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
        }
        notifyEndpoints.push(...parseNotifyConfig(text, notifyConfig));
      }
      const maxChangingHosts = parseLimit('--max-changing-hosts', opts.maxChangingHosts ?? process.env.SLUICE_MAX_CHANGING_HOSTS);
      const maxRunningRollouts = parseLimit('--max-running-rollouts', opts.maxRunningRollouts ?? process.env.SLUICE_MAX_RUNNING_ROLLOUTS);
      const databaseUrl = opts.databaseUrl ?? process.env.SLUICE_DATABASE_URL;
      const tlsCert = opts.tlsCert ?? (process.env.SLUICE_TLS_CERT || undefined);
      const tlsKey = opts.tlsKey ?? (process.env.SLUICE_TLS_KEY || undefined);
      if ((tlsCert === undefined) !== (tlsKey === undefined)) {
        throw new ValidationError('--tls-cert and --tls-key go together: give both (or neither, for plain HTTP)');
      }
      const peerCaFile = opts.peerCaFile ?? (process.env.SLUICE_PEER_CA_FILE || undefined);
      const peerCa = peerCaFile === undefined ? undefined : readCaFile(peerCaFile, '--peer-ca-file');
      const advertiseUrl = opts.advertiseUrl ?? process.env.SLUICE_ADVERTISE_URL;
      if (advertiseUrl !== undefined && !/^https?:\/\/[^\s/]+(\/\S*)?$/.test(advertiseUrl)) {
        throw new ValidationError(`--advertise-url must be an http(s) URL such as http://10.0.0.5:7400, got "${advertiseUrl}"`);
      }
      const maxConnections = parseMaxConnections(opts.maxConnections ?? process.env.SLUICE_MAX_CONNECTIONS);
      const retainFinishedMs = parseRetention(opts.retainFinished ?? process.env.SLUICE_RETAIN_FINISHED ?? DEFAULT_RETAIN_FINISHED);
      const policyFile = opts.remediationPolicy ?? process.env.SLUICE_REMEDIATION_POLICY;
      let remediationPolicy: RemediationPolicy | undefined;
      if (policyFile !== undefined) {
        const { parseRemediationPolicy } = await import('../core/remediation/policy.ts');
        let text: string;
        try {
          text = await readFile(policyFile, 'utf8');
        } catch (err) {
          throw new ValidationError(`--remediation-policy: cannot read ${policyFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
        }
        remediationPolicy = parseRemediationPolicy(text, policyFile);
      }
      const failedAuthText = opts.limitFailedAuth ?? process.env.SLUICE_LIMIT_FAILED_AUTH;
      const enrollText = opts.limitEnroll ?? process.env.SLUICE_LIMIT_ENROLL;
      const rateLimits = {
        ...(failedAuthText !== undefined ? { failedAuth: parseRateSpec(failedAuthText, '--limit-failed-auth') } : {}),
        ...(enrollText !== undefined ? { enroll: parseRateSpec(enrollText, '--limit-enroll') } : {}),
      };
      // Loaded here, not at the top: the rest of the CLI never pays for the server, Hono and the store.
      const { startServer } = await import('../server/start-server.ts');
      const server = await startServer({
        retainFinishedMs,
        ...(remediationPolicy ? { remediationPolicy } : {}),
        maxChangingHosts,
        maxRunningRollouts,
        listen: opts.listen,
        dataDir: opts.dataDir,
        ...(databaseUrl ? { databaseUrl } : {}),
        ...(advertiseUrl ? { advertiseUrl: advertiseUrl.replace(/\/+$/, '') } : {}),
        ...(maxConnections !== undefined ? { connections: { maxConnections } } : {}),
        ...(tlsCert !== undefined && tlsKey !== undefined ? { tls: { certFile: resolve(tlsCert), keyFile: resolve(tlsKey) } } : {}),
        ...(peerCa !== undefined ? { peerCa } : {}),
        ...(prometheusUrl !== undefined ? { prometheusUrl } : {}),
        ...(notifyEndpoints.length > 0 ? { notify: { endpoints: notifyEndpoints } } : {}),
        rateLimits,
      });
      // The secrets are in memory now: nothing the server starts should find them in its environment.
      delete process.env.SLUICE_ADMIN_TOKEN;
      delete process.env.SLUICE_ENROLL_TOKEN;
      if (tlsCert !== undefined) {
        // Certificate rotation (certbot deploy hook, cert-manager, systemctl reload): reread, swap, keep connections.
        process.on('SIGHUP', () => {
          server.reloadTls();
        });
      }
      process.stderr.write(
        serverBanner({ url: server.url, storeKind: server.store.kind, dataDir: resolve(opts.dataDir), tokens: server.tokens, cwd: process.cwd() }),
      );
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        process.stderr.write(`received ${signal}, shutting down\n`);
        server.close().then(
          () => process.exit(0),
          () => process.exit(1),
        );
        setTimeout(() => process.exit(1), 10_000).unref();
      };
      process.on('SIGINT', () => stop('SIGINT'));
      process.on('SIGTERM', () => stop('SIGTERM'));
    });
}

/** A fleet-wide limit flag: a whole number of at least 1; missing: no cap (null). */
export function parseLimit(flag: string, value: string | undefined): number | null {
  if (value === undefined) return null;
  if (!/^[1-9]\d{0,8}$/.test(value.trim())) throw new ValidationError(`${flag} takes a whole number of at least 1, got "${value}"`);
  return Number(value.trim());
}

// `sluice server`: the control plane on the embedded store (default) or PostgreSQL.
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { ValidationError } from '../core/errors.ts';
import { DEFAULT_RETAIN_FINISHED, parseRetention } from '../server/retention.ts';
import type { ServerTokens } from '../server/tokens.ts';
import { DEFAULT_SERVER, DEFAULT_TOKEN_FILE } from './resolve-connection.ts';

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
    `  sluice agent --server ${f.url} --token "$(cat ${f.tokens.enrollTokenFile ? q(f.tokens.enrollTokenFile) : '$SLUICE_ENROLL_TOKEN'})" \\`,
    '      --name web-1 --labels env=staging,zone=a --allow command',
  ];
  if (cliFindsServer && cliFindsToken) {
    lines.push('Then, from this directory:', `  sluice hosts                     # the CLI finds ./${DEFAULT_TOKEN_FILE} by itself`);
  } else {
    lines.push('Then point the CLI at this server:');
    if (!cliFindsServer) lines.push(`  export SLUICE_SERVER=${f.url}`);
    if (!cliFindsToken) {
      lines.push(f.tokens.adminTokenFile ? `  export SLUICE_TOKEN="$(cat ${q(f.tokens.adminTokenFile)})"` : '  export SLUICE_TOKEN="$SLUICE_ADMIN_TOKEN"');
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

export function registerServerCommand(program: Command): void {
  program
    .command('server')
    .description('Run the Sluice control plane: HTTP API, rollout engine and store.')
    .option('--listen <host:port>', 'address to listen on', '127.0.0.1:7400')
    .option('--data-dir <dir>', 'data directory: the embedded database (PGlite) and generated tokens', './.sluice')
    .option('--database-url <url>', 'use PostgreSQL at this URL instead of the embedded database (env: SLUICE_DATABASE_URL); several servers may share it (replicas, one leader)')
    .option('--advertise-url <url>', 'with --database-url: the URL other replicas reach this one at (default: http://LISTEN) (env: SLUICE_ADVERTISE_URL)')
    .option('--max-connections <n>', 'most open client connections; past it new ones get 503 + Retry-After (default: the open-file limit less 512; env: SLUICE_MAX_CONNECTIONS)')
    .option('--retain-finished <duration>', `delete the events and report records of rollouts finished longer ago than this, or "off" (env: SLUICE_RETAIN_FINISHED; default ${DEFAULT_RETAIN_FINISHED})`)
    .addHelpText(
      'after',
      `
Tokens: the admin token (operators) and the enrollment token (agents) come from
SLUICE_ADMIN_TOKEN and SLUICE_ENROLL_TOKEN; when unset they are generated once and kept,
mode 0600, in DATA_DIR/admin.token and DATA_DIR/enroll.token.

Replicas: any number of servers may share one PostgreSQL database; all of them serve agents and
operators, one (elected with a lease) drives rollouts, and the others forward reports and rollout
commands to it at its --advertise-url. Give every replica the same SLUICE_ADMIN_TOKEN and
SLUICE_ENROLL_TOKEN. See docs/replicas.md.

Examples:
  sluice server                                   # embedded database in ./.sluice
  sluice server --listen 0.0.0.0:7400 --database-url postgres://sluice@db/sluice \\
      --advertise-url http://10.0.0.5:7400          # one of several replicas`,
    )
    .action(async (opts: { listen: string; dataDir: string; databaseUrl?: string; advertiseUrl?: string; maxConnections?: string; retainFinished?: string }) => {
      const databaseUrl = opts.databaseUrl ?? process.env.SLUICE_DATABASE_URL;
      const advertiseUrl = opts.advertiseUrl ?? process.env.SLUICE_ADVERTISE_URL;
      if (advertiseUrl !== undefined && !/^https?:\/\/[^\s/]+(\/\S*)?$/.test(advertiseUrl)) {
        throw new ValidationError(`--advertise-url must be an http(s) URL such as http://10.0.0.5:7400, got "${advertiseUrl}"`);
      }
      const maxConnections = parseMaxConnections(opts.maxConnections ?? process.env.SLUICE_MAX_CONNECTIONS);
      const retainFinishedMs = parseRetention(opts.retainFinished ?? process.env.SLUICE_RETAIN_FINISHED ?? DEFAULT_RETAIN_FINISHED);
      // Loaded here, not at the top: the rest of the CLI never pays for the server, Hono and the store.
      const { startServer } = await import('../server/start-server.ts');
      const server = await startServer({
        retainFinishedMs,
        listen: opts.listen,
        dataDir: opts.dataDir,
        ...(databaseUrl ? { databaseUrl } : {}),
        ...(advertiseUrl ? { advertiseUrl: advertiseUrl.replace(/\/+$/, '') } : {}),
        ...(maxConnections !== undefined ? { connections: { maxConnections } } : {}),
      });
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

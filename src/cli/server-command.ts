// `sluice server`: the control plane on the embedded store (default) or PostgreSQL.
import type { Command } from 'commander';
import { resolve } from 'node:path';
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

export function registerServerCommand(program: Command): void {
  program
    .command('server')
    .description('Run the Sluice control plane: HTTP API, rollout engine and store.')
    .option('--listen <host:port>', 'address to listen on', '127.0.0.1:7400')
    .option('--data-dir <dir>', 'data directory: the embedded database (PGlite) and generated tokens', './.sluice')
    .option('--database-url <url>', 'use PostgreSQL at this URL instead of the embedded database (env: SLUICE_DATABASE_URL)')
    .addHelpText(
      'after',
      `
Tokens: the admin token (operators) and the enrollment token (agents) come from
SLUICE_ADMIN_TOKEN and SLUICE_ENROLL_TOKEN; when unset they are generated once and kept,
mode 0600, in DATA_DIR/admin.token and DATA_DIR/enroll.token.

Examples:
  sluice server                                   # embedded database in ./.sluice
  sluice server --listen 0.0.0.0:7400 --database-url postgres://sluice@db/sluice`,
    )
    .action(async (opts: { listen: string; dataDir: string; databaseUrl?: string }) => {
      const databaseUrl = opts.databaseUrl ?? process.env.SLUICE_DATABASE_URL;
      // Loaded here, not at the top: the rest of the CLI never pays for the server, Hono and the store.
      const { startServer } = await import('../server/start-server.ts');
      const server = await startServer({
        listen: opts.listen,
        dataDir: opts.dataDir,
        ...(databaseUrl ? { databaseUrl } : {}),
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

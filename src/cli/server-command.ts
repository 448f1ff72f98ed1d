// `sluice server`: the control plane on the embedded store (default) or PostgreSQL.
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { startServer } from '../server/start-server.ts';

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
      const server = await startServer({
        listen: opts.listen,
        dataDir: opts.dataDir,
        ...(databaseUrl ? { databaseUrl } : {}),
      });
      const dataDir = resolve(opts.dataDir);
      const lines = [
        '',
        `Sluice server listening on ${server.url} (store: ${server.store.kind === 'pglite' ? `embedded, ${dataDir}` : 'PostgreSQL'})`,
        server.tokens.adminTokenFile ? `  admin token:      ${server.tokens.adminTokenFile}` : '  admin token:      from SLUICE_ADMIN_TOKEN',
        server.tokens.enrollTokenFile ? `  enrollment token: ${server.tokens.enrollTokenFile}` : '  enrollment token: from SLUICE_ENROLL_TOKEN',
        '',
        'Enroll an agent on a host (it only runs the change kinds you --allow):',
        `  sluice agent --server ${server.url} --token "$(cat ${server.tokens.enrollTokenFile ?? '$SLUICE_ENROLL_TOKEN'})" \\`,
        '      --name web-1 --labels env=staging,zone=a --allow command',
        'Then, from this directory:',
        '  sluice hosts                     # the CLI finds ./.sluice/admin.token by itself',
        '  sluice rollout start examples/flag-on.yaml --wait',
        '',
      ];
      process.stderr.write(lines.join('\n') + '\n');
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

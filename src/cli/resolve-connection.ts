// Where the operator commands find the server and the admin token: flags, then environment, then
// the token file the server writes into its default data dir (so `sluice server` in one terminal
// and `sluice hosts` in another, same directory, just works).
import { join } from 'node:path';
import { SluiceError, ValidationError } from '../core/errors.ts';
import type { Command } from 'commander';
import type { ApiClient, IdentityApi } from './api-client.ts';
import type { CliIo } from './io.ts';

export const DEFAULT_SERVER = 'http://127.0.0.1:7400';
export const DEFAULT_TOKEN_FILE = join('.sluice', 'admin.token');

export interface ConnectionOptions {
  readonly server?: string;
  readonly token?: string;
}

export interface Connection {
  readonly server: string;
  readonly token: string;
}

export async function resolveConnection(options: ConnectionOptions, io: CliIo): Promise<Connection> {
  const server = nonEmpty(options.server) ?? nonEmpty(io.env['SLUICE_SERVER']) ?? DEFAULT_SERVER;
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new ValidationError(`invalid server URL "${server}": expected e.g. ${DEFAULT_SERVER}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ValidationError(`invalid server URL "${server}": only http:// and https:// are supported`);
  }
  const token = nonEmpty(options.token) ?? nonEmpty(io.env['SLUICE_TOKEN']) ?? (await readTokenFile(io));
  if (token === undefined) {
    throw new SluiceError(
      'unauthenticated',
      `no admin token: pass --token TOKEN or set SLUICE_TOKEN (the server writes it to DATA_DIR/admin.token; ` +
        `looked for ./${DEFAULT_TOKEN_FILE})`,
    );
  }
  return { server: url.toString().replace(/\/+$/, ''), token };
}

async function readTokenFile(io: CliIo): Promise<string | undefined> {
  try {
    return nonEmpty((await io.readFile(join(io.cwd, DEFAULT_TOKEN_FILE))).trim());
  } catch {
    return undefined;
  }
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

/** Adds --server/--token to an operator command (each command, so `sluice agent --server` stays its own). */
export function withConnectionOptions(command: Command): Command {
  return command
    .option('--server <url>', 'Sluice server URL (env: SLUICE_SERVER, default http://127.0.0.1:7400)')
    .option('--token <token>', 'admin token (env: SLUICE_TOKEN, default: ./.sluice/admin.token)');
}

/** The API client for an operator command's flags and environment. */
export async function connect(options: ConnectionOptions, io: CliIo): Promise<ApiClient & IdentityApi> {
  const connection = await resolveConnection(options, io);
  // The client and its response schemas (zod) load only when a command talks to a server.
  const { createApiClient } = await import('./api-client.ts');
  return createApiClient(connection);
}


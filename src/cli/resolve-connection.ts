// Where the operator commands find the server and the admin token: flags, then environment, then
// the token file the server writes into its default data dir (so `sluice server` in one terminal
// and `sluice hosts` in another, same directory, just works).
import { isAbsolute, join } from 'node:path';
import { SluiceError, ValidationError } from '../core/errors.ts';
import type { Command } from 'commander';
import type { ApiClient, IdentityApi } from './api-client.ts';
import type { CliIo } from './io.ts';

export const DEFAULT_SERVER = 'http://127.0.0.1:7400';
export const DEFAULT_TOKEN_FILE = join('.sluice', 'admin.token');

export interface ConnectionOptions {
  readonly server?: string;
  readonly token?: string;
  readonly tokenFile?: string;
  readonly caFile?: string;
}

export interface Connection {
  readonly server: string;
  readonly token: string;
  /** PEM CA(s) for an https server (--ca-file / SLUICE_CA_FILE); absent: Node's trust store. */
  readonly ca?: string;
}

export const TOKEN_ON_COMMAND_LINE =
  'warning: --token puts the admin token on the command line, where other users see it in ps: use --token-file FILE, SLUICE_TOKEN_FILE or SLUICE_TOKEN\n';

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
  if (nonEmpty(options.token) !== undefined) io.stderr.write(TOKEN_ON_COMMAND_LINE);
  const tokenFile = nonEmpty(options.tokenFile) ?? nonEmpty(io.env['SLUICE_TOKEN_FILE']);
  const token =
    nonEmpty(options.token) ??
    (nonEmpty(options.tokenFile) !== undefined ? await readSecret(io, tokenFile!, '--token-file') : undefined) ??
    nonEmpty(io.env['SLUICE_TOKEN']) ??
    (tokenFile !== undefined ? await readSecret(io, tokenFile, 'SLUICE_TOKEN_FILE') : undefined) ??
    (await readTokenFile(io));
  if (token === undefined) {
    throw new SluiceError(
      'unauthenticated',
      `no admin token: pass --token-file FILE or set SLUICE_TOKEN_FILE or SLUICE_TOKEN (the server writes it to DATA_DIR/admin.token; ` +
        `looked for ./${DEFAULT_TOKEN_FILE})`,
    );
  }
  const caFile = nonEmpty(options.caFile) ?? nonEmpty(io.env['SLUICE_CA_FILE']);
  let ca: string | undefined;
  if (caFile !== undefined) {
    const flag = nonEmpty(options.caFile) !== undefined ? '--ca-file' : 'SLUICE_CA_FILE';
    const text = await io.readFile(isAbsolute(caFile) ? caFile : join(io.cwd, caFile)).catch((err: NodeJS.ErrnoException) => {
      throw new ValidationError(`${flag} ${caFile}: ${err.code === 'ENOENT' ? 'no such file' : err.code === 'EACCES' ? 'permission denied' : err.message}`);
    });
    if (!text.includes('-----BEGIN CERTIFICATE-----')) throw new ValidationError(`${flag} ${caFile}: no PEM certificate in it (expected "-----BEGIN CERTIFICATE-----")`);
    ca = text;
  }
  return { server: url.toString().replace(/\/+$/, ''), token, ...(ca !== undefined ? { ca } : {}) };
}

/** A token file named by a flag or variable: missing or empty is an error (not a silent fallback). */
async function readSecret(io: CliIo, path: string, flag: string): Promise<string> {
  let text: string;
  try {
    text = await io.readFile(isAbsolute(path) ? path : join(io.cwd, path));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ValidationError(`${flag} ${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (err as Error).message}`);
  }
  const token = text.trim();
  if (token === '') throw new ValidationError(`${flag} ${path}: the file is empty`);
  if (/\s/.test(token)) throw new ValidationError(`${flag} ${path}: the file must hold the token alone (it contains whitespace)`);
  return token;
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

/** Adds --server/--token-file/--ca-file to an operator command (each command, so `sluice agent --server` stays its own). */
export function withConnectionOptions(command: Command): Command {
  return command
    .option('--server <url>', 'Sluice server URL (env: SLUICE_SERVER, default http://127.0.0.1:7400)')
    .option('--token-file <file>', 'read the admin token from this file (env: SLUICE_TOKEN_FILE, or the token itself in SLUICE_TOKEN; default: ./.sluice/admin.token)')
    .option('--token <token>', 'the admin token itself: visible to other users in ps, prefer --token-file or SLUICE_TOKEN')
    .option('--ca-file <file>', "CA certificate(s), PEM, that an https server's certificate must chain to (default: the public roots Node trusts, plus NODE_EXTRA_CA_CERTS) (env: SLUICE_CA_FILE)");
}

/** The API client for an operator command's flags and environment. */
export async function connect(options: ConnectionOptions, io: CliIo): Promise<ApiClient & IdentityApi> {
  const connection = await resolveConnection(options, io);
  // The client and its response schemas (zod) load only when a command talks to a server.
  const { createApiClient } = await import('./api-client.ts');
  if (connection.ca === undefined) return createApiClient(connection);
  const { caFetch } = await import('./ca-fetch.ts');
  return createApiClient({ ...connection, fetch: caFetch(connection.ca) });
}


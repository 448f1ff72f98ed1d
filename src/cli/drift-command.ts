// `sluice drift`: what changed on hosts outside a rollout (GET /v1/drift), by host and fleet-wide.
// Also the small GET helper `sluice updates` shares (the drift and updates routes of docs/api.md).
import type { Command } from 'commander';
import type { z } from 'zod';
import { SluiceError, UnavailableError, ValidationError } from '../core/errors.ts';
import { errorFromResponse } from './api-client.ts';
import { colorEnabled } from './io.ts';
import type { CliIo } from './io.ts';
import { driftJson, driftViewSchema, renderDrift } from './render-drift.ts';
import type { DriftView } from './render-drift.ts';
import { resolveConnection, withConnectionOptions } from './resolve-connection.ts';
import type { ConnectionOptions } from './resolve-connection.ts';

const TIMEOUT_MS = 10_000;

/** GET an admin route and parse the answer with `schema`; failures are SluiceErrors like api-client's. */
export async function getJson<T>(options: ConnectionOptions, io: CliIo, path: string, schema: z.ZodType<T>): Promise<T> {
  const { server, token } = await resolveConnection(options, io);
  let response: Response;
  let text: string;
  try {
    response = await fetch(`${server}${path}`, {
      headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    text = await response.text();
  } catch (error) {
    throw new UnavailableError(`cannot reach the Sluice server at ${server}: is \`sluice server\` running?`, { cause: error });
  }
  let json: unknown;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (!response.ok) throw errorFromResponse(response.status, json);
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new SluiceError('failed', `unexpected answer from the Sluice server at ${server} (GET ${path})`);
  return parsed.data;
}

export async function fetchDrift(options: ConnectionOptions, io: CliIo, host?: string): Promise<DriftView> {
  const query = new URLSearchParams({ limit: '200' });
  if (host !== undefined) query.set('host', host);
  return getJson(options, io, `/v1/drift?${query.toString()}`, driftViewSchema);
}

export function registerDriftCommand(program: Command, io: CliIo): Command {
  return withConnectionOptions(program.command('drift'))
    .description('List drift: changes to hosts made outside a rollout, open drift per host and fleet-wide, recent events.')
    .option('--json', 'print {summary, hosts: [{name, policy, open: [...]}], events: [...]} (times as ISO-8601)')
    .option('--host <name>', 'only this host')
    .addHelpText(
      'after',
      `
Agents report drift with their drift guard (sluice agent --drift report|enforce): package versions
that changed with no Sluice step, unattended-upgrades able to run, routing-policy rules or routes
that vanished while no change ran. A condition stays open until it no longer holds; with
--drift enforce the agent switches unattended-upgrades off and puts vanished rules back itself.

Examples:
  sluice drift
  sluice drift --json | jq '.summary.hostsByKind'
  sluice drift --host web-1`,
    )
    .action(async (opts: ConnectionOptions & { json?: boolean; host?: string }) => {
      if (opts.host !== undefined && !/^[A-Za-z0-9._-]{1,253}$/.test(opts.host)) {
        throw new ValidationError(`--host "${opts.host}" is not a host name`);
      }
      const view = await fetchDrift(opts, io, opts.host);
      io.stdout.write(
        opts.json === true
          ? `${JSON.stringify(driftJson(view), null, 2)}\n`
          : renderDrift(view, { now: io.now(), color: colorEnabled(io.stdout, io.env) }),
      );
    });
}

// `sluice drift`: what changed on hosts outside a rollout (GET /v1/drift), by host and fleet-wide.
import type { Command } from 'commander';
import { ValidationError } from '../core/errors.ts';
import { HOST_NAME, HOST_NAME_HINT } from '../core/labels.ts';
import { colorEnabled } from './io.ts';
import type { CliIo } from './io.ts';
import { connect, withConnectionOptions } from './resolve-connection.ts';
import type { ConnectionOptions } from './resolve-connection.ts';

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
      if (opts.host !== undefined && !HOST_NAME.test(opts.host)) {
        throw new ValidationError(`--host "${opts.host}" is not a host name (${HOST_NAME_HINT})`);
      }
      const client = await connect(opts, io);
      const { driftJson, renderDrift } = await import('./render-drift.ts');
      const view = await client.getDrift(opts.host);
      io.stdout.write(
        opts.json === true
          ? `${JSON.stringify(driftJson(view), null, 2)}\n`
          : renderDrift(view, { now: io.now(), color: colorEnabled(io.stdout, io.env) }),
      );
    });
}

// `sluice hosts`: the enrolled fleet, whether each host is heard from, and its labels.
import type { Command } from 'commander';
import { colorEnabled } from './io.ts';
import type { CliIo } from './io.ts';
import { hostsJson, renderHostsTable } from './render-hosts.ts';
import { connect, withConnectionOptions } from './resolve-connection.ts';
import type { ConnectionOptions } from './resolve-connection.ts';

export function registerHostsCommand(program: Command, io: CliIo): Command {
  return withConnectionOptions(program.command('hosts'))
    .description('List enrolled hosts: name, online/offline, when last heard from, labels.')
    .option('--json', 'print [{name, labels, status, lastSeen}] (lastSeen as ISO-8601)')
    .addHelpText(
      'after',
      `
A host is online when the server heard from it within three heartbeat intervals.

Examples:
  sluice hosts
  sluice hosts --json | jq -r '.[] | select(.status == "offline") | .name'`,
    )
    .action(async (opts: ConnectionOptions & { json?: boolean }) => {
      const client = await connect(opts, io);
      const hosts = await client.listHosts();
      io.stdout.write(
        opts.json === true
          ? `${JSON.stringify(hostsJson(hosts), null, 2)}\n`
          : renderHostsTable(hosts, { now: io.now(), color: colorEnabled(io.stdout, io.env) }),
      );
    });
}

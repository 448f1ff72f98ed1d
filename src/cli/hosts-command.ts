// `sluice hosts`: the enrolled fleet, whether each host is heard from, and its labels. Over
// SUMMARY_OVER hosts it prints counts (by status, and by a label with --by) unless asked for the
// hosts (--all); lists page through the server (GET /v1/hosts), so any fleet size works.
import type { Command } from 'commander';
import { ValidationError } from '../core/errors.ts';
import { LABEL_KEY, LABEL_KEY_HINT } from '../core/labels.ts';
import { colorEnabled } from './io.ts';
import type { CliIo } from './io.ts';
import { hostsJson, renderHostsTable } from './render-hosts.ts';
import { renderHostsSummary } from './render-hosts-summary.ts';
import { SUMMARY_OVER } from './render-rollout.ts';
import { connect, withConnectionOptions } from './resolve-connection.ts';
import type { ConnectionOptions } from './resolve-connection.ts';
// `sluice hosts reset NAME` (below): docs/host-identity.md.

interface HostsOptions extends ConnectionOptions {
  json?: boolean;
  all?: boolean;
  hosts?: boolean;
  label?: string[];
  status?: string;
  by?: string;
}

export function parseLabelFilters(items: readonly string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const item of items) {
    const eq = item.indexOf('=');
    const key = eq > 0 ? item.slice(0, eq) : '';
    if (!LABEL_KEY.test(key)) throw new ValidationError(`--label takes KEY=VALUE (label keys are ${LABEL_KEY_HINT}), got "${item}"`);
    if (key in labels && labels[key] !== item.slice(eq + 1)) throw new ValidationError(`--label ${key} is given twice with different values: no host can match`);
    labels[key] = item.slice(eq + 1);
  }
  return labels;
}

export function registerHostsCommand(program: Command, io: CliIo): Command {
  return withConnectionOptions(program.command('hosts'))
    .description('List enrolled hosts: name, online/offline, when last heard from, labels (counts when there are many).')
    .option('--json', 'print [{name, labels, status, lastSeen}] (lastSeen as ISO-8601) of every matching host')
    .option('--all', `list every matching host, even over ${SUMMARY_OVER}`)
    .option('--hosts', 'the same as --all')
    .option('--label <key=value>', 'only hosts with this label (repeat for several)', (v: string, acc: string[] = []) => [...acc, v])
    .option('--status <status>', 'only online or offline hosts')
    .option('--by <key>', 'count hosts per value of this label (e.g. zone)')
    .addHelpText(
      'after',
      `
A host is online when the server heard from it within three heartbeat intervals. Over
${SUMMARY_OVER} matching hosts, counts are printed instead of the list (use --all for the list).

Examples:
  sluice hosts
  sluice hosts --by zone --label env=prod
  sluice hosts --status offline --all
  sluice hosts --json | jq -r '.[] | select(.status == "offline") | .name'`,
    )
    .action(async (opts: HostsOptions) => {
      const labels = parseLabelFilters(opts.label ?? []);
      if (opts.status !== undefined && opts.status !== 'online' && opts.status !== 'offline') {
        throw new ValidationError(`--status is online or offline, got "${opts.status}"`);
      }
      const status = opts.status as 'online' | 'offline' | undefined;
      const filter = { labels, ...(status ? { status } : {}) };
      const client = await connect(opts, io);
      const color = colorEnabled(io.stdout, io.env);
      if (opts.json === true) {
        io.stdout.write(`${JSON.stringify(hostsJson(await client.listHosts(filter)), null, 2)}\n`);
        return;
      }
      const listAll = opts.all === true || opts.hosts === true;
      if (!listAll) {
        const summary = await client.hostsSummary({ labels, ...(opts.by !== undefined ? { by: opts.by } : {}) });
        const matching = status === undefined ? summary.total : summary[status];
        if (opts.by !== undefined || matching > SUMMARY_OVER) {
          io.stdout.write(renderHostsSummary(summary, { color, labels, over: matching > SUMMARY_OVER ? SUMMARY_OVER : null }));
          return;
        }
      }
      const hosts = await client.listHosts({ ...filter, facts: false });
      const filtered = Object.keys(labels).length > 0 || status !== undefined;
      io.stdout.write(
        hosts.length === 0 && filtered ? 'No host matches.\n' : renderHostsTable(hosts, { now: io.now(), color }),
      );
    });
}

/** Adds `reset NAME` under `sluice hosts`. */
export function registerHostsReset(hosts: Command, io: CliIo): void {
  withConnectionOptions(hosts.command('reset <name>'))
    .description('Clear a host\'s credential (admin): its agent is refused until the name enrolls again, which is then accepted once.')
    .addHelpText(
      'after',
      `
An enrolled host name can only be enrolled again by the agent holding its current credential:
someone with the enrollment token alone gets 409. When a host really lost its state directory
(reinstalled, disk replaced), reset it and restart its agent: it enrolls with the token and gets
a new credential. Until then the old credential is refused (401).

Example:
  sluice hosts reset web-17`,
    )
    .action(async (name: string, _opts: ConnectionOptions, cmd: Command) => {
      const client = await connect(cmd.optsWithGlobals() as ConnectionOptions, io);
      const answer = await client.resetHost(name);
      io.stdout.write(`${answer.message}\n`);
    });
}

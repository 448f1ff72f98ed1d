// `sluice remediation ...`: the remediation guard from scripts and terminals. `ask` is what an
// auto-healer's hook runs before it replaces a host (exit 0: go ahead; 1: do not); `list` shows
// what was asked and answered; `override` lets remediation through a scope for a while, with a
// reason; `overrides` and `end-override` manage those.
import type { Command } from 'commander';
import { SluiceError, ValidationError } from '../core/errors.ts';
import { parseDuration } from '../core/plan/duration.ts';
import type { CliIo } from './io.ts';
import { resolveConnection, withConnectionOptions } from './resolve-connection.ts';
import type { ConnectionOptions } from './resolve-connection.ts';

const ACTIONS = ['replace', 'reboot', 'delete', 'repair'];

interface RequestView {
  readonly id: string;
  readonly at: number;
  readonly host: string;
  readonly action: string;
  readonly requester: string;
  readonly decision: 'allow' | 'deny';
  readonly reason: string;
}

export function registerRemediationCommand(program: Command, io: CliIo): Command {
  const cmd = program
    .command('remediation')
    .description('The remediation guard: auto-healers ask before they replace, reboot or delete a host.')
    .addHelpText(
      'after',
      `
An auto-healer (an ASG lifecycle hook, a Cluster API external remediation, a cron script) asks
before it destroys a host; Sluice denies when too much of the host's zone, region, provider or
fleet is already unhealthy or was remediated within the window (a mass failure: replacing hosts
would destroy their local data, not fix anything), when Sluice is rolling a change on the host
(it rolls back by itself), or during a freeze. Tokens with the remediator role may ask.

Examples:
  sluice remediation ask ip-10-0-3-7 --action replace --requester asg-hook && terminate-instance
  sluice remediation list --decision deny
  sluice remediation override zone=us-east-1a --for 1h --reason "AZ lost power; replace everything"

See docs/remediation.md.`,
    );

  withConnectionOptions(cmd.command('ask <host>'))
    .description('Ask whether HOST may be remediated now. Exit 0: allowed; 1: denied (the reason on stdout).')
    .requiredOption('--action <action>', `what the auto-healer would do: ${ACTIONS.join(', ')}`)
    .option('--requester <name>', 'who asks (default: the token\'s name)')
    .option('--reason <text>', 'why the auto-healer wants to (recorded)')
    .option('--timeout <duration>', 'how long to wait for the server', '5s')
    .option('--if-unreachable <answer>', 'the answer when the server cannot be reached in time: deny or allow', 'deny')
    .option('--json', 'print the answer as JSON')
    .addHelpText(
      'after',
      `
--if-unreachable decides what an outage of Sluice means for your fleet: "deny" (the default)
keeps hosts, and their local disks, while Sluice is down; "allow" keeps auto-healing going
without the guard. Choose per auto-healer; docs/remediation.md discusses both.`,
    )
    .action(async (host: string, opts: ConnectionOptions & { action: string; requester?: string; reason?: string; timeout: string; ifUnreachable: string; json?: boolean }) => {
      if (!ACTIONS.includes(opts.action)) throw new ValidationError(`--action is one of ${ACTIONS.join(', ')}, got "${opts.action}"`);
      if (opts.ifUnreachable !== 'deny' && opts.ifUnreachable !== 'allow') throw new ValidationError(`--if-unreachable is deny or allow, got "${opts.ifUnreachable}"`);
      const timeoutMs = parseDuration(opts.timeout);
      if (timeoutMs === null || timeoutMs <= 0) throw new ValidationError(`--timeout takes a duration like 5s, got "${opts.timeout}"`);
      const body = { host, action: opts.action, ...(opts.requester ? { requester: opts.requester } : {}), ...(opts.reason ? { reason: opts.reason } : {}) };
      const { accessCall } = await import('./access-client.ts');
      let answer: { decision: 'allow' | 'deny'; reason: string; [k: string]: unknown };
      try {
        answer = (await accessCall(await resolveConnection(opts, io), 'POST', '/v1/remediation/requests', body, globalThis.fetch, timeoutMs)).json;
      } catch (err) {
        if (!(err instanceof SluiceError) || err.code !== 'unavailable') throw err;
        answer = { decision: opts.ifUnreachable, reason: `${err.message} (answered "${opts.ifUnreachable}" as --if-unreachable says)`, unreachable: true };
      }
      io.stdout.write(opts.json === true ? `${JSON.stringify(answer)}\n` : `${answer.decision}: ${answer.reason}\n`);
      if (answer.decision !== 'allow') throw new SluiceError('conflict', `remediation of ${host} denied`);
    });

  withConnectionOptions(cmd.command('list'))
    .description('Requests and answers, newest first.')
    .option('--host <name>', 'only this host')
    .option('--decision <d>', 'only allow or deny')
    .option('--limit <n>', 'at most this many', '50')
    .option('--json', 'print them as JSON')
    .action(async (opts: ConnectionOptions & { host?: string; decision?: string; limit: string; json?: boolean }) => {
      const q = new URLSearchParams({ limit: opts.limit });
      if (opts.host) q.set('host', opts.host);
      if (opts.decision) q.set('decision', opts.decision);
      const { accessCall } = await import('./access-client.ts');
      const list = (await accessCall(await resolveConnection(opts, io), 'GET', `/v1/remediation/requests?${q}`)).json.requests as RequestView[];
      if (opts.json === true) {
        io.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
        return;
      }
      if (list.length === 0) {
        io.stdout.write('No remediation requests.\n');
        return;
      }
      const { renderTable } = await import('./render-table.ts');
      const { toIso } = await import('./render-time.ts');
      io.stdout.write(
        renderTable([
          ['AT', 'HOST', 'ACTION', 'REQUESTER', 'DECISION', 'REASON'],
          ...list.map((r) => [(toIso(r.at) ?? '-').slice(0, 19).replace('T', ' '), r.host, r.action, r.requester, r.decision, r.reason]),
        ]),
      );
    });

  withConnectionOptions(cmd.command('override <scope>'))
    .description('Let remediation through SCOPE (fleet, host=NAME, or LABEL=VALUE such as zone=us-east-1a) for a while. Operator.')
    .requiredOption('--for <duration>', 'how long (at most 7d)')
    .requiredOption('--reason <text>', 'why (recorded with your name)')
    .action(async (scope: string, opts: ConnectionOptions & { for: string; reason: string }) => {
      const { accessCall } = await import('./access-client.ts');
      const o = (await accessCall(await resolveConnection(opts, io), 'POST', '/v1/remediation/overrides', { scope, for: opts.for, reason: opts.reason })).json.override;
      io.stdout.write(`Override ${o.id}: remediation in ${o.scope} is allowed until ${new Date(o.until).toISOString()} (sluice remediation end-override ${o.id} ends it).\n`);
    });

  withConnectionOptions(cmd.command('overrides'))
    .description('Active overrides.')
    .option('--json', 'print them as JSON')
    .action(async (opts: ConnectionOptions & { json?: boolean }) => {
      const { accessCall } = await import('./access-client.ts');
      const list = (await accessCall(await resolveConnection(opts, io), 'GET', '/v1/remediation/overrides')).json.overrides as Array<Record<string, any>>;
      if (opts.json === true) {
        io.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
        return;
      }
      if (list.length === 0) {
        io.stdout.write('No active overrides: the guard applies its budgets everywhere.\n');
        return;
      }
      for (const o of list) io.stdout.write(`${o.id}  ${o.scope}  until ${new Date(o.until).toISOString()}  by ${o.createdBy}: ${o.reason}\n`);
    });

  withConnectionOptions(cmd.command('end-override <id>'))
    .description('End an override before its time. Operator.')
    .action(async (id: string, opts: ConnectionOptions) => {
      const { accessCall } = await import('./access-client.ts');
      await accessCall(await resolveConnection(opts, io), 'POST', `/v1/remediation/overrides/${encodeURIComponent(id)}/end`, {});
      io.stdout.write(`Override ${id} ended.\n`);
    });

  return cmd;
}

// `sluice updates`: security updates pending on hosts (GET /v1/updates, from their facts), and
// `sluice updates plan`, which turns them into a staged plan: canary, one zone, each region, the
// rest, with the routing invariants checked on every host. Security patches still arrive fast,
// but in waves.
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { ValidationError } from '../core/errors.ts';
import { LABEL_KEY } from '../core/labels.ts';
import { colorEnabled } from './io.ts';
import type { CliIo } from './io.ts';
import { connect, withConnectionOptions } from './resolve-connection.ts';
import type { ConnectionOptions } from './resolve-connection.ts';

/** "os=ubuntu-22.04,env=prod" -> selector; empty -> {} (every host). */
export function parseMatchFlag(text: string | undefined): Record<string, string> {
  const match: Record<string, string> = {};
  if (text === undefined || text.trim() === '') return match;
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    const key = part.slice(0, Math.max(eq, 0)).trim();
    if (eq < 1 || !LABEL_KEY.test(key)) throw new ValidationError(`--match: "${part}" is not label=value (e.g. --match os=ubuntu-22.04)`);
    match[key] = part.slice(eq + 1).trim();
  }
  return match;
}

function defaultPlanName(now: number): string {
  return `security-updates-${new Date(now).toISOString().slice(0, 10)}`;
}

export function registerUpdatesCommand(program: Command, io: CliIo): Command {
  const updates = withConnectionOptions(program.command('updates'))
    .description('List security updates pending on hosts (package, candidate version, hosts), from the agents\' facts.')
    .option('--json', 'print [{package, candidate, security, hosts: [{name, installed}]}]')
    .option('--all', 'include updates that are not security updates')
    .addHelpText(
      'after',
      `
Agents with the drift guard simulate an upgrade (apt-get -s dist-upgrade) every 30 minutes and send
what is pending with their facts; an update is a security update when a security archive offers it.
\`sluice updates plan\` writes a staged plan that installs them, so they arrive fast but in waves.

Examples:
  sluice updates
  sluice updates --json | jq -r '.[].package'
  sluice updates plan --output security.yaml && sluice rollout start security.yaml`,
    )
    .action(async (opts: ConnectionOptions & { json?: boolean; all?: boolean }) => {
      const view = await (await connect(opts, io)).getUpdates(opts.all === true);
      const { renderUpdates, updatesJson } = await import('./render-drift.ts');
      io.stdout.write(
        opts.json === true ? `${JSON.stringify(updatesJson(view), null, 2)}\n` : renderUpdates(view, { color: colorEnabled(io.stdout, io.env) }),
      );
    });

  updates
    .command('plan')
    .description('Write a staged plan installing the pending security updates: canary, one zone, each region, the rest.')
    .option('--output <file>', 'write the plan here (default: stdout)')
    .option('--name <name>', 'the plan name (default: security-updates-YYYY-MM-DD)')
    .option('--match <k=v,...>', 'only hosts with these labels (also the plan\'s hosts.match)')
    .addHelpText(
      'after',
      `
The plan installs, on the targeted hosts, the candidate version of every security update pending
on any of them (apt change), checks ipRulesPreserved and routesPreserved, and uses preflight: block.
It is refused when a package has different candidates on the targeted hosts (different releases)
or is not installed on some of them: plan those hosts apart with --match.

Examples:
  sluice updates plan --output security.yaml
  sluice updates plan --match os=ubuntu-22.04 --name jammy-security --output jammy.yaml`,
    )
    .action(async (opts: { output?: string; name?: string; match?: string }, cmd: Command) => {
      const all = cmd.optsWithGlobals<ConnectionOptions & { output?: string; name?: string; match?: string }>();
      const match = parseMatchFlag(opts.match);
      const view = await (await connect(all, io)).getUpdates(false);
      const { buildUpdatesPlan } = await import('./updates-plan.ts');
      const plan = buildUpdatesPlan(view, { name: opts.name ?? defaultPlanName(io.now()), match, now: io.now() });
      for (const w of plan.warnings) io.stderr.write(`warning: ${w}\n`);
      if (opts.output === undefined) {
        io.stdout.write(plan.yaml);
        return;
      }
      const path = resolve(io.cwd, opts.output);
      await writeFile(path, plan.yaml, 'utf8');
      io.stderr.write(
        `wrote ${opts.output}: ${Object.keys(plan.packages).length} package(s) for ${plan.hosts.length} host(s); ` +
          `check it with \`sluice plan check ${opts.output}\`, start it with \`sluice rollout start ${opts.output}\`\n`,
      );
    });
  return updates;
}

// `sluice updates`: security updates pending on hosts (GET /v1/updates, from their facts), and
// `sluice updates plan`, which turns them into a staged plan: canary, one zone, each region, the
// rest, with the routing invariants checked on every host. Security patches still arrive fast,
// but in waves.
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { SluiceError, ValidationError } from '../core/errors.ts';
import { matchesSelector } from '../core/fleet/select.ts';
import { LABEL_KEY } from '../core/labels.ts';
import { PLAN_NAME, checkPlan, formatProblem } from '../core/plan/parse-plan.ts';
import { colorEnabled } from './io.ts';
import type { CliIo } from './io.ts';
import { renderUpdates, updatesJson } from './render-drift.ts';
import type { UpdatesView } from './render-drift.ts';
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

export interface UpdatesPlan {
  readonly yaml: string;
  /** Things the operator should know (printed on stderr). */
  readonly warnings: readonly string[];
  readonly packages: Readonly<Record<string, string>>;
  readonly hosts: readonly string[];
}

function q(text: string): string {
  return JSON.stringify(text);
}

/**
 * The staged plan for the security updates pending on the hosts matching `match`. Pure. Refuses
 * (ValidationError) what cannot be one plan: a package with different candidates on the targeted
 * hosts (different releases: plan them apart with --match), or a package some targeted host does
 * not have installed (the plan would install it there).
 */
export function buildUpdatesPlan(view: UpdatesView, opts: { name: string; match: Record<string, string>; now: number }): UpdatesPlan {
  if (!PLAN_NAME.test(opts.name)) throw new ValidationError(`--name "${opts.name}" must be 1-100 characters of A-Z a-z 0-9 . _ -`);
  const targeted = view.hosts.filter((h) => matchesSelector(h.labels, opts.match));
  const names = new Set(targeted.map((h) => h.name));
  const candidates = new Map<string, Map<string, string[]>>();
  for (const u of view.updates) {
    if (!u.security) continue;
    const on = u.hosts.filter((h) => names.has(h.name)).map((h) => h.name);
    if (on.length === 0) continue;
    const byVersion = candidates.get(u.package) ?? new Map<string, string[]>();
    byVersion.set(u.candidate, [...(byVersion.get(u.candidate) ?? []), ...on]);
    candidates.set(u.package, byVersion);
  }
  if (candidates.size === 0) {
    throw new SluiceError('failed', `no security updates pending on the ${targeted.length} targeted host(s): nothing to plan`);
  }
  const problems: string[] = [];
  const packages: Record<string, string> = {};
  const pendingOn = new Map<string, string[]>();
  for (const [pkg, byVersion] of [...candidates].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (byVersion.size > 1) {
      const list = [...byVersion].map(([v, hosts]) => `${v} on ${hosts.join(', ')}`).join('; ');
      problems.push(`${pkg} has different candidate versions on the targeted hosts (${list}): plan each kind of host apart, e.g. --match os=ubuntu-22.04`);
      continue;
    }
    const [[version, hosts]] = [...byVersion] as [[string, string[]]];
    packages[pkg] = version;
    pendingOn.set(pkg, hosts);
    const missing = targeted.filter((h) => h.installed !== undefined && h.installed[pkg] === null).map((h) => h.name);
    if (missing.length > 0) {
      problems.push(`${pkg} is not installed on ${missing.join(', ')}: the plan would install it there; narrow the hosts with --match`);
    }
  }
  if (problems.length > 0) throw new ValidationError(`cannot make one plan of these updates:\n  ${problems.join('\n  ')}`);

  const warnings: string[] = [];
  const unknown = targeted.filter((h) => h.checkedAt === null).map((h) => h.name);
  if (unknown.length > 0) {
    warnings.push(`${unknown.length} targeted host(s) report no pending updates (${unknown.slice(0, 10).join(', ')}${unknown.length > 10 ? ', ...' : ''}): the plan installs these versions there too; narrow with --match if that is wrong`);
  }
  const matchText = Object.keys(opts.match).length === 0 ? '' : `hosts: { match: { ${Object.entries(opts.match).map(([k, v]) => `${q(k)}: ${q(v)}`).join(', ')} } }\n`;
  const lines = [
    `# yaml-language-server: $schema=../schema/plan.schema.json`,
    `#`,
    `# Security updates pending on ${targeted.length - unknown.length} host(s), written by \`sluice updates plan\` on ${new Date(opts.now).toISOString()}.`,
    ...Object.entries(packages).map(([pkg, v]) => `#   ${pkg} ${v}: pending on ${(pendingOn.get(pkg) ?? []).join(', ')}`),
    `# Fast, but in waves: one canary per provider, then one zone, then each region, then the rest.`,
    `# A host that loses a routing-policy rule or route fails its step and the rollout rolls back.`,
    `name: ${opts.name}`,
    `change:`,
    `  apt:`,
    `    install:`,
    ...Object.entries(packages).map(([pkg, v]) => `      ${q(pkg)}: ${q(v)}`),
    `    timeout: 15m`,
    ...(matchText ? [matchText.trimEnd()] : []),
    `waves:`,
    `  - { name: canary, size: 1, spread: [provider], bake: 30m }`,
    `  - { name: first-zone, each: zone, limit: 1, bake: 1h }`,
    `  - { name: regions, each: region, bake: 2h }`,
    `  - { name: rest, bake: 1h }`,
    `checks:`,
    `  - ipRulesPreserved: {}`,
    `  - routesPreserved: {}`,
    `checkInterval: 15s`,
    `budget: { failedPerWave: 0, failedTotal: 0, silentAfter: 5m }`,
    `onFailure: rollback`,
    `preflight: block`,
    ``,
  ];
  const yaml = lines.join('\n');
  // Never hand out a plan `sluice plan check` would refuse.
  const checked = checkPlan(yaml, 'updates-plan.yaml');
  if (checked.plan === null) {
    throw new SluiceError('failed', `the generated plan is invalid (a bug): ${checked.problems.map((p) => formatProblem('plan', p)).join('; ')}`);
  }
  return { yaml, warnings, packages, hosts: targeted.map((h) => h.name) };
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

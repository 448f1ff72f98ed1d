// `sluice plan analyze FILE [--fleet SCENARIO | --server URL]`: what the plan would do to a fleet
// (a scenario's simulated one, or the live inventory), without running anything.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { ValidationError } from '../core/errors.ts';
import type { HostInfo } from '../core/types.ts';
import { createProcessIo } from './io.ts';
import type { CliIo } from './io.ts';
import { connect } from './resolve-connection.ts';
import { parseHosts } from './hosts-flag.ts';
import type { RolloutPreviewView } from './api-client.ts';

export interface AnalyzeCliOptions {
  readonly fleet?: string;
  readonly server?: string;
  readonly token?: string;
  readonly tokenFile?: string;
  readonly caFile?: string;
  readonly hosts?: number;
  readonly json?: boolean;
}

/** The action, callable from tests. */
export async function runPlanAnalyze(file: string, options: AnalyzeCliOptions, io: CliIo): Promise<void> {
  if ((options.fleet === undefined) === (options.server === undefined)) {
    throw new ValidationError('give exactly one of --fleet SCENARIO (a simulated fleet) or --server URL (the live inventory)');
  }
  // The analyser and the simulated fleets load when this command runs, not for every `sluice` command.
  const [{ analyzePlan, renderAnalysis }, { fleetHostInfos, generateFleet }, { loadPlan, loadScenario }, { reportInvalid }] = await Promise.all([
    import('../sim/analyze-plan.ts'),
    import('../sim/fleet.ts'),
    import('../sim/load-scenario.ts'),
    import('./scenario-input.ts'),
  ]);
  let plan;
  try {
    plan = loadPlan(file);
  } catch (err) {
    return reportInvalid(err, io);
  }
  let hosts: HostInfo[];
  let source: string;
  let ineligible: RolloutPreviewView["ineligible"] | undefined;
  let autoHealing: { provider: string; after: number }[] | undefined;
  if (options.fleet !== undefined) {
    let loaded;
    try {
      loaded = loadScenario(options.fleet);
    } catch (err) {
      return reportInvalid(err, io);
    }
    const n = options.hosts ?? loaded.scenario.fleet.hosts;
    hosts = fleetHostInfos(generateFleet(loaded.scenario, n, 1));
    source = `the ${loaded.scenario.name} fleet`;
    // A status check must fail for failedFor before the instance is replaced.
    autoHealing = loaded.scenario.fleet.providers.flatMap((p) => (p.remediation ? [{ provider: p.name, after: p.remediation.failedFor }] : []));
  } else {
    const client = await connect(
      {
        server: options.server,
        ...(options.token ? { token: options.token } : {}),
        ...(options.tokenFile ? { tokenFile: options.tokenFile } : {}),
        ...(options.caFile ? { caFile: options.caFile } : {}),
      },
      io,
    );
    hosts = (await client.listHosts({ facts: false })).map((h) => ({ name: h.name, labels: h.labels }));
    source = `the inventory of ${options.server}`;
    // The server knows who is online and what each agent allows: ineligible hosts, before anything runs.
    if (client.previewRollout) {
      const preview = await client.previewRollout(await io.readFile(file), file);
      ineligible = preview.ineligible;
    }
  }
  // The plan was read from disk just above: its text, for the reason given on `onFailure: halt`.
  const planText = readFileSync(file, 'utf8');
  const analysis = analyzePlan(plan, hosts, { source: planText, ...(autoHealing ? { autoHealing } : {}) });
  if (options.json) {
    io.stdout.write(`${JSON.stringify({ file, fleetSource: source, ...analysis, ...(ineligible ? { ineligible } : {}) })}\n`);
  } else {
    io.stdout.write(renderAnalysis(analysis, source));
    if (ineligible && ineligible.count > 0) {
      io.stdout.write(`\n${ineligible.count} targeted host${ineligible.count === 1 ? ' is' : 's are'} ineligible now (ineligible: ${ineligible.mode ?? 'skip'}):\n`);
      for (const h of ineligible.hosts.slice(0, 20)) io.stdout.write(`  ${h.name}: ${h.reason}\n`);
      if (ineligible.hosts.length > 20) io.stdout.write(`  and ${ineligible.hosts.length - 20} more\n`);
    } else if (ineligible) {
      io.stdout.write('\nevery targeted host is eligible now (online, and its agent allows what the plan needs)\n');
    }
  }
}

export function registerPlanAnalyze(planGroup: Command, io: CliIo = createProcessIo()): void {
  planGroup
    .command('analyze')
    .description('Show what a plan would do to a fleet: worst case before a check can stop it, time to finish, warnings.')
    .argument('<file>', 'the plan YAML file')
    .option('--fleet <scenario>', 'analyse over a scenario\'s simulated fleet (a file or a built-in name, e.g. datadog-2023)')
    .option('--hosts <n>', 'with --fleet: fleet size (default: the scenario\'s)', parseHosts)
    .option('--server <url>', 'analyse over the live inventory of this server (GET /v1/hosts)')
    .option('--token-file <file>', 'read the admin token for --server from this file (env: SLUICE_TOKEN_FILE, or the token itself in SLUICE_TOKEN)')
    .option('--token <token>', 'the admin token itself: visible to other users in ps, prefer --token-file')
    .option('--ca-file <file>', "CA certificate(s), PEM, for an https --server (env: SLUICE_CA_FILE)")
    .option('--json', 'print the analysis as JSON')
    .addHelpText(
      'after',
      `
Examples:
  sluice plan analyze scenarios/plans/datadog-2023.yaml --fleet datadog-2023
  SLUICE_TOKEN=... sluice plan analyze examples/canary-zone-region.yaml --server http://127.0.0.1:7400 --json`,
    )
    .action((file: string, options: AnalyzeCliOptions) => runPlanAnalyze(file, options, io));
}

// `sluice sim run SCENARIO`: rehearse an incident scenario uncontrolled and through a plan, on
// the real rollout engine, and print both side by side (or --json, or an HTML --report).
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { createProcessIo } from './io.ts';
import type { CliIo } from './io.ts';
import { parseHosts } from './hosts-flag.ts';

export interface SimRunOptions {
  readonly plan?: string;
  readonly hosts?: number;
  readonly seed?: string;
  readonly json?: boolean;
  readonly report?: string;
}

/** The action, callable from tests: writes to `io`, throws SluiceErrors for the CLI's exit codes. */
export async function runSim(scenarioArg: string, options: SimRunOptions, io: Pick<CliIo, 'stdout' | 'stderr'>): Promise<void> {
  // The simulator loads when it runs, not for every `sluice` command.
  const [{ renderSimText }, { loadScenario }, { seedFrom }, { renderReportHtml }, { simulate }, { reportInvalid }, { writeJson }] = await Promise.all([
    import('../sim/format-text.ts'),
    import('../sim/load-scenario.ts'),
    import('../sim/prng.ts'),
    import('../sim/report-html.ts'),
    import('../sim/simulate.ts'),
    import('./scenario-input.ts'),
    import('../sim/json-stream.ts'),
  ]);
  let loaded;
  try {
    loaded = loadScenario(scenarioArg, options.plan);
  } catch (err) {
    return reportInvalid(err, io);
  }
  const seed = seedFrom(options.seed ?? '1');
  const result = simulate(loaded.scenario, loaded.plan, { seed, ...(options.hosts ? { hosts: options.hosts } : {}) });
  if (options.report) writeFileSync(options.report, renderReportHtml(result));
  // Streamed: a long run over many regions is more JSON than one string can hold.
  if (options.json) writeJson(result, (chunk) => io.stdout.write(chunk));
  io.stdout.write(options.json ? '\n' : renderSimText(result));
  if (options.report && !options.json) io.stdout.write(`\nreport written to ${options.report}\n`);
}

export function registerSimCommand(program: Command, io: CliIo = createProcessIo()): void {
  const sim = program.command('sim').description('Rehearse incidents on a simulated fleet with the real rollout engine.');
  sim
    .command('run')
    .description('Run a scenario as it happened and through a plan, on the same seed, and compare.')
    .argument('<scenario>', `a scenario YAML file, or a built-in name (datadog-2023, kops-2025, heroku-2025, gcp-2025)`)
    .option('--plan <file>', "the plan for the controlled run (default: the scenario's own)")
    .option('--hosts <n>', 'fleet size (default: the scenario\'s fleet.hosts)', parseHosts)
    .option('--seed <s>', 'random seed; the same seed gives byte-identical --json', '1')
    .option('--json', 'print {scenario, seed, hosts, runs: {uncontrolled, controlled}} on stdout')
    .option('--report <file>', 'also write a self-contained HTML report charting both runs')
    .addHelpText(
      'after',
      `
Examples:
  sluice sim run datadog-2023
  sluice sim run kops-2025 --plan scenarios/plans/kops-2025-tcp-only.yaml --hosts 5000
  sluice sim run datadog-2023 --hosts 100000 --seed 7 --report datadog.html`,
    )
    .action((scenario: string, options: SimRunOptions) => runSim(scenario, options, io));
}

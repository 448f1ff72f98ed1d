// `sluice plan ...`: work on plan files without a server. `plan check FILE` validates a plan and
// prints every problem as FILE:LINE:COL: message (exit 2), or what the plan will do (exit 0).
import { CommanderError } from 'commander';
import type { Command } from 'commander';
import { createProcessIo } from './io.ts';
import type { CliIo } from './io.ts';
import type { PlanCheck } from '../core/plan/parse-plan.ts';
import { renderProblems } from './render-problems.ts';
import { EXIT_BAD_INPUT, EXIT_OK } from './run-cli.ts';

export type PlanCheckIo = Pick<CliIo, 'stdout' | 'stderr' | 'readFile'>;

export interface PlanCheckJson {
  readonly file: string;
  readonly valid: boolean;
  readonly problems: readonly { line: number; col: number; message: string }[];
  readonly summary: readonly string[];
  /** Valid, but probably not what the author expects (e.g. a bake shorter than the confirm window). */
  readonly warnings?: readonly string[];
  /** Only when the file could not be read. */
  readonly error?: string;
}

/**
 * Adds the `plan` group to the root program and returns it, so later subcommands (`plan analyze`)
 * can be added to it. Created with `.command()` so it inherits the root's output and exit settings.
 */
export function registerPlanCommands(program: Command, io: PlanCheckIo = createProcessIo()): Command {
  const plan = program.command('plan').description('Work on plan files (no server needed).');
  plan
    .command('check')
    .description('Validate a plan file: every problem as FILE:LINE:COL: message, or a summary of what it will do.')
    .argument('<file>', 'the plan YAML file')
    .option('--json', 'print {file, valid, problems: [{line, col, message}], summary: [...]} on stdout')
    .addHelpText(
      'after',
      `
Exit codes: 0 the plan is valid, 2 it is not (or the file cannot be read).
The plan format is documented in docs/plans.md; schema/plan.schema.json lets editors complete it.

Examples:
  sluice plan check examples/flag-on.yaml
  sluice plan check plan.yaml --json | jq '.problems'`,
    )
    .action(async (file: string, opts: { json?: boolean }) => {
      const code = await runPlanCheck(file, { json: opts.json === true }, io);
      // Problems are already printed; commander's error carries the exit code out without more output.
      if (code !== EXIT_OK) throw new CommanderError(code, 'sluice.planInvalid', `${file} is not a valid plan`);
    });
  return plan;
}

/** `plan check` itself, returning the exit code: runnable in-process by tests. */
export async function runPlanCheck(file: string, opts: { json: boolean }, io: PlanCheckIo): Promise<number> {
  // The parser (YAML, schemas) loads with the command, not with every `sluice` command.
  const [{ describePlan }, { MAX_PLAN_BYTES, checkPlan }, { planWarnings }] = await Promise.all([
    import('../core/plan/describe-plan.ts'),
    import('../core/plan/parse-plan.ts'),
    import('../core/plan/plan-warnings.ts'),
  ]);
  let source: string;
  try {
    source = await io.readFile(file);
  } catch (error) {
    const message = `cannot read plan file ${file}: ${readErrorText(error)}`;
    io.stderr.write(`error: ${message}\n`);
    if (opts.json) writeJson(io, { file, valid: false, problems: [], summary: [], error: message });
    return EXIT_BAD_INPUT;
  }
  const { plan, problems } = source.length > MAX_PLAN_BYTES * 4 ? tooLarge(source, MAX_PLAN_BYTES) : checkPlan(source, file);
  const summary = plan === null ? [] : describePlan(plan);
  const warnings = plan === null ? [] : planWarnings(plan);
  if (opts.json) {
    writeJson(io, { file, valid: plan !== null, problems: problems.map(({ line, col, message }) => ({ line, col, message })), summary, warnings });
  } else if (plan === null) {
    io.stderr.write(renderProblems(file, problems));
  } else {
    io.stdout.write(`${file}: valid\n${summary.map((line) => `${line}\n`).join('')}`);
    for (const w of warnings) io.stderr.write(`${file}: warning: ${w}\n`);
  }
  return plan === null ? EXIT_BAD_INPUT : EXIT_OK;
}

/** Skips encoding a huge string just to learn it is too large. */
function tooLarge(source: string, MAX_PLAN_BYTES: number): PlanCheck {
  return { plan: null, problems: [{ line: 1, col: 1, message: `plan file is too large (over ${source.length} characters; at most ${MAX_PLAN_BYTES} bytes)` }] };
}

function writeJson(io: PlanCheckIo, value: PlanCheckJson): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

function readErrorText(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'it is a directory';
  return error instanceof Error ? error.message : String(error);
}

// Runs the `sluice` program and turns every outcome into an exit code in one place: 0 success,
// 1 operation failed, 2 bad input (DESIGN.md). Commands report failure by throwing a SluiceError.
import { Command, CommanderError } from 'commander';
import { SluiceError, exitCodeFor } from '../core/errors.ts';
import type { CliIo } from './io.ts';
import { stripTerminalControls } from '../core/text.ts';
import packageJson from '../../package.json' with { type: 'json' };

/** The version in package.json: `sluice --version`. */
export const VERSION: string = packageJson.version;

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_BAD_INPUT = 2;

export function createProgram(io: CliIo): Command {
  // Settings made here before any `.command()` are inherited by every subcommand.
  return new Command('sluice')
    .description('Roll infrastructure changes out across a fleet in progressive, health-gated waves.')
    .version(VERSION, '-V, --version', 'print the version of sluice and exit')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    })
    .showHelpAfterError('(add --help for usage)')
    .addHelpText(
      'after',
      `
Operator commands find the server in --server or SLUICE_SERVER (default http://127.0.0.1:7400)
and the admin token in --token, SLUICE_TOKEN or ./.sluice/admin.token.
Exit codes: 0 success, 1 operation failed, 2 bad input.

Example:
  sluice plan check plan.yaml && sluice rollout start plan.yaml --wait`,
    );
}

/** Parses `argv` (without node and script), runs the command and returns the exit code. */
export async function runCli(argv: readonly string[], io: CliIo, register: (program: Command) => void): Promise<number> {
  const program = createProgram(io);
  register(program);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return EXIT_OK;
  } catch (error) {
    return reportError(error, io);
  }
}

function reportError(error: unknown, io: CliIo): number {
  const debug = io.env['SLUICE_DEBUG'] === '1';
  if (error instanceof CommanderError) {
    // Commander has already printed its message (or the help).
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return EXIT_OK;
    if (error.code === 'commander.help') return error.exitCode === 0 ? EXIT_OK : EXIT_BAD_INPUT;
    return EXIT_BAD_INPUT;
  }
  if (error instanceof SluiceError) {
    // A server's message can quote host output: print it inert.
    io.stderr.write(`error: ${stripTerminalControls(error.message)}\n`);
    if (debug && error.stack !== undefined) io.stderr.write(`${error.stack}\n`);
    return exitCodeFor(error.code);
  }
  const message = error instanceof Error ? error.message : String(error);
  io.stderr.write(`error: ${stripTerminalControls(message)}\n`);
  if (debug && error instanceof Error && error.stack !== undefined) io.stderr.write(`${error.stack}\n`);
  return EXIT_FAILED;
}

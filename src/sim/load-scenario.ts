// Reads scenario and plan files from disk (the simulator itself is pure). A scenario argument is
// a path to a YAML file, or the name of a built-in scenario under scenarios/.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NotFoundError, ValidationError } from '../core/errors.ts';
import { parsePlan } from '../core/plan/parse-plan.ts';
import type { Plan } from '../core/types.ts';
import { parseScenario } from './parse-scenario.ts';
import type { Scenario } from './scenario.ts';

export const BUILTIN_SCENARIOS_DIR = fileURLToPath(new URL('../../scenarios/', import.meta.url));

export function builtinScenarioNames(): string[] {
  return readdirSync(BUILTIN_SCENARIOS_DIR)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => f.slice(0, -'.yaml'.length))
    .sort();
}

export function resolveScenarioFile(arg: string): string {
  if (existsSync(arg) && (arg.endsWith('.yaml') || arg.endsWith('.yml'))) return resolve(arg);
  if (/^[A-Za-z0-9._-]+$/.test(arg)) {
    const builtin = join(BUILTIN_SCENARIOS_DIR, `${arg}.yaml`);
    if (existsSync(builtin)) return builtin;
  }
  throw new NotFoundError(`no scenario "${arg}": give a scenario YAML file or one of: ${builtinScenarioNames().join(', ')}`);
}

function readText(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new NotFoundError(`cannot read ${what} ${file}: ${(err as Error).message}`);
  }
}

/** A ValidationError that remembers which file its problems are in (scenario or plan). */
export class FileValidationError extends ValidationError {
  readonly file: string;
  constructor(file: string, cause: ValidationError) {
    super(cause.message, cause.problems);
    this.file = file;
  }
}

function located<T>(file: string, read: () => T): T {
  try {
    return read();
  } catch (err) {
    if (err instanceof ValidationError && !(err instanceof FileValidationError)) throw new FileValidationError(file, err);
    throw err;
  }
}

export interface LoadedScenario {
  readonly scenario: Scenario;
  readonly file: string;
  readonly planFile: string;
  readonly plan: Plan;
}

/** Loads a scenario and its plan (`planFile` overrides the scenario's own). Throws ValidationError with the file in `file`. */
export function loadScenario(arg: string, planFile?: string): LoadedScenario {
  const file = resolveScenarioFile(arg);
  const source = readText(file, 'scenario');
  const scenario = located(file, () => parseScenario(source, file));
  const pf = planFile ? resolve(planFile) : join(dirname(file), scenario.plan.file);
  const plan = loadPlan(pf);
  return { scenario, file, planFile: pf, plan };
}

export function loadPlan(file: string): Plan {
  const source = readText(file, 'plan');
  return located(file, () => parsePlan(source, file));
}

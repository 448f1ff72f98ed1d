// Plan files: YAML text in, a validated and normalised `Plan` out, or every problem in the file
// with its line and column. This folder is the only place that reads plan YAML; everything else
// works on `Plan` (src/core/types.ts). Pure: no I/O.
import { readReboot } from './parse-reboot.ts';
import { LineCounter, parseDocument, visit } from 'yaml';
import type { Node } from 'yaml';
import { ValidationError } from '../errors.ts';
import { formatProblem } from './format-problem.ts';
import type { SourceProblem } from '../errors.ts';
import type { Budget, CheckSpec, Change, Plan, Quantity, WaveSpec } from '../types.ts';
import { readChange } from './parse-change.ts';
import { readChecks } from './parse-checks.ts';
import { readWaves } from './parse-waves.ts';
import { readBlackout, readEmergency, readWindow, resolveWindow } from './parse-window.ts';
import type { HostsMatch } from './parse-waves.ts';
import { BUDGET_KEYS, HOSTS_KEYS, INELIGIBLE_VALUES, ON_FAILURE_VALUES, PLAN_KEYS, PREFLIGHT_VALUES } from './plan-keys.ts';
import { PlanReader } from './plan-reader.ts';
import type { Entry } from './plan-reader.ts';

/** Plans are small; a cap keeps a hostile upload from costing the parser much. */
export const MAX_PLAN_BYTES = 256 * 1024;

export const PLAN_NAME = /^[A-Za-z0-9._-]{1,100}$/;

export const DEFAULTS = {
  checkInterval: 10_000,
  silentAfter: 60_000,
  confirmWindow: 60_000,
  onFailure: 'rollback',
  preflight: 'block',
} as const;

export interface PlanCheck {
  readonly plan: Plan | null;
  readonly problems: SourceProblem[];
}

/** `file:line:col: message`, the one format every tool shows plan problems in. */
export { formatProblem };

/** Validates a plan and returns it, or null with every problem found (sorted by position). */
export function checkPlan(source: string, file: string): PlanCheck {
  void file; // positions are relative to the source; callers prefix the file with formatProblem
  const bytes = new TextEncoder().encode(source).length;
  if (bytes > MAX_PLAN_BYTES) {
    return { plan: null, problems: [{ line: 1, col: 1, message: `plan file is too large (${bytes} bytes; at most ${MAX_PLAN_BYTES})` }] };
  }
  const lines = new LineCounter();
  // uniqueKeys off: the reader reports duplicate keys itself, with the place of the first one.
  const doc = parseDocument(source, { lineCounter: lines, keepSourceTokens: true, prettyErrors: false, uniqueKeys: false });
  const reader = new PlanReader(lines);
  const yamlProblems = [...doc.errors, ...doc.warnings];
  for (const problem of yamlProblems) {
    const detail = problem.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    reader.reportAt(problem.pos[0], `invalid YAML: ${detail}`);
  }
  if (doc.errors.length > 0) return finish(reader, null);

  let aliases = false;
  visit(doc, {
    Alias(_, node) {
      reader.report(node, 'YAML aliases (*name) are not supported in plan files; write the value out');
      aliases = true;
    },
  });
  if (aliases || yamlProblems.length > 0) return finish(reader, null);
  if (doc.contents === null) {
    reader.reportAt(0, 'the plan is empty: it needs at least "name", "change" and "waves"');
    return finish(reader, null);
  }
  return finish(reader, readPlan(reader, doc.contents));
}

/** Like checkPlan, but throws a ValidationError carrying every problem. */
export function parsePlan(source: string, file: string): Plan {
  const { plan, problems } = checkPlan(source, file);
  if (plan !== null) return plan;
  const s = problems.length === 1 ? '' : 's';
  const lines = problems.map((problem) => formatProblem(file, problem));
  throw new ValidationError(`${file} is not a valid plan (${problems.length} problem${s}):\n${lines.join('\n')}`, problems);
}

function finish(reader: PlanReader, plan: Plan | null | undefined): PlanCheck {
  const seen = new Set<string>();
  const problems = reader.problems
    .filter((p) => {
      const key = `${p.line}:${p.col}:${p.message}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    })
    .sort((a, b) => a.line - b.line || a.col - b.col);
  return { plan: problems.length === 0 && plan !== undefined ? plan : null, problems };
}

function readPlan(reader: PlanReader, root: Node): Plan | undefined {
  const top = reader.fields(root, 'the plan', 'at top level', PLAN_KEYS);
  if (top === null) return undefined;
  const where = 'at top level';

  const nameEntry = reader.require(top, 'name', where, root);
  const name = nameEntry === undefined ? undefined : reader.text(nameEntry, { pattern: PLAN_NAME, hint: '1-100 characters of A-Z a-z 0-9 . _ -' });

  const changeEntry = reader.require(top, 'change', where, root);
  const change: Change | undefined = changeEntry === undefined ? undefined : readChange(reader, changeEntry);

  const hostsEntry = top.get('hosts');
  const hosts = hostsEntry === undefined ? { selector: {}, positions: new Map() } : readHosts(reader, hostsEntry);

  const windowEntry = top.get('window');
  const window = windowEntry === undefined ? undefined : readWindow(reader, windowEntry);
  const blackoutEntry = top.get('blackout');
  const blackout = blackoutEntry === undefined ? undefined : readBlackout(reader, blackoutEntry);
  const emergencyEntry = top.get('emergency');
  const emergency = emergencyEntry === undefined ? undefined : readEmergency(reader, emergencyEntry);
  const windowsOk = (windowEntry === undefined || window !== undefined) && (blackoutEntry === undefined || blackout !== undefined);

  const wavesEntry = reader.require(top, 'waves', where, root);
  const waves: WaveSpec[] | undefined = wavesEntry === undefined ? undefined : readWaves(reader, wavesEntry, hosts, { window, blackout });

  const checksEntry = top.get('checks');
  const checks: CheckSpec[] | undefined = checksEntry === undefined ? [] : readChecks(reader, checksEntry);

  const checkInterval = optionalDuration(reader, top.get('checkInterval'), DEFAULTS.checkInterval);
  const budget = readBudget(reader, top.get('budget'));
  const onFailureEntry = top.get('onFailure');
  const onFailure = onFailureEntry === undefined ? DEFAULTS.onFailure : reader.oneOf(onFailureEntry, ON_FAILURE_VALUES);
  const preflightEntry = top.get('preflight');
  const preflight = preflightEntry === undefined ? DEFAULTS.preflight : reader.oneOf(preflightEntry, PREFLIGHT_VALUES);
  // 0s turns commit-confirmed off: the agent then never rolls back on its own.
  const confirmWindowEntry = top.get('confirmWindow');
  const confirmWindow = confirmWindowEntry === undefined ? DEFAULTS.confirmWindow : reader.duration(confirmWindowEntry, false);
  const ineligibleEntry = top.get('ineligible');
  const ineligible = ineligibleEntry === undefined ? 'skip' : reader.oneOf(ineligibleEntry, INELIGIBLE_VALUES);
  const queueEntry = top.get('queue');
  const queue = queueEntry === undefined ? false : reader.boolean(queueEntry);
  const distinctApproverEntry = top.get('distinctApprover');
  const distinctApprover = distinctApproverEntry === undefined ? false : reader.boolean(distinctApproverEntry);
  const rebootEntry = top.get('reboot');
  const reboot = rebootEntry === undefined ? null : readReboot(reader, rebootEntry);

  if (
    name === undefined ||
    change === undefined ||
    hosts === undefined ||
    waves === undefined ||
    checks === undefined ||
    checkInterval === undefined ||
    budget === undefined ||
    onFailure === undefined ||
    preflight === undefined ||
    confirmWindow === undefined ||
    ineligible === undefined ||
    queue === undefined ||
    distinctApprover === undefined ||
    reboot === undefined ||
    !windowsOk ||
    (emergencyEntry !== undefined && emergency === undefined)
  ) {
    return undefined;
  }
  return { name, change, hosts: { match: hosts.selector }, waves, checks, checkInterval, budget, onFailure, preflight, confirmWindow, ineligible, queue, ...(distinctApprover ? { distinctApprover } : {}), ...(reboot ? { reboot } : {}), ...windowOf(resolveWindow({ window, blackout }, {})), ...(emergency ? { emergency } : {}) };
}

function windowOf(window: Plan['window']): { window?: NonNullable<Plan['window']> } {
  return window === undefined ? {} : { window };
}

function optionalDuration(reader: PlanReader, entry: Entry | undefined, fallback: number): number | undefined {
  return entry === undefined ? fallback : reader.duration(entry, true);
}

function readHosts(reader: PlanReader, entry: Entry): HostsMatch | undefined {
  const fields = reader.fields(entry, '"hosts"', 'in hosts', HOSTS_KEYS);
  if (fields === null) return undefined;
  const matchEntry = fields.get('match');
  if (matchEntry === undefined) return { selector: {}, positions: new Map() };
  return reader.selector({ ...matchEntry, label: '"match" in hosts' });
}

function readBudget(reader: PlanReader, entry: Entry | undefined): Budget | undefined {
  const zero: Quantity = { count: 0 };
  if (entry === undefined) return { failedPerWave: zero, failedTotal: zero, silentAfter: DEFAULTS.silentAfter };
  const fields = reader.fields(entry, '"budget"', 'in budget', BUDGET_KEYS);
  if (fields === null) return undefined;
  const perWaveEntry = fields.get('failedPerWave');
  const failedPerWave = perWaveEntry === undefined ? zero : reader.quantity(perWaveEntry, 0);
  const totalEntry = fields.get('failedTotal');
  const failedTotal = totalEntry === undefined ? zero : reader.quantity(totalEntry, 0);
  const silentAfter = optionalDuration(reader, fields.get('silentAfter'), DEFAULTS.silentAfter);
  if (failedPerWave === undefined || failedTotal === undefined || silentAfter === undefined) return undefined;
  return { failedPerWave, failedTotal, silentAfter };
}

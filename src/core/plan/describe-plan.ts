import { formatHours, type TimeWindow } from './window.ts';
// A short summary of what a plan will do, in words: `sluice plan check` prints it for a valid plan.
import type { Change, CheckSpec, GateSpec, NotifySpec, Plan, Quantity, Selector, WaveSpec } from '../types.ts';
import { formatDuration } from './duration.ts';

export function describePlan(plan: Plan): string[] {
  const lines = [`plan "${plan.name}"`, `change: ${describeChange(plan.change)}`];
  if (plan.change.kind === 'command' && plan.change.rollback === undefined) {
    lines.push('  note: no rollback command; rolling back a host only restores its invariants');
  }
  lines.push(`targets: ${describeSelector(plan.hosts.match, 'every host')}`);
  lines.push(`waves (${plan.waves.length}), in order; each takes hosts no earlier wave took:`);
  plan.waves.forEach((wave, index) => {
    const own = wave.window !== undefined && JSON.stringify(wave.window) !== JSON.stringify(plan.window) ? `; window ${describeWindow(wave.window)}` : '';
    lines.push(`  ${index + 1}. ${describeWave(wave)}${own}`);
    for (const gate of wave.gates ?? []) lines.push(`       gate ${describeGate(gate)}`);
    if (wave.steps) describeSteps(wave, '     ', lines);
  });
  if (plan.gates !== undefined && plan.gates.length > 0) {
    lines.push('gates (before every wave starts and through its apply and bake; no data or an error fails a gate):');
    for (const gate of plan.gates) lines.push(`  - ${describeGate(gate)}`);
  }
  if (plan.checks.length === 0) {
    lines.push('checks: none (a host is healthy once its change applies)');
  } else {
    lines.push(`checks (every ${formatDuration(plan.checkInterval)} through the bake):`);
    for (const check of plan.checks) lines.push(`  - ${describeCheck(check)}`);
  }
  const budget = plan.budget;
  lines.push(
    `budget: ${describeQuantity(budget.failedPerWave, 'of the wave')} failed per wave, ` +
      `${describeQuantity(budget.failedTotal, 'of targeted hosts')} in total; silent after ${formatDuration(budget.silentAfter)}`,
  );
  lines.push(
    plan.onFailure === 'rollback'
      ? 'on failure: stop and roll back every changed host, most recent wave first'
      : 'on failure: halt and leave hosts as they are for investigation',
  );
  lines.push(`preflight: ${plan.preflight}; confirm window ${formatDuration(plan.confirmWindow)}`);
  if (plan.window !== undefined) lines.push(`window: ${describeWindow(plan.window)} (waves start and assign hosts only then; a bake runs through)`);
  if (plan.emergency !== undefined) lines.push(`emergency change: may start and run through a fleet freeze (${plan.emergency.reason})`);
  if (plan.notify !== undefined && plan.notify.length > 0) {
    lines.push('notify:');
    for (const n of plan.notify) lines.push(`  - ${describeNotify(n)}`);
  }
  if (plan.distinctApprover === true) lines.push('approvals: by someone other than who started the rollout (another token and owner)');
  if (plan.reboot) {
    const r = plan.reboot;
    lines.push(
      `reboot: ${r.when === 'always' ? 'after every apply' : 'when the host needs one after the apply'}` +
        `${r.before ? `, after ${argvText(r.before)}` : ''}${r.after ? `, then ${argvText(r.after)} once back` : ''}; back within ${formatDuration(r.timeout)}`,
    );
  }
  return lines;
}

/** One line per gate: name, query, condition, evidence; the Prometheus by host only. */
export function describeGate(gate: GateSpec): string {
  const condition = gate.below !== undefined ? `below ${gate.below}` : `above ${gate.above}`;
  const query = gate.query.length > 160 ? `${gate.query.slice(0, 157)}...` : gate.query;
  const where = gate.prometheus === undefined ? 'the server\'s --prometheus-url' : originOf(gate.prometheus);
  return `${gate.name}: ${query} ${condition}, at least ${gate.minSamples} sample${gate.minSamples === 1 ? '' : 's'} over ${formatDuration(gate.window)}, every ${formatDuration(gate.interval)} (Prometheus: ${where}; timeout ${formatDuration(gate.timeout)})`;
}

function describeNotify(n: NotifySpec): string {
  const events = n.events === undefined ? 'every event' : n.events.join(', ');
  return `${n.format} to ${originOf(n.url)} (${events})${n.secretEnv === undefined ? ', unsigned' : `, signed with $${n.secretEnv}`}`;
}

/** Scheme and host: webhook URLs often carry a token in their path. */
function originOf(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}`;
  } catch {
    return '(invalid URL)';
  }
}

function argvText(argv: readonly string[]): string {
  const text = argv.map((arg) => (/^[A-Za-z0-9_./=:@%+-]+$/.test(arg) ? arg : JSON.stringify(arg))).join(' ');
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

function describeChange(change: Change): string {
  const timeout = `timeout ${formatDuration(change.timeout)}`;
  switch (change.kind) {
    case 'command': {
      const rollback = change.rollback === undefined ? 'no rollback' : `rollback ${argvText(change.rollback)}`;
      return `command ${argvText(change.apply)}; ${rollback}; ${timeout}`;
    }
    case 'apt': {
      const parts = [
        ...Object.entries(change.install).map(([pkg, version]) => `install ${pkg}=${version}`),
        ...change.remove.map((pkg) => `remove ${pkg}`),
      ];
      return `apt ${parts.join(', ')}; ${timeout}`;
    }
    case 'file': {
      const owner = change.owner === undefined && change.group === undefined ? '' : ` ${change.owner ?? ''}:${change.group ?? ''}`;
      const reload = change.reload === undefined ? '' : `; then ${argvText(change.reload)}`;
      return `file ${change.path} (${change.content.length} characters, mode ${change.mode.toString(8).padStart(4, '0')}${owner})${reload}; ${timeout}`;
    }
  }
}

function describeSelector(selector: Selector, none: string): string {
  const parts = Object.entries(selector).map(([key, value]) =>
    typeof value === 'string' ? `${key}=${value}` : `${key} in (${value.join(', ')})`,
  );
  return parts.length === 0 ? none : `hosts with ${parts.join(', ')}`;
}

function describeQuantity(quantity: Quantity, of: string): string {
  return 'count' in quantity ? String(quantity.count) : `${quantity.percent}% ${of}`;
}

/** A nested wave's steps, indented under it: what runs inside each value of its `each`. */
function describeSteps(wave: WaveSpec, indent: string, lines: string[]): void {
  const inside = wave.each === undefined ? 'in order' : `inside each ${wave.each}, in order`;
  lines.push(`${indent}${inside}, each over what the earlier steps did not take:`);
  wave.steps!.forEach((step, i) => {
    lines.push(`${indent}${String.fromCharCode(97 + (i % 26))}. ${describeWave(step)}`);
    for (const gate of step.gates ?? []) lines.push(`${indent}   gate ${describeGate(gate)}`);
    if (step.steps) describeSteps(step, `${indent}   `, lines);
  });
}

function describeWave(wave: WaveSpec): string {
  const parts = [describeSelector(wave.match ?? {}, 'all remaining hosts')];
  if (wave.steps) {
    if (wave.each !== undefined) parts.push(`${wave.each} by ${wave.each}, smallest first${wave.limit === undefined ? '' : `, first ${wave.limit} only`}`);
    return `${wave.name}: ${parts.join('; ')}`;
  }
  if (wave.each !== undefined) {
    parts.push(`one sub-wave per ${wave.each}, smallest first${wave.limit === undefined ? '' : `, first ${wave.limit} only`}`);
  }
  if (wave.size !== undefined) parts.push(`size ${describeQuantity(wave.size, 'of candidates')}${wave.each === undefined ? '' : ' each'}`);
  if (wave.spread !== undefined) parts.push(`at least one host per ${wave.spread.join(' x ')}`);
  if (wave.parallel !== undefined) parts.push(`${describeQuantity(wave.parallel, 'of the wave')} at a time`);
  parts.push(wave.bake === 0 ? 'no bake' : `bake ${formatDuration(wave.bake)}`);
  if (wave.approve) parts.push('waits for approval');
  return `${wave.name}: ${parts.join('; ')}`;
}

function describeCheck(check: CheckSpec): string {
  const timeout = `timeout ${formatDuration(check.timeout)}`;
  switch (check.kind) {
    case 'command':
      return `${check.name}: command ${argvText(check.command)} exits 0 (${timeout})`;
    case 'tcp':
      return `${check.name}: tcp connect to ${check.host}:${check.port} (${timeout})`;
    case 'http':
      return `${check.name}: GET ${check.url} answers ${check.status}${check.bodyMatch === undefined ? '' : ` with body matching ${JSON.stringify(check.bodyMatch)}`} (${timeout})`;
    case 'systemdUnitActive':
      return `${check.name}: unit ${check.unit} is active (${timeout})`;
    case 'ipRulesPreserved':
      return `${check.name}: routing-policy rules present before the change are still there (${timeout})`;
    case 'routesPreserved':
      return `${check.name}: routes present before the change are still there (${timeout})`;
  }
}

/** `mon, tue 09:00-17:00 Europe/Paris; blackout 2026-12-24, 2026-12-31..2027-01-02` */
export function describeWindow(w: TimeWindow): string {
  const days = w.days.length === 7 ? 'every day' : w.days.join(', ');
  const black = w.blackout.map((r) => (r.from === r.to ? r.from : `${r.from}..${r.to}`)).join(', ');
  return `${days} ${formatHours(w)} ${w.timeZone}${black ? `; blackout ${black}` : ''}`;
}

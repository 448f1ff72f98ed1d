import { formatHours, type TimeWindow } from './window.ts';
// A short summary of what a plan will do, in words: `sluice plan check` prints it for a valid plan.
import type { Change, CheckSpec, Plan, Quantity, Selector, WaveSpec } from '../types.ts';
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
  });
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

function describeWave(wave: WaveSpec): string {
  const parts = [describeSelector(wave.match ?? {}, 'all remaining hosts')];
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

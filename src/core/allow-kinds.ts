// What an agent may run, and what a plan needs a host to allow. Shared by the agent (its
// `--allow` flag and the `allow` it reports in its facts), the engine (eligibility: a host that
// cannot run a plan's change or checks is left out or failed before anything is assigned) and
// the CLI (`plan analyze --server`). Pure: nothing here does I/O.
//
// Kinds:
//   command, apt, file   the change kinds; an agent runs a change only of a kind it allows
//   command-check        a plan's `command` check (arbitrary argv as root). `command` implies it:
//                        an agent trusted to run commands as changes may run them as checks.
//   reboot               a plan's `reboot:` (rebooting the host, and its before/after hooks,
//                        argv as root). Implied by nothing: a reboot takes the host down.
// Built-in checks (tcp, http, systemdUnitActive, ipRulesPreserved, routesPreserved) need nothing:
// they run code that ships with the agent, not code from the plan.

import { CHANGE_KINDS, type ChangeKind, type CheckSpec } from './types.ts';

export type AllowKind = ChangeKind | 'command-check' | 'reboot';
export const ALLOW_KINDS: readonly AllowKind[] = [...CHANGE_KINDS, 'command-check', 'reboot'];

export function isAllowKind(value: string): value is AllowKind {
  return (ALLOW_KINDS as readonly string[]).includes(value);
}

/** Whether an agent allowing `allowed` may run a plan's `command` checks. */
export function allowsCommandChecks(allowed: ReadonlySet<string> | readonly string[]): boolean {
  const has = (k: string) => (Array.isArray(allowed) ? (allowed as readonly string[]).includes(k) : (allowed as ReadonlySet<string>).has(k));
  return has('command-check') || has('command');
}

type PlanNeeds = { readonly change: { readonly kind: ChangeKind }; readonly checks: readonly CheckSpec[]; readonly reboot?: unknown };

/** The kinds a host must allow to take part in a plan: its change kind, `command-check` if any check is a command, `reboot` if it reboots. */
export function kindsNeeded(plan: PlanNeeds): AllowKind[] {
  const needed: AllowKind[] = [plan.change.kind];
  if (plan.checks.some((c) => c.kind === 'command') && plan.change.kind !== 'command') needed.push('command-check');
  if (plan.reboot) needed.push('reboot');
  return needed;
}

/**
 * Why a host allowing `allowed` cannot take part in a plan, or undefined when it can.
 * `allowed` undefined means the agent did not report what it allows (an older agent): the host
 * is treated as incapable, because running a plan on a host that may refuse it is what fails fleets.
 */
export function incapableReason(
  plan: PlanNeeds,
  allowed: readonly string[] | undefined,
): string | undefined {
  if (allowed === undefined) return 'the agent does not report what it allows (upgrade the agent)';
  const missing = kindsNeeded(plan).filter((k) => !(k === 'command-check' ? allowsCommandChecks(allowed) : allowed.includes(k)));
  if (missing.length === 0) return undefined;
  return `the agent does not allow ${missing.join(', ')} (its --allow is ${allowed.length === 0 ? 'empty' : allowed.join(',')})`;
}

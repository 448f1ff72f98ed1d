// `sluice updates plan`'s plan: the pending security updates as staged waves. Its own module so the
// plan parser (which checks the generated plan) loads only when the command runs.
import { SluiceError, ValidationError } from '../core/errors.ts';
import { matchesSelector } from '../core/fleet/select.ts';
import { PLAN_NAME, checkPlan, formatProblem } from '../core/plan/parse-plan.ts';
import type { UpdatesView } from './render-drift.ts';

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


// Drift guard: anything that changed the host outside a rollout, or a setting that lets it happen.
// detectDrift is pure (previous facts, current facts, new dpkg log lines, running steps); enforce
// and relax (enforce.ts) switch off, and back on, the automatic updaters.
import type { Change } from '../../core/types.ts';
import type { Facts } from '../facts/facts.ts';
import { describeRoute, describeRule, vanishedRoutes, vanishedRules } from '../checks/invariants.ts';
import { parseDpkgLog } from './dpkg-log.ts';

export type DriftKind = 'package-changed' | 'unattended-upgrades-enabled' | 'rules-vanished' | 'routes-vanished';

export interface DriftEvent {
  readonly kind: DriftKind;
  readonly message: string;
  readonly package?: string;
  readonly from?: string | null;
  readonly to?: string | null;
  /** When dpkg logged it (host local time), when known. */
  readonly at?: string;
  readonly evidence?: readonly string[];
}

/** A step the agent is running (applying, verifying or rolling back): its packages are expected to change. */
export interface RunningStep {
  readonly rolloutId: string;
  readonly change: Change;
}

/** Package names (without :arch) that running apt steps install or remove: their changes are expected. */
export function aptStepPackages(steps: readonly RunningStep[]): Set<string> {
  const names = new Set<string>();
  for (const s of steps) {
    if (s.change.kind !== 'apt') continue;
    for (const n of Object.keys(s.change.install)) names.add(n.split(':')[0] ?? n);
    for (const n of s.change.remove) names.add(n.split(':')[0] ?? n);
  }
  return names;
}

export function detectDrift(
  previous: Pick<Facts, 'packages' | 'routing'> | null,
  current: Pick<Facts, 'packages' | 'routing' | 'unattendedUpgrades'>,
  dpkgLogLines: readonly string[],
  runningSteps: readonly RunningStep[],
): DriftEvent[] {
  const events: DriftEvent[] = [];
  const ours = aptStepPackages(runningSteps);
  // Any apt step, or a command step, may legitimately touch packages we cannot name: only apt
  // steps are attributed by name; a running command step does not excuse package drift.
  const log = parseDpkgLog(dpkgLogLines);
  const lastLog = new Map<string, (typeof log)[number]>();
  for (const a of log) lastLog.set(a.package, a);

  const reported = new Set<string>();
  if (previous !== null) {
    const names = new Set([...Object.keys(previous.packages), ...Object.keys(current.packages)]);
    for (const name of [...names].sort()) {
      const from = previous.packages[name] ?? null;
      const to = current.packages[name] ?? null;
      const bare = name.split(':')[0] ?? name;
      if (from === to || ours.has(bare)) continue;
      const logged = lastLog.get(bare);
      reported.add(bare);
      events.push({
        kind: 'package-changed',
        package: name,
        from,
        to,
        ...(logged ? { at: logged.at } : {}),
        message: `${name} changed with no Sluice step: ${from ?? 'not installed'} -> ${to ?? 'not installed'}${logged ? ` (dpkg ${logged.action} at ${logged.at})` : ''}`,
      });
    }
  }
  // dpkg's log also catches a change and its undo between two inventories.
  for (const a of log) {
    if (reported.has(a.package) || ours.has(a.package)) continue;
    reported.add(a.package);
    events.push({
      kind: 'package-changed',
      package: a.package,
      from: a.from,
      to: a.to,
      at: a.at,
      message: `${a.package} changed with no Sluice step: dpkg ${a.action} ${a.from ?? 'not installed'} -> ${a.to ?? 'not installed'} at ${a.at}`,
    });
  }

  const uu = current.unattendedUpgrades;
  if (uu.canRun) {
    events.push({
      kind: 'unattended-upgrades-enabled',
      message:
        `unattended-upgrades can run: APT::Periodic::Unattended-Upgrade "${uu.setting}" (${uu.settingFile ?? 'apt.conf.d'}) ` +
        `and apt-daily-upgrade.timer is ${uu.timer.enabled === null ? 'not masked' : 'enabled'}`,
    });
  }

  if (runningSteps.length === 0 && previous?.routing && current.routing) {
    const rules = vanishedRules(previous.routing.rules, current.routing.rules);
    if (rules.length) {
      events.push({
        kind: 'rules-vanished',
        message: `${rules.length} routing-policy rule(s) vanished while no change was running: ${rules.map(describeRule).join('; ')}`,
        evidence: rules.map(describeRule),
      });
    }
    const routes = vanishedRoutes(previous.routing.routes, current.routing.routes);
    if (routes.length) {
      events.push({
        kind: 'routes-vanished',
        message: `${routes.length} route(s) vanished while no change was running: ${routes.map(describeRoute).join('; ')}`,
        evidence: routes.map(describeRoute),
      });
    }
  }
  return events;
}

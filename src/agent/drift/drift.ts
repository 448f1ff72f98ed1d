// Drift guard: anything that changed the host outside a rollout, or a setting that lets it happen.
// detectDrift is pure (previous facts, current facts, new dpkg log lines, running steps); enforce
// and relax (enforce.ts) switch off, and back on, the automatic updaters.
import type { Change } from '../../core/types.ts';
import type { Facts } from '../facts/facts.ts';
import { describeRoute, describeRule, vanishedRoutes, vanishedRules } from '../checks/invariants.ts';
import { dpkgLocalTime, parseDpkgLog } from './dpkg-log.ts';
import type { DpkgLogAction } from './dpkg-log.ts';

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

/** A step the agent is running (applying, verifying or rolling back): it may touch rules and routes. */
export interface RunningStep {
  readonly rolloutId: string;
  readonly change: Change;
}

/** One package version change a Sluice step made (null: not installed). */
export interface PackageTransition {
  readonly from: string | null;
  readonly to: string | null;
}

/**
 * What one Sluice apt apply or rollback did to the packages, from the step journal: the exact
 * window its apt and dpkg ran in, and the exact versions it moved each package between (read from
 * dpkg's database just before and just after). Only changes inside this window, of these
 * packages, between these versions, are Sluice's; anything else is drift, however soon after.
 */
export interface SluicePackageWindow {
  readonly startedAt: number;
  readonly finishedAt: number;
  readonly packages: Readonly<Record<string, PackageTransition>>;
}

export interface SluiceAttribution {
  /** Recent Sluice apt steps (apply and rollback), finished. */
  readonly windows: readonly SluicePackageWindow[];
  /** When the previous inventory was read: a window finished since then may explain an inventory change. */
  readonly since: number | null;
  /** For canonical names in dpkg.log (`libssl3:amd64` -> `libssl3`); null: arch suffixes are dropped. */
  readonly nativeArch: string | null;
  /** ms -> dpkg.log's local time text; default the agent's local time. */
  readonly localTime?: (ms: number) => string;
}

/** Package names (without :arch) that running apt steps install or remove. */
export function aptStepPackages(steps: readonly RunningStep[]): Set<string> {
  const names = new Set<string>();
  for (const s of steps) {
    if (s.change.kind !== 'apt') continue;
    for (const n of Object.keys(s.change.install)) names.add(n.split(':')[0] ?? n);
    for (const n of s.change.remove) names.add(n.split(':')[0] ?? n);
  }
  return names;
}

/** Whether a dpkg.log action is part of a Sluice step: inside its window, its package, its versions. */
export function madeBySluice(a: DpkgLogAction, windows: readonly SluicePackageWindow[], localTime: (ms: number) => string = dpkgLocalTime): boolean {
  return windows.some((w) => {
    const t = w.packages[a.package];
    if (t === undefined) return false;
    if (a.at < localTime(w.startedAt) || a.at > localTime(w.finishedAt)) return false;
    // An upgrade is one line (from -> to); a purge is `remove` then `purge`, both from the old version.
    return a.from === t.from || a.to === t.to;
  });
}

/** Packages Sluice steps finished since `since` moved, with the version each ended at (the last one wins). */
export function sluiceMovedSince(attribution: SluiceAttribution | undefined): Map<string, string | null> {
  const moved = new Map<string, string | null>();
  if (!attribution || attribution.since === null) return moved;
  const since = attribution.since;
  const recent = attribution.windows.filter((w) => w.finishedAt >= since).sort((a, b) => a.finishedAt - b.finishedAt);
  for (const w of recent) for (const [name, t] of Object.entries(w.packages)) moved.set(name, t.to);
  return moved;
}

export function detectDrift(
  previous: Pick<Facts, 'packages' | 'routing'> | null,
  current: Pick<Facts, 'packages' | 'routing' | 'unattendedUpgrades'>,
  dpkgLogLines: readonly string[],
  runningSteps: readonly RunningStep[],
  attribution?: SluiceAttribution,
): DriftEvent[] {
  const events: DriftEvent[] = [];
  const windows = attribution?.windows ?? [];
  const localTime = attribution?.localTime ?? dpkgLocalTime;
  // Sluice's own changes are recognised by what its steps did (journal windows and exact versions),
  // never by which steps are running: a manual upgrade seconds after a Sluice rollback is drift.
  const log = parseDpkgLog(dpkgLogLines, attribution?.nativeArch ?? null);
  const foreign = log.filter((a) => !madeBySluice(a, windows, localTime));
  const lastForeign = new Map<string, DpkgLogAction>();
  for (const a of foreign) lastForeign.set(a.package, a);
  const moved = sluiceMovedSince(attribution);

  const reported = new Set<string>();
  if (previous !== null) {
    const names = new Set([...Object.keys(previous.packages), ...Object.keys(current.packages)]);
    for (const name of [...names].sort()) {
      const from = previous.packages[name] ?? null;
      const to = current.packages[name] ?? null;
      if (from === to) continue;
      const logged = lastForeign.get(name);
      // Explained: a Sluice step since the last inventory left it at exactly this version, and
      // dpkg.log shows nobody else touching it.
      if (!logged && moved.has(name) && moved.get(name) === to) continue;
      reported.add(name);
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
  for (const a of [...lastForeign.values()]) {
    if (reported.has(a.package)) continue;
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

// Host facts the agent reports when they change: OS, kernel, systemd, packages, apt sources, whether
// unattended-upgrades can run, networkd's foreign-rule settings and the routing snapshot. Parsing is
// pure (sibling modules); collectFacts does the reading, under a `root` ('/' on a real host).
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { release } from 'node:os';
import { join } from 'node:path';
import type { InvariantSnapshot } from '../checks/check-runner.ts';
import { takeInvariantSnapshot } from '../checks/invariants.ts';
import { hostFindings } from '../preflight/preflight.ts';
import type { Finding } from '../preflight/preflight.ts';
import { defaultRunner } from './argv-runner.ts';
import type { ArgvRunner } from './argv-runner.ts';
import { parseOsRelease } from './os-release.ts';
import type { OsRelease } from './os-release.ts';
import { readPackageInventory } from './dpkg-packages.ts';
import { readAptSources } from './apt-sources.ts';
import type { AptSource } from './apt-sources.ts';
import { periodicEnabled, readAptSetting } from './apt-conf.ts';
import { readUnitState } from './systemd-units.ts';
import type { UnitState } from './systemd-units.ts';
import { readNetworkdForeign } from './networkd-conf.ts';
import type { NetworkdForeign } from './networkd-conf.ts';

export interface UnattendedUpgradesFacts {
  /** Effective `APT::Periodic::Unattended-Upgrade`, null when unset (= off). */
  readonly setting: string | null;
  readonly settingFile: string | null;
  readonly timer: UnitState;
  /** The setting is on and apt-daily-upgrade.timer is neither masked nor known to be disabled. */
  readonly canRun: boolean;
}

export interface Facts {
  readonly os: OsRelease | null;
  readonly kernel: string;
  /** e.g. 252; null when systemctl is not there (or for a test root). */
  readonly systemdVersion: number | null;
  readonly packages: Readonly<Record<string, string>>;
  readonly heldPackages: readonly string[];
  /** Packages dpkg left half-way (half-configured, unpacked...): name -> status. */
  readonly unfinishedPackages: Readonly<Record<string, string>>;
  readonly aptSources: readonly AptSource[];
  readonly unattendedUpgrades: UnattendedUpgradesFacts;
  readonly networkd: NetworkdForeign;
  /** null when `ip` could not be run. */
  readonly routing: InvariantSnapshot | null;
  /** Preflight findings that hold for the host whatever the change (the Datadog condition). */
  readonly hazards: readonly Finding[];
}

export interface CollectFactsOptions {
  readonly root: string;
  readonly run?: ArgvRunner;
  readonly now?: number;
  /** Skip the routing snapshot (a test root has no network of its own). Default true. */
  readonly routing?: boolean;
}

export const UNATTENDED_TIMER = 'apt-daily-upgrade.timer';

export function parseSystemdVersion(text: string): number | null {
  const m = /^systemd (\d+)/.exec(text.trim());
  return m ? Number(m[1]) : null;
}

export async function collectFacts(opts: CollectFactsOptions): Promise<Facts> {
  const root = opts.root;
  const run = opts.run ?? defaultRunner;
  let os: OsRelease | null = null;
  for (const p of ['etc/os-release', 'usr/lib/os-release']) {
    try {
      os = parseOsRelease(await readFile(join(root, p), 'utf8'));
      break;
    } catch {
      // try the next location
    }
  }
  let systemdVersion: number | null = null;
  if (root === '/') {
    const res = await run(['systemctl', '--version'], { timeoutMs: 5000, maxOutputBytes: 4096 });
    if (res.exitCode === 0) systemdVersion = parseSystemdVersion(res.stdout);
  }
  const inventory = await readPackageInventory(root, run);
  const setting = await readAptSetting(root, 'APT::Periodic::Unattended-Upgrade');
  const timer = await readUnitState(root, UNATTENDED_TIMER, 'timers.target', run);
  const routing = opts.routing === false ? null : await takeInvariantSnapshot({ run, ...(opts.now !== undefined ? { now: opts.now } : {}) }).catch(() => null);
  const partial = {
    os,
    kernel: release(),
    systemdVersion,
    packages: inventory.packages,
    heldPackages: inventory.held,
    unfinishedPackages: inventory.unfinished,
    aptSources: await readAptSources(root),
    unattendedUpgrades: {
      setting: setting.value,
      settingFile: setting.file,
      timer,
      canRun: periodicEnabled(setting.value) && !timer.masked && timer.enabled !== false,
    },
    networkd: await readNetworkdForeign(root),
    routing,
  };
  return { ...partial, hazards: hostFindings(partial) };
}

/** JSON with sorted keys, so equal facts compare equal whatever order they were built in. */
export function stableJson(value: unknown): string {
  return JSON.stringify(stable(value));
}

function stable(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stable);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) out[k] = stable((value as Record<string, unknown>)[k]);
    return out;
  }
  return value;
}

/** Changes exactly when what the facts say changes (the snapshot's time does not count). */
export function factsDigest(facts: Facts): string {
  const { routing, ...rest } = facts;
  const body = { ...rest, routing: routing === null ? null : { rules: routing.rules, routes: routing.routes } };
  return createHash('sha256').update(stableJson(body)).digest('hex');
}

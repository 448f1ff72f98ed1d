// The normalised form of a scenario file (see docs/simulator.md for the YAML). Produced by
// parseScenario; everything the simulator models comes from here, never from constants in code.
import type { Instant, Millis, Selector } from '../core/types.ts';
import type { RemediationPolicy } from '../core/remediation/guard.ts';
import type { CalendarSpec } from './calendar.ts';

/**
 * What a change does to a host it breaks. Service-affecting: hostConnectivity, podEgress, crashLoop,
 * hostCrashLoop (the whole host's service), requestErrors (a share of its requests, breaks.errorShare).
 */
export const EFFECTS = ['hostConnectivity', 'podEgress', 'crashLoop', 'hostCrashLoop', 'ipRulesLost', 'routesLost', 'requestErrors'] as const;
export type Effect = (typeof EFFECTS)[number];

/** One label and how its values are shared out: a single value has share 1. */
export interface LabelMix {
  readonly key: string;
  readonly values: readonly { readonly value: string; readonly share: number }[];
}

export interface RegionSpec {
  readonly name: string;
  /** Share of the whole fleet, 0..1. */
  readonly share: number;
  readonly zones: readonly string[];
  readonly clusters: number;
  readonly labels: readonly LabelMix[];
  /** The shared database restarting tasks read from; capacity is a share of the region's hosts served per second. */
  readonly database: { readonly capacityPerSecond: number } | null;
}

export interface RemediationSpec {
  readonly kind: 'replace';
  /** Only hosts with these labels are in auto-healing groups. */
  readonly match: Selector;
  readonly statusCheckInterval: Millis;
  /** A host whose status check has failed for this long is terminated and replaced. */
  readonly failedFor: Millis;
  /** A replacement serves this long after the termination. */
  readonly replacementBoot: Millis;
}

export interface ProviderSpec {
  readonly name: string;
  readonly labels: readonly LabelMix[];
  readonly regions: readonly RegionSpec[];
  readonly remediation: RemediationSpec | null;
}

export interface TimerSpec {
  readonly calendar: CalendarSpec;
  readonly randomizedDelay: Millis;
}

/**
 * The change's artefact is regenerated over time (a config file a job rebuilds every few minutes):
 * each version is good or bad, drawn per seed; a host that has the change breaks while a bad
 * version is current on it and heals when a good one reaches it.
 */
export interface VersionsSpec {
  /** A new version is generated every `every`, on the scenario's clock from its start. */
  readonly every: Millis;
  /** Each version reaches each host that has the change within this (a random time per host and version); at most `every`. */
  readonly within: Millis;
  /** The chance a version generated at a time is bad: linear between the points, 0 before the first, the last share after the last (1: stuck bad). */
  readonly badShare: readonly { readonly at: Instant; readonly share: number }[];
  /** No version is generated from then on: the current one stays. */
  readonly stopAt: Instant | null;
  /**
   * A known-good version is pushed at `at` and stays (no version is generated from then on); it
   * reaches every host within `within`. `restart`: a share of the broken hosts do not recover with
   * it (services left in a bad state); each is restarted at a random time within `over` of `at`.
   */
  readonly knownGood: {
    readonly at: Instant;
    readonly within: Millis;
    readonly restart: { readonly share: number; readonly over: Millis } | null;
  } | null;
}

export type SpreadSpec =
  | {
      readonly kind: 'timers';
      /** When the package reaches each provider's mirror. */
      readonly mirrors: ReadonlyMap<string, Instant>;
      readonly download: TimerSpec;
      readonly install: TimerSpec;
      /** Operators turn the update channel off: no install after this. */
      readonly stopAt: Instant | null;
    }
  | { readonly kind: 'replicate'; readonly at: Instant; readonly within: Millis };

/** By `by` after the first impairment of the run, `share` (0..1] of the impaired hosts are repaired. */
export interface RepairPoint {
  readonly by: Millis;
  readonly share: number;
}

export interface RepairSpec {
  /** The first repairs start this long after the first impairment of the run. */
  readonly after: Millis;
  /** Repairs end this long after they start (the last point of a curve: its `by` less `after`). */
  readonly over: Millis;
  /** How repairs spread over time: null is uniform over `over`; else piecewise linear between the points, from share 0 at `after`. */
  readonly curve: readonly RepairPoint[] | null;
}

export interface RecoverySpec {
  /** Operators repair impaired hosts (reboot, re-apply network config) from `after` the first impairment, uniformly over `over` or along `curve`. */
  readonly repair: RepairSpec | null;
  /** A kill switch reverts the change on every host `after` the first impairment, reaching them within `within`. */
  readonly revert: { readonly after: Millis; readonly within: Millis } | null;
  /** The spread stops `after` the first impairment (a content revert, a channel turned off): no host gets the change from then on; hosts already broken stay broken. */
  readonly stop: { readonly after: Millis } | null;
  /** How crash-looping tasks retry their start against the region's database. */
  readonly restart: {
    readonly backoff: 'none' | 'jittered';
    readonly retryEvery: Millis;
    readonly base: Millis;
    readonly cap: Millis;
  };
}

export interface Scenario {
  readonly name: string;
  readonly description: string;
  readonly start: Instant;
  readonly duration: Millis;
  readonly fleet: {
    readonly hosts: number;
    readonly labels: readonly LabelMix[];
    /** Share of hosts that keep data on local disk (label `data=local`). */
    readonly dataBearing: number;
    /** Label keys drawn once per cluster instead of per host. */
    readonly perCluster: readonly string[];
    readonly providers: readonly ProviderSpec[];
  };
  readonly change: {
    readonly name: string;
    /** Hosts the change applies to (uncontrolled, these are the ones that get it). */
    readonly hosts: Selector;
    readonly applyTime: Millis;
    readonly rollbackTime: Millis;
    /** The artefact's versions over time (null: one version, the one that lands). */
    readonly versions: VersionsSpec | null;
    /** Changed hosts matching `match` suffer `effects`, `delay` after the change lands (0: at once). */
    readonly breaks: {
      readonly match: Selector;
      readonly effects: readonly Effect[];
      readonly delay: Millis;
      /** requestErrors: the share of a broken host's requests that fail, 0..1 (1 when not given). */
      readonly errorShare: number;
      /** The trigger recurs: at each elapse every changed host that is whole again breaks again. */
      readonly again: TimerSpec | null;
    };
  };
  readonly spread: SpreadSpec;
  readonly recovery: RecoverySpec;
  /** The remediation guard in front of these providers' auto-healing (a third run, "guarded"); null: none. */
  readonly guard: { readonly providers: readonly string[]; readonly policy: RemediationPolicy; readonly retryEvery: Millis } | null;
  readonly plan: {
    /** Path of the default plan, relative to the scenario file. */
    readonly file: string;
    readonly startAt: Instant;
  };
}

// The versions of a change's artefact over a run (change.versions): which are bad, when each is
// generated, when each reaches a host. Drawn once per seed from its own random stream, so the
// uncontrolled and the controlled run see the same versions, and other models' draws do not move.
import { createPrng } from './prng.ts';
import type { Scenario, VersionsSpec } from './scenario.ts';

const VERSIONS_STREAM = 5;

export interface VersionSchedule {
  readonly spec: VersionsSpec;
  /** When version 0 is generated (the scenario's start); version k at start + k * every. */
  readonly start: number;
  /** One flag per generated version: 1 = bad. Index `bad.length` is the known-good version, if any. */
  readonly bad: Uint8Array;
  /** Mixed into each host's arrival delays, so they change with the seed. */
  readonly salt: number;
}

/** The chance a version generated at `t` is bad: linear between the points, 0 before the first, the last share after the last. */
export function badShareAt(points: VersionsSpec['badShare'], t: number): number {
  if (points.length === 0 || t < points[0]!.at) return 0;
  for (let i = 1; i < points.length; i++) {
    const a = points[i - 1]!;
    const b = points[i]!;
    if (t < b.at) return a.share + ((b.share - a.share) * (t - a.at)) / (b.at - a.at);
  }
  return points[points.length - 1]!.share;
}

/** Draws every version of the run (null: the scenario's change has one version). */
export function drawVersions(scenario: Scenario, seed: number): VersionSchedule | null {
  const spec = scenario.change.versions;
  if (!spec) return null;
  const start = scenario.start;
  // Generation ends at the run's end, at stopAt, or when the known-good version is pushed.
  const until = Math.min(start + scenario.duration + 1, spec.stopAt ?? Infinity, spec.knownGood?.at ?? Infinity);
  const count = Math.max(0, Math.ceil((until - start) / spec.every));
  const rng = createPrng(seed, VERSIONS_STREAM);
  const salt = Math.floor(rng.next() * 4294967296) >>> 0;
  const bad = new Uint8Array(count);
  for (let k = 0; k < count; k++) bad[k] = rng.next() < badShareAt(spec.badShare, start + k * spec.every) ? 1 : 0;
  return { spec, start, bad, salt };
}

export function generatedAt(s: VersionSchedule, k: number): number {
  return k < s.bad.length ? s.start + k * s.spec.every : s.spec.knownGood!.at;
}

export function isBadVersion(s: VersionSchedule, k: number): boolean {
  return k >= 0 && k < s.bad.length && s.bad[k] === 1;
}

/** The latest version generated at or before `t` (-1: none yet; `bad.length`: the known-good one). */
export function currentVersion(s: VersionSchedule, t: number): number {
  if (s.spec.knownGood && t >= s.spec.knownGood.at) return s.bad.length;
  if (t < s.start) return -1;
  return Math.min(s.bad.length - 1, Math.floor((t - s.start) / s.spec.every));
}

/** A uniform draw in [0, 1) for host `h` and `key`, the same in every run of a seed (no random stream consumed). */
function hostUniform(s: VersionSchedule, h: number, key: number): number {
  let z = (Math.imul(h, 0x9e3779b1) ^ Math.imul(key, 0x85ebca6b) ^ s.salt) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x7feb352d) >>> 0;
  z = Math.imul(z ^ (z >>> 15), 0x846ca68b) >>> 0;
  return ((z ^ (z >>> 16)) >>> 0) / 4294967296;
}

/** How long after its generation version `k` reaches host `h`: in [0, within). */
export function arrivalDelay(s: VersionSchedule, h: number, k: number): number {
  const within = k < s.bad.length ? s.spec.within : s.spec.knownGood!.within;
  return within === 0 ? 0 : hostUniform(s, h, k + 1) * within;
}

/** When a broken host the known-good version does not heal (knownGood.restart) is restarted; null: it heals with the version. */
export function restartAt(s: VersionSchedule, h: number): number | null {
  const restart = s.spec.knownGood?.restart;
  if (!restart || hostUniform(s, h, -1) >= restart.share) return null;
  return s.spec.knownGood!.at + hostUniform(s, h, -2) * restart.over;
}

/** Versions whose arrival changes a host's state: the first bad one and every flip between good and bad, then the known-good one. */
export function flips(s: VersionSchedule): number[] {
  const out: number[] = [];
  for (let k = 0; k < s.bad.length; k++) if (isBadVersion(s, k) !== isBadVersion(s, k - 1)) out.push(k);
  if (s.spec.knownGood) out.push(s.bad.length);
  return out;
}

// The uncontrolled run: the change spreads as it did, by the hosts' own timers (download when the
// package is on the provider's mirror, install at the next upgrade timer) or by replication to
// every host within seconds. Nothing stops it; only remediation and recovery act.
import { matchesSelector } from '../core/fleet/select.ts';
import type { Labels } from '../core/types.ts';
import { nextOccurrence, previousOccurrence } from './calendar.ts';
import { EventQueue } from './event-queue.ts';
import type { QueuedEvent } from './event-queue.ts';
import type { Fleet } from './fleet.ts';
import { createPrng } from './prng.ts';
import type { Scenario, TimerSpec } from './scenario.ts';
import { drawVersions } from './versions.ts';
import { World } from './world.ts';

const EV_DOWNLOAD = 32;
const EV_INSTALL_TIMER = 33;
const EV_APPLIED = 34;

export interface RunOutcome {
  readonly world: World;
  readonly events: number;
}

/** Hosts the change applies to, by label object (evaluated once per distinct labels). */
export function applicableHosts(scenario: Scenario, fleet: Fleet): Uint8Array {
  const out = new Uint8Array(fleet.size);
  const cache = new Map<Labels, boolean>();
  for (let h = 0; h < fleet.size; h++) {
    const labels = fleet.labels[h]!;
    let m = cache.get(labels);
    if (m === undefined) cache.set(labels, (m = matchesSelector(labels, scenario.change.hosts)));
    out[h] = m ? 1 : 0;
  }
  return out;
}

/** Pops and dispatches events up to the scenario's end; `driver` handles kinds >= 32. */
export function runLoop(world: World, queue: EventQueue, driver: (ev: QueuedEvent) => void): number {
  const ev: QueuedEvent = { time: 0, kind: 0, host: 0, arg: 0 };
  const end = world.end;
  while (queue.size > 0 && queue.peekTime() <= end) {
    queue.pop(ev);
    world.advanceTo(ev.time);
    if (!world.handle(ev.kind, ev.host, ev.arg, ev.time)) driver(ev);
  }
  world.finish();
  return queue.popped;
}

/** `guarded`: the scenario's remediation guard stands in front of the providers' auto-healing. */
export function runUncontrolled(scenario: Scenario, fleet: Fleet, seed: number, guarded = false): RunOutcome {
  const queue = new EventQueue();
  const world = new World(scenario, fleet, queue, createPrng(seed, 2), guarded, drawVersions(scenario, seed));
  const rng = createPrng(seed, 3);
  const spread = scenario.spread;
  const applies = applicableHosts(scenario, fleet);
  const applyDuration = () => scenario.change.applyTime * (0.5 + rng.next());

  if (spread.kind === 'replicate') {
    for (let h = 0; h < fleet.size; h++) {
      if (applies[h]) queue.push(spread.at + rng.next() * spread.within, EV_APPLIED, h);
    }
    return { world, events: runLoop(world, queue, (ev) => !world.spreadStopped && world.applyChange(ev.host, ev.time)) };
  }

  // systemd: a timer elapses at its calendar time plus a fresh random delay; the next elapse is
  // the next calendar time after it actually fired.
  const firstFire = (timer: TimerSpec): number => {
    const prev = previousOccurrence(timer.calendar, scenario.start);
    const pending = prev + rng.next() * timer.randomizedDelay;
    if (pending >= scenario.start) return pending;
    return nextOccurrence(timer.calendar, scenario.start, true) + rng.next() * timer.randomizedDelay;
  };
  const nextFire = (timer: TimerSpec, after: number): number => nextOccurrence(timer.calendar, after) + rng.next() * timer.randomizedDelay;
  const mirrorOf = fleet.regions.map((r) => spread.mirrors.get(r.provider) ?? Infinity);
  const hasPackage = new Uint8Array(fleet.size);
  const end = world.end;
  const stopAt = spread.stopAt ?? Infinity;

  for (let h = 0; h < fleet.size; h++) {
    if (!applies[h]) continue;
    queue.push(firstFire(spread.download), EV_DOWNLOAD, h);
    queue.push(firstFire(spread.install), EV_INSTALL_TIMER, h);
  }
  const events = runLoop(world, queue, (ev) => {
    const h = ev.host;
    if (ev.kind === EV_DOWNLOAD) {
      if (ev.time >= mirrorOf[fleet.regionOf[h]!]!) {
        hasPackage[h] = 1;
        return; // downloaded: later runs change nothing
      }
      const next = nextFire(spread.download, ev.time);
      if (next <= end) queue.push(next, EV_DOWNLOAD, h);
    } else if (ev.kind === EV_INSTALL_TIMER) {
      if (ev.time >= stopAt || world.spreadStopped) return;
      if (hasPackage[h]) {
        queue.push(ev.time + applyDuration(), EV_APPLIED, h);
        return;
      }
      const next = nextFire(spread.install, ev.time);
      if (next <= end && next < stopAt) queue.push(next, EV_INSTALL_TIMER, h);
    } else if (ev.kind === EV_APPLIED) {
      world.applyChange(h, ev.time); // an install already running finishes
    }
  });
  return { world, events };
}

// The agent's Linux wiring (`sluice agent` uses it; in-process tests may leave it out): host facts
// (cached, so a 5 s heartbeat stays cheap and facts go out only when their digest changes), the
// invariant snapshot before every apply, preflight, and restoring rules and routes.
import { DEFAULT_APT_MAX_LIST_AGE, type Change } from '../core/types.ts';
import { ensureFreshLists } from './changes/apt-lists.ts';
import type { InvariantSnapshot } from './checks/check-runner.ts';
import { restoreInvariants, takeInvariantSnapshot } from './checks/invariants.ts';
import { defaultRunner } from './facts/argv-runner.ts';
import type { ArgvRunner } from './facts/argv-runner.ts';
import { collectFacts, factsDigest } from './facts/facts.ts';
import type { Facts } from './facts/facts.ts';
import { readNetworkdForeign } from './facts/networkd-conf.ts';
import { readUnitState } from './facts/systemd-units.ts';
import { hostFindings, preflight } from './preflight/preflight.ts';
import type { Finding } from './preflight/preflight.ts';
import type { RestoreOutcome } from './step-actions.ts';

export const NETWORKD_UNIT = 'systemd-networkd.service';

export interface HostHooksOptions {
  /** '/' on a real host; a test root with its own dpkg database in tests. */
  readonly root: string;
  readonly run?: ArgvRunner;
  /** Packages, apt and unit state are read again at most this often (the routing snapshot every time). Default 45 s. */
  readonly refreshMs?: number;
  readonly now?: () => number;
}

export interface HostHooks {
  readonly collectFacts: () => Promise<Record<string, unknown>>;
  /** Facts read now, refreshing the cache: the drift guard's collector, so one reading serves both. */
  readonly freshFacts: () => Promise<HostFacts>;
  readonly takeBaseline: () => Promise<InvariantSnapshot | null>;
  readonly preflight: (change: Change, baseline: InvariantSnapshot | null) => Promise<readonly Finding[]>;
  readonly restoreInvariants: (snapshot: InvariantSnapshot) => Promise<RestoreOutcome>;
  /** A change or rollback ran: the next facts re-read packages at once. */
  readonly onHostChanged: () => void;
}

/**
 * Whether systemd-networkd runs (or starts at boot) on this host. The Datadog condition needs it:
 * a host managed by ifupdown or NetworkManager has no networkd to flush its rules.
 */
export async function networkdInUse(root: string, run: ArgvRunner = defaultRunner): Promise<boolean> {
  const state = await readUnitState(root, NETWORKD_UNIT, 'multi-user.target', run);
  return state.active === true || state.enabled === true;
}

/** Host facts as reported: the facts module's, with hazards only where networkd is in use. */
export type HostFacts = Facts & { readonly networkdInUse: boolean };

export function createHostHooks(opts: HostHooksOptions): HostHooks {
  const { root } = opts;
  const run = opts.run ?? defaultRunner;
  const refreshMs = opts.refreshMs ?? 45_000;
  const now = opts.now ?? Date.now;
  let slow: { at: number; facts: Facts; networkd: boolean } | null = null;
  let last: { digest: string; facts: HostFacts } | null = null;

  async function read(fresh: boolean): Promise<HostFacts> {
    if (fresh || slow === null || now() - slow.at >= refreshMs) {
      const facts = await collectFacts({ root, run, routing: false });
      slow = { at: now(), facts, networkd: await networkdInUse(root, run) };
    }
    const routing = await takeInvariantSnapshot({ run }).catch(() => null);
    const partial = { ...slow.facts, routing };
    const facts: HostFacts = { ...partial, hazards: slow.networkd ? hostFindings(partial) : [], networkdInUse: slow.networkd };
    const digest = factsDigest(facts);
    // The same object while nothing changed: the heartbeat then sends no facts.
    if (last !== null && last.digest === digest) return last.facts;
    last = { digest, facts };
    return facts;
  }

  return {
    collectFacts: async () => (await read(false)) as unknown as Record<string, unknown>,
    freshFacts: () => read(true),
    takeBaseline: () => takeInvariantSnapshot({ run }),
    async preflight(change, baseline) {
      const networkd = await readNetworkdForeign(root);
      const host = (await networkdInUse(root, run)) ? hostFindings({ networkd, routing: baseline }) : [];
      const timeoutMs = Math.min(change.timeout, 120_000);
      // Lists first: the scripts are read from the exact versions, downloaded with these lists.
      const lists: Finding[] = [];
      if (change.kind === 'apt') {
        const fresh = await ensureFreshLists(root, change.maxListAge ?? DEFAULT_APT_MAX_LIST_AGE, { run, timeoutMs });
        if (fresh.refreshed) slow = null; // the pending updates and facts may differ now
        if (!fresh.ok) lists.push({ code: 'apt-lists-stale', message: `cannot refresh the package lists: ${fresh.message}` });
      }
      // routing null: the host part is above; this adds what the packages' scripts would do.
      const scripts = await preflight({ networkd, routing: null }, change, { root, run, timeoutMs });
      return [...host, ...lists, ...scripts];
    },
    restoreInvariants: (snapshot) => restoreInvariants(snapshot, { run }),
    onHostChanged: () => {
      slow = null;
    },
  };
}

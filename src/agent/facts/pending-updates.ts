// Upgrades apt would install now, and which of them come from a security source: what `sluice
// updates` lists and `sluice updates plan` turns into a staged rollout. Read by simulating a
// dist-upgrade (`apt-get -s`), which changes nothing on the host; parsing is pure.
import { aptEnvironment } from '../changes/apt.ts';
import { describeResult, tail } from '../exec.ts';
import { defaultRunner } from './argv-runner.ts';
import type { ArgvRunner } from './argv-runner.ts';
import { canonicalPackageName, nativeArchitecture } from './package-names.ts';

export interface PendingUpdate {
  readonly package: string;
  readonly installed: string;
  readonly candidate: string;
  /** Some source offering the candidate is a security archive (e.g. jammy-security, Debian-Security). */
  readonly security: boolean;
  /** apt's `origin:release/archive` labels for the candidate. */
  readonly origins: readonly string[];
}

/** The `pendingUpdates` fact: the list, or why it could not be read. */
export interface PendingUpdatesFact {
  readonly checkedAt: number;
  readonly updates: readonly PendingUpdate[];
  readonly error?: string;
}

// Inst systemd [249.11-0ubuntu3.6] (249.11-0ubuntu3.7 Ubuntu:22.04/jammy-updates, Ubuntu:22.04/jammy-security [amd64]) []
const INST = /^Inst (\S+) \[([^\]]+)\] \((\S+) (.*?)(?: \[[^\]]*\])?\)/;

/**
 * Upgrades in `apt-get -s dist-upgrade` output. New installs pulled in as dependencies are not
 * upgrades and are left out. Names are canonical for `nativeArch`, as in the packages fact.
 */
export function parseAptSimulation(text: string, nativeArch: string | null = null): PendingUpdate[] {
  const byName = new Map<string, PendingUpdate>();
  for (const line of text.split('\n')) {
    const m = INST.exec(line);
    if (!m) continue;
    const origins = (m[4] ?? '').split(',').map((o) => o.trim()).filter((o) => o !== '');
    const name = canonicalPackageName(m[1] ?? '', nativeArch);
    byName.set(name, {
      package: name,
      installed: m[2] ?? '',
      candidate: m[3] ?? '',
      security: origins.some(isSecurityOrigin),
      origins,
    });
  }
  return [...byName.values()].sort((a, b) => (a.package < b.package ? -1 : a.package > b.package ? 1 : 0));
}

/** Ubuntu's `<suite>-security` archives and Debian's `Debian-Security` origin. */
export function isSecurityOrigin(origin: string): boolean {
  return /(^|[/:-])security($|[/:,\s])/i.test(origin) || /^debian-security:/i.test(origin);
}

const SIMULATE_TIMEOUT_MS = 120_000;

/** Simulates a dist-upgrade on `root` ('/' on a real host) with the package lists already there. */
export async function readPendingUpdates(root: string, run: ArgvRunner = defaultRunner, now: () => number = Date.now): Promise<PendingUpdatesFact> {
  const env = await aptEnvironment(root);
  const res = await run(['apt-get', '-s', '-q', '-o', 'Debug::NoLocking=1', 'dist-upgrade'], {
    timeoutMs: SIMULATE_TIMEOUT_MS,
    maxOutputBytes: 16 * 1024 * 1024,
    env,
  });
  if (res.exitCode !== 0) {
    return { checkedAt: now(), updates: [], error: `apt-get -s dist-upgrade ${describeResult(res, SIMULATE_TIMEOUT_MS)}: ${tail(res.stderr, 300)}` };
  }
  return { checkedAt: now(), updates: parseAptSimulation(res.stdout, await nativeArchitecture(run)) };
}

// Installed package versions and holds, from dpkg's database under a root (dpkg-query --admindir).
import { join } from 'node:path';
import type { ArgvRunner } from './argv-runner.ts';
import { describeResult, tail } from '../exec.ts';
import { UnavailableError } from '../../core/errors.ts';
import { canonicalPackageName, nativeArchitecture } from './package-names.ts';

export interface PackageInventory {
  /**
   * Every package dpkg knows with files on disk (installed or half-done): name -> version. Names
   * are canonical (package-names.ts): bare for native and `all` packages, `name:arch` for foreign ones.
   */
  readonly packages: Readonly<Record<string, string>>;
  readonly held: readonly string[];
  /** Packages not fully installed (half-configured, unpacked, ...): name -> dpkg status word. */
  readonly unfinished: Readonly<Record<string, string>>;
}

/** The dpkg-query format parseDpkgQuery expects. */
export const DPKG_QUERY_FORMAT = '${binary:Package}\\t${Version}\\t${db:Status-Abbrev}\\t${Status}\\n';

const STATUS_WORDS: Readonly<Record<string, string>> = {
  n: 'not-installed', c: 'config-files', H: 'half-installed', U: 'unpacked', F: 'half-configured',
  W: 'triggers-awaiting', t: 'triggers-pending', i: 'installed',
};

/** dpkg-query output -> inventory; names made canonical for `nativeArch` (null: left as dpkg printed them). */
export function parseDpkgQuery(text: string, nativeArch: string | null = null): PackageInventory {
  const packages: Record<string, string> = {};
  const unfinished: Record<string, string> = {};
  const held: string[] = [];
  for (const line of text.split('\n')) {
    const [printed, version, abbrev] = line.split('\t');
    if (!printed || version === undefined || abbrev === undefined || abbrev.length < 2) continue;
    const name = canonicalPackageName(printed, nativeArch);
    const want = abbrev[0];
    const state = abbrev[1] ?? 'n';
    if (want === 'h') held.push(name);
    // 'n' (never installed / purged) and 'c' (only conffiles left) have nothing installed.
    if (state === 'n' || state === 'c') continue;
    packages[name] = version;
    if (state !== 'i') unfinished[name] = STATUS_WORDS[state] ?? state;
  }
  held.sort();
  return { packages, held, unfinished };
}

export function dpkgAdminDir(root: string): string {
  return join(root, 'var/lib/dpkg');
}

export async function readPackageInventory(root: string, run: ArgvRunner, signal?: AbortSignal): Promise<PackageInventory> {
  const argv = ['dpkg-query', `--admindir=${dpkgAdminDir(root)}`, '-W', `-f=${DPKG_QUERY_FORMAT}`];
  const res = await run(argv, { timeoutMs: 30_000, maxOutputBytes: 32 * 1024 * 1024, ...(signal ? { signal } : {}) });
  // dpkg-query -W exits 1 with "no packages found" on an empty database: that is an empty inventory.
  if (res.exitCode !== 0 && !(res.exitCode === 1 && res.stdout.trim() === '')) {
    throw new UnavailableError(`dpkg-query ${describeResult(res, 30_000)}: ${tail(res.stderr, 200)}`);
  }
  return parseDpkgQuery(res.stdout, await nativeArchitecture(run));
}

// One name per installed package, the same in facts, pending updates, drift and plans: the bare
// name for packages of the host's native architecture and for `all` packages, `name:arch` for
// foreign-architecture ones. dpkg-query's ${binary:Package} qualifies every Multi-Arch: same
// package (`libssl3:amd64`) while apt prints it bare (`libssl3`); both become `libssl3` here, and
// `libssl3:i386` stays as it is. A plan may name a native package either way.
import { defaultRunner } from './argv-runner.ts';
import type { ArgvRunner } from './argv-runner.ts';

/** `libssl3:amd64` -> `libssl3` on amd64; `libssl3:i386` stays; `tzdata:all` -> `tzdata`. */
export function canonicalPackageName(name: string, nativeArch: string | null): string {
  const colon = name.indexOf(':');
  if (colon < 0) return name;
  const arch = name.slice(colon + 1);
  if (arch === 'all' || (nativeArch !== null && arch === nativeArch)) return name.slice(0, colon);
  return name;
}

const cache = new WeakMap<ArgvRunner, Promise<string | null>>();

/** `dpkg --print-architecture` (e.g. amd64), once per runner; null when dpkg cannot say. */
export function nativeArchitecture(run: ArgvRunner = defaultRunner): Promise<string | null> {
  let p = cache.get(run);
  if (!p) {
    p = run(['dpkg', '--print-architecture'], { timeoutMs: 10_000, maxOutputBytes: 1024 }).then(
      (res) => {
        const arch = res.exitCode === 0 ? res.stdout.trim() : '';
        if (/^[a-z0-9][a-z0-9-]*$/.test(arch)) return arch;
        cache.delete(run); // try again next time
        return null;
      },
      () => {
        cache.delete(run);
        return null;
      },
    );
    cache.set(run, p);
  }
  return p;
}

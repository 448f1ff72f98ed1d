// The one way the host modules run programs: an injectable argv runner (runArgv on a real host; a
// wrapper such as `ip netns exec NS ...` or a fake in tests). Never a shell string.
import { runArgv } from '../exec.ts';
import { ValidationError } from '../../core/errors.ts';
import type { RunArgvOptions, RunArgvResult } from '../exec.ts';

export type ArgvRunner = (argv: readonly string[], opts: RunArgvOptions) => Promise<RunArgvResult>;

export const defaultRunner: ArgvRunner = runArgv;

/** A runner that runs every argv inside network namespace `ns` (tests, and hosts run per namespace). */
export function netnsRunner(ns: string, run: ArgvRunner = defaultRunner): ArgvRunner {
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(ns) || ns.startsWith('-')) throw new ValidationError(`bad namespace name ${ns}`);
  return (argv, opts) => run(['ip', 'netns', 'exec', ns, ...argv], opts);
}

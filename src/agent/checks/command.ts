// The `command` check: the argv exits 0 = healthy.
import { childEnv, describeResult, runArgv, tail } from '../exec.ts';
import type { CheckRunner } from './check-runner.ts';

export const commandCheck: CheckRunner<'command'> = {
  kind: 'command',
  async run(spec, ctx) {
    const env = childEnv({ SLUICE_HOST: ctx.host ?? '', SLUICE_ROLLOUT_ID: ctx.rolloutId ?? '', SLUICE_ACTION: 'check' });
    const result = await runArgv(spec.command, {
      timeoutMs: spec.timeout,
      env,
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    });
    const ok = result.error === null && !result.timedOut && result.exitCode === 0;
    const what = `${JSON.stringify(spec.command[0])} ${describeResult(result, spec.timeout)}`;
    if (ok) return { ok: true, message: what };
    const output = tail(result.stderr) || tail(result.stdout);
    return { ok: false, message: `expected exit code 0; ${what}${output ? `: ${output}` : ''}` };
  },
};

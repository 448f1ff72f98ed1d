// The `command` change: run the plan's apply argv, and its rollback argv to undo it. No shell is
// involved unless the operator wrote one (["sh", "-c", "..."]).
import type { CommandChange } from '../../core/types.ts';
import { childEnv, describeResult, runArgv, tail } from '../exec.ts';
import type { ChangeContext, ChangeRunner, StepOutcome } from './change-runner.ts';

async function run(action: 'apply' | 'rollback', argv: readonly string[], ctx: ChangeContext): Promise<StepOutcome> {
  const env = childEnv({ SLUICE_HOST: ctx.host ?? '', SLUICE_ROLLOUT_ID: ctx.stepKey, SLUICE_ACTION: action });
  const result = await runArgv(argv, { timeoutMs: ctx.timeout, env, ...(ctx.signal ? { signal: ctx.signal } : {}) });
  const ok = result.error === null && !result.timedOut && result.exitCode === 0;
  const what = `${action} command ${JSON.stringify(argv[0])} ${describeResult(result, ctx.timeout)}`;
  if (ok) {
    ctx.log.info(`${action} command succeeded`, { rolloutId: ctx.stepKey, argv0: argv[0] });
    return { ok: true, message: what, record: { action } };
  }
  const stderr = tail(result.stderr);
  ctx.log.warn(`${action} command failed`, { rolloutId: ctx.stepKey, argv0: argv[0], result: describeResult(result, ctx.timeout) });
  return { ok: false, message: stderr ? `${what}: ${stderr}` : what };
}

export const commandRunner: ChangeRunner<CommandChange> = {
  kind: 'command',
  async apply(change, ctx) {
    return run('apply', change.apply, { ...ctx, timeout: change.timeout });
  },
  // The rollback argv runs even when apply left no record: an apply may have been partial.
  async rollback(change, ctx, _record) {
    if (!change.rollback) return { ok: true, message: 'no rollback command; nothing to undo' };
    return run('rollback', change.rollback, { ...ctx, timeout: change.timeout });
  },
};

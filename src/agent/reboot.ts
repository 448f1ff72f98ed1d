// The plan's `reboot:` on the agent's side: whether the host needs a reboot after the change, the
// before/after hooks (argv, as a command change runs them), and the reboot itself. The reboot
// command is the agent's own setting (--reboot-command, default `systemctl reboot`), never the
// plan's, and runs only on agents whose --allow has `reboot`.
import { readFile, stat } from 'node:fs/promises';
import type { RebootSpec } from '../core/types.ts';
import { childEnv, describeResult, runArgv, tail } from './exec.ts';

export { DEFAULT_REBOOT_COMMAND, DEFAULT_REBOOT_REQUIRED_FILE } from './reboot-defaults.ts';
const HOOK_TIMEOUT_MS = 10 * 60_000;
const REBOOT_COMMAND_TIMEOUT_MS = 60_000;

export interface RebootSettings {
  readonly command: readonly string[];
  readonly requiredFile: string;
}

/** Why the host reboots now, or null when it does not need to. */
export async function rebootReason(spec: RebootSpec, settings: RebootSettings): Promise<string | null> {
  if (spec.when === 'always') return 'the plan reboots after every apply';
  const st = await stat(settings.requiredFile).catch(() => null);
  if (!st) return null;
  const pkgs = await readFile(`${settings.requiredFile}.pkgs`, 'utf8').catch(() => '');
  const names = pkgs.split('\n').map((l) => l.trim()).filter(Boolean).slice(0, 10);
  return `${settings.requiredFile} exists${names.length > 0 ? ` (${names.join(', ')})` : ''}`;
}

/** This boot's id (/proc/sys/kernel/random/boot_id): a real reboot changes it, a restart of the agent does not. */
export async function bootId(): Promise<string | null> {
  return (await readFile('/proc/sys/kernel/random/boot_id', 'utf8').catch(() => '')).trim() || null;
}

/** Runs a hook (`before`/`after`); null when it succeeded, else what went wrong. */
export async function runRebootHook(which: 'before' | 'after', argv: readonly string[], env: { host: string; rolloutId: string }): Promise<string | null> {
  const result = await runArgv(argv, {
    timeoutMs: HOOK_TIMEOUT_MS,
    env: childEnv({ SLUICE_HOST: env.host, SLUICE_ROLLOUT_ID: env.rolloutId, SLUICE_ACTION: `${which}-reboot` }),
  });
  if (result.error === null && !result.timedOut && result.exitCode === 0) return null;
  const stderr = tail(result.stderr || result.stdout);
  return `reboot.${which} ${JSON.stringify(argv[0])} ${describeResult(result, HOOK_TIMEOUT_MS)}${stderr ? `: ${stderr}` : ''}`;
}

/** Runs the agent's reboot command; null when it was accepted (the host goes down next), else why not. */
export async function runRebootCommand(settings: RebootSettings): Promise<string | null> {
  const result = await runArgv(settings.command, { timeoutMs: REBOOT_COMMAND_TIMEOUT_MS });
  if (result.error === null && !result.timedOut && result.exitCode === 0) return null;
  const stderr = tail(result.stderr || result.stdout);
  return `reboot command ${JSON.stringify(settings.command[0])} ${describeResult(result, REBOOT_COMMAND_TIMEOUT_MS)}${stderr ? `: ${stderr}` : ''}`;
}

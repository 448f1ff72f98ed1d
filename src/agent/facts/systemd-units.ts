// Whether a systemd unit is enabled, masked and active: systemctl on the real root, unit symlinks
// under a test root (where no manager runs).
import { lstat, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { ArgvRunner } from './argv-runner.ts';

export interface UnitState {
  /** null: could not tell (no systemctl, no unit files). */
  readonly enabled: boolean | null;
  readonly masked: boolean;
  readonly active: boolean | null;
}

async function linkTarget(path: string): Promise<string | null> {
  try {
    const st = await lstat(path);
    if (!st.isSymbolicLink()) return st.size === 0 ? '/dev/null' : path;
    return await readlink(path);
  } catch {
    return null;
  }
}

/** From unit files under root: masked = /etc or /run unit is a symlink to /dev/null; enabled = a `.wants` link. */
export async function unitStateFromFiles(root: string, unit: string, wantedBy: string): Promise<UnitState> {
  let masked = false;
  for (const dir of ['etc/systemd/system', 'run/systemd/system']) {
    if ((await linkTarget(join(root, dir, unit))) === '/dev/null') masked = true;
  }
  const wants = await linkTarget(join(root, 'etc/systemd/system', `${wantedBy}.wants`, unit));
  return { enabled: masked ? false : wants !== null, masked, active: null };
}

/**
 * On the real root, asks systemctl and falls back to the files when systemctl cannot say (no
 * systemd, or a container without a running manager).
 */
export async function readUnitState(root: string, unit: string, wantedBy: string, run: ArgvRunner): Promise<UnitState> {
  const files = await unitStateFromFiles(root, unit, wantedBy);
  if (root !== '/') return files;
  const enabledRes = await run(['systemctl', 'is-enabled', '--', unit], { timeoutMs: 5000, maxOutputBytes: 4096 });
  const word = enabledRes.stdout.trim().split('\n')[0] ?? '';
  const activeRes = await run(['systemctl', 'is-active', '--', unit], { timeoutMs: 5000, maxOutputBytes: 4096 });
  const activeWord = activeRes.stdout.trim().split('\n')[0] ?? '';
  const enabledKnown: Record<string, boolean> = {
    enabled: true, 'enabled-runtime': true, static: true, alias: true, indirect: true, generated: true,
    disabled: false, masked: false, 'masked-runtime': false,
  };
  return {
    enabled: word in enabledKnown ? enabledKnown[word]! : files.enabled,
    masked: word === 'masked' || word === 'masked-runtime' || files.masked,
    active: ['active', 'activating', 'reloading'].includes(activeWord) ? true
      : ['inactive', 'failed', 'deactivating'].includes(activeWord) ? false : null,
  };
}

// Rollback records of the file and apt runners: one small JSON file per step and kind under
// STATE_DIR/steps, written atomically (the way back must survive a crash half-way).
import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '../state-dir.ts';

/** `${stateDir}/steps/<key>-<hash>.<kind>.json`; the key is sanitised and hashed so any stepKey maps to one safe name. */
export function recordPath(stateDir: string, stepKey: string, kind: string): string {
  const safe = stepKey.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 80);
  const hash = createHash('sha256').update(stepKey).digest('hex').slice(0, 12);
  return join(stateDir, 'steps', `${safe}-${hash}.${kind}.json`);
}

/** The record, or null when there is none (or it is unreadable: the runners then treat it as absent). */
export async function loadRecord(path: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as unknown;
  } catch {
    return null;
  }
}

export async function saveRecord(path: string, record: unknown): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFileAtomic(path, JSON.stringify(record));
}

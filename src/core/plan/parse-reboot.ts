// The `reboot:` section of a plan: `reboot: ifRequired` (shorthand) or a mapping with `when`,
// the `before`/`after` hooks (argv lists) and `timeout`. `never` (the default) means no reboot.
import { isScalar } from 'yaml';
import type { RebootSpec } from '../types.ts';
import { REBOOT_KEYS, REBOOT_WHEN_VALUES } from './plan-keys.ts';
import type { Entry, PlanReader } from './plan-reader.ts';

export const DEFAULT_REBOOT_TIMEOUT = 10 * 60_000;

/** null: no reboot; undefined: a problem was reported. */
export function readReboot(reader: PlanReader, entry: Entry): RebootSpec | null | undefined {
  if (isScalar(entry.value)) {
    const when = reader.oneOf(entry, REBOOT_WHEN_VALUES);
    if (when === undefined) return undefined;
    return when === 'never' ? null : { when, timeout: DEFAULT_REBOOT_TIMEOUT };
  }
  const where = 'in reboot';
  const fields = reader.fields(entry, '"reboot"', where, REBOOT_KEYS);
  if (fields === null) return undefined;
  const whenEntry = reader.require(fields, 'when', where, entry.keyNode);
  const when = whenEntry === undefined ? undefined : reader.oneOf(whenEntry, REBOOT_WHEN_VALUES);
  const beforeEntry = fields.get('before');
  const before = beforeEntry === undefined ? undefined : reader.argv(beforeEntry);
  const afterEntry = fields.get('after');
  const after = afterEntry === undefined ? undefined : reader.argv(afterEntry);
  const timeoutEntry = fields.get('timeout');
  const timeout = timeoutEntry === undefined ? DEFAULT_REBOOT_TIMEOUT : reader.duration(timeoutEntry, true);
  if (when === undefined || timeout === undefined || (beforeEntry !== undefined && before === undefined) || (afterEntry !== undefined && after === undefined)) return undefined;
  if (when === 'never') return null;
  return { when, timeout, ...(before ? { before } : {}), ...(after ? { after } : {}) };
}

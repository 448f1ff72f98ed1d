// The keys a plan file may use, in one place: the parser rejects anything else, error messages
// list them, and a test holds schema/plan.schema.json to the same lists.
import type { ChangeKind, CheckKind } from '../types.ts';

export const PLAN_KEYS = [
  'name',
  'change',
  'hosts',
  'waves',
  'checks',
  'checkInterval',
  'budget',
  'onFailure',
  'preflight',
  'confirmWindow',
  'ineligible',
  'queue',
  'distinctApprover',
  'gates',
  'notify',
  'reboot',
  'window',
  'blackout',
  'emergency',
] as const;

export const REBOOT_KEYS = ['when', 'before', 'after', 'timeout'] as const;
export const REBOOT_WHEN_VALUES = ['never', 'ifRequired', 'always'] as const;

export const HOSTS_KEYS = ['match'] as const;

export const CHANGE_KIND_KEYS: Readonly<Record<ChangeKind, readonly string[]>> = {
  command: ['apply', 'rollback', 'timeout'],
  apt: ['install', 'remove', 'timeout', 'maxListAge'],
  file: ['path', 'content', 'mode', 'owner', 'group', 'reload', 'timeout'],
};

export const WAVE_KEYS = ['name', 'match', 'size', 'parallel', 'spread', 'each', 'limit', 'bake', 'approve', 'steps', 'window', 'blackout', 'gates'] as const;

export const GATE_KEYS = ['name', 'prometheus', 'query', 'below', 'above', 'window', 'minSamples', 'interval', 'timeout'] as const;

export const NOTIFY_KEYS = ['url', 'secretEnv', 'format', 'events'] as const;

/** Keys of a `checks` item besides its one kind key. */
export const CHECK_ITEM_KEYS = ['name', 'timeout', 'afterRollback'] as const;

export const CHECK_KINDS: readonly CheckKind[] = [
  'command',
  'tcp',
  'http',
  'systemdUnitActive',
  'ipRulesPreserved',
  'routesPreserved',
];

/** Keys inside each check kind's value; null: the value is an argv list, not a mapping. */
export const CHECK_KIND_KEYS: Readonly<Record<CheckKind, readonly string[] | null>> = {
  command: null,
  tcp: ['host', 'port', 'timeout'],
  http: ['url', 'status', 'bodyMatch', 'timeout'],
  systemdUnitActive: ['unit', 'timeout'],
  ipRulesPreserved: ['timeout'],
  routesPreserved: ['timeout'],
};

export const BUDGET_KEYS = ['failedPerWave', 'failedTotal', 'silentAfter'] as const;

export const ON_FAILURE_VALUES = ['rollback', 'halt'] as const;
/** What to do with a targeted host that is offline or cannot run the plan when its wave starts. */
export const INELIGIBLE_VALUES = ['skip', 'fail'] as const;
export const PREFLIGHT_VALUES = ['block', 'warn'] as const;

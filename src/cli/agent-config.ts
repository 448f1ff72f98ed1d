// `sluice agent --config FILE` (the package's unit passes /etc/sluice/agent.env): the agent reads
// its settings itself, instead of systemd's EnvironmentFile, whose rules keep everything after "="
// as the value, so `SLUICE_ENROLL_TOKEN=sle_... # prod` sent "sle_... # prod" as the token.
//
// Format: one KEY=VALUE a line, blank lines, and comments starting with # on their own line or
// after a value (whitespace, then #). A value may be quoted ("..." or '...', no escapes) to keep a
// # or spaces in it. Unknown keys, a line without "=", an unterminated quote or a key given twice
// are errors naming FILE:LINE; the file is never half-applied.
import { ValidationError } from '../core/errors.ts';
import type { AgentFlags } from './agent-command.ts';

/** Keys and the agent flag each one sets. */
const KEYS = {
  SLUICE_SERVER: 'server',
  SLUICE_ENROLL_TOKEN: 'token',
  SLUICE_ENROLL_TOKEN_FILE: 'enrollTokenFile',
  SLUICE_CA_FILE: 'caFile',
  SLUICE_NAME: 'name',
  SLUICE_LABELS: 'labels',
  SLUICE_ALLOW: 'allow',
  SLUICE_STATE_DIR: 'stateDir',
  SLUICE_HEARTBEAT: 'heartbeat',
  SLUICE_FILE_DIRS: 'fileDir',
  SLUICE_DRIFT: 'drift',
  SLUICE_DRIFT_NETWORKD: 'driftNetworkd',
  SLUICE_DRIFT_INTERVAL: 'driftInterval',
  SLUICE_DRIFT_ROUTING: 'driftRouting',
  SLUICE_ROTATE_EVERY: 'rotateEvery',
  SLUICE_REBOOT_COMMAND: 'rebootCommand',
  SLUICE_REBOOT_REQUIRED_FILE: 'rebootRequiredFile',
} as const satisfies Record<string, keyof AgentFlags>;

type Key = keyof typeof KEYS;
type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export const CONFIG_KEYS = Object.keys(KEYS) as Key[];

/** The file's settings as agent flags. Throws ValidationError "FILE:LINE: ..." for the first problem. */
export function parseAgentConfig(text: string, file: string): AgentFlags {
  const flags: Mutable<AgentFlags> = {};
  const seen = new Map<string, number>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const where = `${file}:${i + 1}`;
    const line = lines[i]!.replace(/\r$/, '').trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m) throw new ValidationError(`${where}: expected KEY=VALUE (or a # comment), got ${JSON.stringify(line.slice(0, 60))}`);
    const key = m[1]!;
    const value = readValue(m[2]!, where, key);
    if (key === 'SLUICE_AGENT_ARGS') {
      throw new ValidationError(
        `${where}: SLUICE_AGENT_ARGS is for the old unit's command line; with --config give each setting its own key (${CONFIG_KEYS.join(', ')})`,
      );
    }
    if (!(key in KEYS)) throw new ValidationError(`${where}: unknown key ${key} (known: ${CONFIG_KEYS.join(', ')})`);
    const before = seen.get(key);
    if (before !== undefined) throw new ValidationError(`${where}: ${key} is already set on line ${before}`);
    seen.set(key, i + 1);
    const flag = KEYS[key as Key];
    if (value === '') continue; // KEY= : left unset, as if the line were not there
    switch (flag) {
      case 'token':
        if (/\s/.test(value)) throw new ValidationError(`${where}: ${key} contains whitespace: tokens never do`);
        flags.token = value;
        break;
      case 'fileDir':
        flags.fileDir = value.split(':').filter((d) => d !== '');
        break;
      case 'driftNetworkd':
        if (value !== 'true' && value !== 'false') throw new ValidationError(`${where}: ${key} must be true or false, got ${JSON.stringify(value)}`);
        flags.driftNetworkd = value === 'true';
        break;
      default:
        flags[flag] = value;
    }
  }
  return flags;
}

/** The value after "=": quoted (kept as it is) or bare (an inline " # comment" is dropped). */
function readValue(raw: string, where: string, key: string): string {
  const q = raw[0];
  if (q === '"' || q === "'") {
    const end = raw.indexOf(q, 1);
    if (end < 0) throw new ValidationError(`${where}: ${key}: the quoted value has no closing ${q}`);
    const rest = raw.slice(end + 1).trim();
    if (rest !== '' && !rest.startsWith('#')) throw new ValidationError(`${where}: ${key}: unexpected ${JSON.stringify(rest.slice(0, 30))} after the quoted value`);
    return raw.slice(1, end);
  }
  const hash = raw.search(/(^|\s)#/);
  return (hash < 0 ? raw : raw.slice(0, hash)).trim();
}

/** Command-line flags win over the file; --file-dir on the command line replaces the file's list. */
export function mergeAgentFlags(fromFile: AgentFlags, fromCli: AgentFlags): AgentFlags {
  const merged: Mutable<AgentFlags> = { ...fromFile };
  for (const [k, v] of Object.entries(fromCli) as [keyof AgentFlags, never][]) if (v !== undefined) merged[k] = v;
  return merged;
}

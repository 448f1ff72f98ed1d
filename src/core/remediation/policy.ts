// `sluice server --remediation-policy FILE`: the guard's budgets in YAML, checked whole before the
// server starts (a typo must not leave the fleet with no short circuit, or with a wrong one).
import { parse } from 'yaml';
import { ValidationError } from '../errors.ts';
import { parseDuration } from '../plan/duration.ts';
import { DEFAULT_REMEDIATION_POLICY, type RemediationPolicy, type ScopePolicy } from './guard.ts';

const LABEL = /^[A-Za-z0-9._/-]{1,63}$/;
const KEYS = ['window', 'dataLabel', 'scopes'];
const SCOPE_KEYS = ['label', 'maxShare', 'dataMaxShare'];

function share(value: unknown, where: string): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\d+(\.\d+)?%$/.test(value.trim()) ? Number(value.trim().slice(0, -1)) / 100 : NaN;
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new ValidationError(`${where} must be a share: 0.2 or "20%" (0 to 100%), got ${JSON.stringify(value)}`);
  return n;
}

/** The policy a file describes; what it leaves out keeps the default. */
export function parseRemediationPolicy(text: string, file: string): RemediationPolicy {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new ValidationError(`${file}: not YAML: ${(err as Error).message}`);
  }
  if (doc === null || doc === undefined) return DEFAULT_REMEDIATION_POLICY;
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ValidationError(`${file}: a mapping with ${KEYS.join(', ')}`);
  const o = doc as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!KEYS.includes(k)) throw new ValidationError(`${file}: unknown key "${k}" (known: ${KEYS.join(', ')})`);
  let windowMs = DEFAULT_REMEDIATION_POLICY.windowMs;
  if (o.window !== undefined) {
    const ms = typeof o.window === 'string' ? parseDuration(o.window) : null;
    if (ms === null || ms <= 0) throw new ValidationError(`${file}: window must be a duration like "10m", got ${JSON.stringify(o.window)}`);
    windowMs = ms;
  }
  let dataLabel = DEFAULT_REMEDIATION_POLICY.dataLabel;
  if (o.dataLabel !== undefined) {
    const m = typeof o.dataLabel === 'string' ? /^([A-Za-z0-9._/-]{1,63})=(.{1,253})$/.exec(o.dataLabel) : null;
    if (!m) throw new ValidationError(`${file}: dataLabel must be KEY=VALUE (data=local), got ${JSON.stringify(o.dataLabel)}`);
    dataLabel = { key: m[1]!, value: m[2]! };
  }
  let scopes: readonly ScopePolicy[] = DEFAULT_REMEDIATION_POLICY.scopes;
  if (o.scopes !== undefined) {
    if (!Array.isArray(o.scopes) || o.scopes.length === 0 || o.scopes.length > 20) throw new ValidationError(`${file}: scopes must be a list of 1 to 20 scopes`);
    scopes = o.scopes.map((raw, i) => {
      const where = `${file}: scopes[${i}]`;
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ValidationError(`${where} must be a mapping with ${SCOPE_KEYS.join(', ')}`);
      const s = raw as Record<string, unknown>;
      for (const k of Object.keys(s)) if (!SCOPE_KEYS.includes(k)) throw new ValidationError(`${where}: unknown key "${k}" (known: ${SCOPE_KEYS.join(', ')})`);
      if (typeof s.label !== 'string' || !LABEL.test(s.label)) throw new ValidationError(`${where}.label must be a label key (zone) or "fleet"`);
      const maxShare = share(s.maxShare, `${where}.maxShare`);
      const dataMaxShare = s.dataMaxShare === undefined ? maxShare : share(s.dataMaxShare, `${where}.dataMaxShare`);
      return { label: s.label === 'fleet' ? null : s.label, maxShare, dataMaxShare };
    });
  }
  return { windowMs, dataLabel, scopes };
}

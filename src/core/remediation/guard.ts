// The remediation guard's decision, pure: may an auto-healer replace, reboot or delete this host
// now? Denied when Sluice is working on the host (its rollout rolls back by itself), when an
// operator froze the fleet, or when too much of a scope the host is in (its zone, region, provider,
// the fleet) is already unhealthy or was remediated within the window: the mass-failure short
// circuit (Cluster API's maxUnhealthy, Karpenter's 20%), across every auto-healer that asks.
// Hosts labelled as holding local data get a stricter share.

export const REMEDIATION_ACTIONS = ['replace', 'reboot', 'delete', 'repair'] as const;
export type RemediationAction = (typeof REMEDIATION_ACTIONS)[number];

export interface ScopePolicy {
  /** The label the scope groups by (`zone`); null: the whole fleet. */
  readonly label: string | null;
  /** Largest share of the scope's hosts that may be unhealthy or remediated within the window. */
  readonly maxShare: number;
  /** The same for a data-bearing host. */
  readonly dataMaxShare: number;
}

export interface RemediationPolicy {
  readonly windowMs: number;
  readonly scopes: readonly ScopePolicy[];
  /** A host with this label value holds data on local disks. */
  readonly dataLabel: { readonly key: string; readonly value: string };
}

export const DEFAULT_REMEDIATION_POLICY: RemediationPolicy = {
  windowMs: 10 * 60_000,
  scopes: [
    { label: 'zone', maxShare: 0.2, dataMaxShare: 0.05 },
    { label: 'region', maxShare: 0.1, dataMaxShare: 0.02 },
    { label: 'provider', maxShare: 0.1, dataMaxShare: 0.02 },
    { label: null, maxShare: 0.1, dataMaxShare: 0.02 },
  ],
  dataLabel: { key: 'data', value: 'local' },
};

/** What one scope looks like right now. */
export interface ScopeCount {
  /** `zone=us-east-1a`, or `fleet`. */
  readonly scope: string;
  readonly size: number;
  /** Hosts of the scope offline now or allowed a remediation within the window (each counted once), this host included. */
  readonly affected: number;
}

export interface RemediationInput {
  readonly host: string;
  readonly known: boolean;
  readonly dataBearing: boolean;
  /** Sluice's own work on the host, if any: a rollout step the agent is running. */
  readonly inRollout: { readonly id: string; readonly action: string } | null;
  /** A fleet-wide freeze, if one is on. */
  readonly freeze: { readonly reason: string } | null;
  /** An operator's override covering the host, if one is active. */
  readonly override: { readonly id: string; readonly scope: string; readonly by: string; readonly reason: string } | null;
  /** In the policy's scope order; scopes the host has no label for are left out. */
  readonly counts: readonly (ScopeCount & { readonly maxShare: number })[];
}

export interface RemediationDecision {
  readonly allow: boolean;
  readonly reason: string;
  /** The scope that decided a budget denial. */
  readonly scope: string | null;
  readonly affected: number | null;
  readonly limit: number | null;
}

/** Hosts of a scope of `size` that may be affected: the share, and always at least one (a host failing alone). */
export function scopeLimit(size: number, maxShare: number): number {
  return Math.max(1, Math.floor(size * maxShare + 1e-9));
}

const pct = (x: number) => `${Math.round(x * 1000) / 10}%`;

export function decideRemediation(input: RemediationInput): RemediationDecision {
  const none = { scope: null, affected: null, limit: null };
  if (!input.known) return { allow: false, reason: `no host named ${input.host} is enrolled; the guard only answers for hosts it knows`, ...none };
  if (input.override) {
    return { allow: true, reason: `allowed by override ${input.override.id} on ${input.override.scope} (${input.override.by}: ${input.override.reason})`, ...none };
  }
  if (input.freeze) return { allow: false, reason: `the fleet is frozen (${input.freeze.reason}); remediation waits with every other change`, ...none };
  if (input.inRollout) {
    return {
      allow: false,
      reason: `${input.host} is in rollout ${input.inRollout.id} (${input.inRollout.action}): Sluice rolls it back itself if it fails; replacing it would destroy the way back`,
      ...none,
    };
  }
  for (const c of input.counts) {
    const limit = scopeLimit(c.size, c.maxShare);
    if (c.affected > limit) {
      return {
        allow: false,
        reason: `mass failure in ${c.scope}: ${c.affected} of ${c.size} hosts are unhealthy or were remediated within the window, over the limit of ${limit} (${pct(c.maxShare)}${input.dataBearing ? ', data-bearing host' : ''}); remediation stops until the scope recovers or an operator overrides`,
        scope: c.scope,
        affected: c.affected,
        limit,
      };
    }
  }
  const widest = input.counts.at(-1);
  return {
    allow: true,
    reason: widest ? `within budget: ${widest.affected} of ${widest.size} in ${widest.scope} affected (limit ${scopeLimit(widest.size, widest.maxShare)})` : 'within budget',
    ...none,
  };
}

/** The scopes of a host under a policy: its label values, narrowest first, then the fleet. */
export function scopesOf(labels: Readonly<Record<string, string>>, policy: RemediationPolicy, dataBearing: boolean): { scope: string; labels: Record<string, string> | null; maxShare: number }[] {
  const out: { scope: string; labels: Record<string, string> | null; maxShare: number }[] = [];
  for (const s of policy.scopes) {
    const maxShare = dataBearing ? s.dataMaxShare : s.maxShare;
    if (s.label === null) {
      out.push({ scope: 'fleet', labels: null, maxShare });
      continue;
    }
    const value = labels[s.label];
    if (value === undefined) continue;
    out.push({ scope: `${s.label}=${value}`, labels: { [s.label]: value }, maxShare });
  }
  return out;
}

export function isDataBearing(labels: Readonly<Record<string, string>>, policy: RemediationPolicy): boolean {
  return labels[policy.dataLabel.key] === policy.dataLabel.value;
}

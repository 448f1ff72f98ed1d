// Audit-worthy actions of enrollment and host identity go through recordIdentityAudit: refused
// re-enrollments (a takeover attempt), resets, enrollments, rotations, scoped-token changes and
// refused label claims. Today it writes one structured log line (`audit: true`); the audit_log
// table (tokens branch) plugs in here, so the call sites stay as they are.
import type { AppDeps } from './app.ts';

export type IdentityAuditAction =
  | 'host.enrolled'
  | 'host.enroll_refused'
  | 'host.reset'
  | 'host.credential_rotated'
  | 'host.labels_refused'
  | 'enroll_token.created'
  | 'enroll_token.revoked';

export interface IdentityAuditEntry {
  readonly action: IdentityAuditAction;
  /** Who did it: the operator's name, `host:NAME`, or `enroll:TOKEN-NAME` / `enroll:bootstrap`. */
  readonly actor: string;
  /** What it was done to: a host name or an enrollment token's name. */
  readonly target: string;
  /** Refused attempts are false. */
  readonly ok: boolean;
  /** The source address of the request. */
  readonly source?: string;
  /** Never a secret: names, ids, labels, reasons. */
  readonly detail?: Record<string, unknown>;
}

/** Records one audit entry (never throws: an audit trouble does not fail the request it records). */
export async function recordIdentityAudit(deps: Pick<AppDeps, 'log' | 'now'>, entry: IdentityAuditEntry): Promise<void> {
  try {
    const line = { audit: true, at: deps.now(), ...entry };
    if (entry.ok) deps.log.info(line, `audit ${entry.action}`);
    else deps.log.warn(line, `audit ${entry.action}`);
  } catch {
    // logging must not fail the request
  }
}

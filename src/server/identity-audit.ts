// Audit-worthy actions of enrollment and host identity go through recordIdentityAudit: refused
// re-enrollments (a takeover attempt), resets, enrollments, rotations, scoped-token changes and
// refused label claims. Each goes to the audit_log table (with the principal and the source of the
// request) and to the log; the request's own generic entry (auditRequests) is then not written.
import type { Context } from 'hono';
import type { AppDeps, AppEnv } from './app.ts';

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
export async function recordIdentityAudit(deps: Pick<AppDeps, 'log' | 'now' | 'store'>, entry: IdentityAuditEntry, c?: Context<AppEnv>): Promise<void> {
  const at = deps.now();
  try {
    const line = { audit: true, at, ...entry };
    if (entry.ok) deps.log.info(line, `audit ${entry.action}`);
    else deps.log.warn(line, `audit ${entry.action}`);
  } catch {
    // logging must not fail the request
  }
  const principal = c?.get('principal') as AppEnv['Variables']['principal'] | undefined;
  try {
    await deps.store.appendAudit({
      at,
      actor: entry.actor,
      role: principal?.role ?? null,
      tokenId: principal?.tokenId ?? null,
      action: entry.action,
      target: entry.target,
      sourceIp: entry.source ?? null,
      result: entry.ok ? 'ok' : 'denied',
      detail: entry.detail ?? null,
    });
    // This request is audited: the generic after-the-handler entry would say the same, less well.
    c?.set('audit', { written: true, entry: () => { throw new Error('already written'); } });
  } catch (err) {
    deps.log.error({ action: entry.action, err: err instanceof Error ? err.message : String(err) }, 'writing an audit entry failed');
  }
}

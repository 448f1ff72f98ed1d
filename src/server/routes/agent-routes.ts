// Routes agents call: enroll (enrollment token), then heartbeat, assignments (long-poll) and
// reports with the host's own credential.
import { createHash } from 'node:crypto';
import { Hono } from 'hono';
import type { z } from 'zod';
import type { RolloutEvent } from '../../core/rollout/types.ts';
import { SluiceError } from '../../core/errors.ts';
import { HostNameTakenError, type HostAssignment, type HostRow } from '../../store/store.ts';
import { recordIdentityAudit } from '../identity-audit.ts';
import { labelClaimProblem } from '../label-claims.ts';
import { sourceOf, type RateLimiter } from '../rate-limit.ts';
import { type AppDeps, type AppEnv, clientGone, readBody, readQuery } from '../app.ts';
import { requireEnrollToken, requireHost } from '../auth.ts';
import { assignmentsQuery, enrollBody, heartbeatBody, reportsBody } from '../schemas.ts';
import { hashSecret, newSecret } from '../tokens.ts';
import { hostInfoOf } from '../../engine/rollout-driver.ts';
import { Batcher } from '../batch.ts';

export function assignmentView(a: HostAssignment): Record<string, unknown> {
  return {
    rolloutId: a.rolloutId,
    rolloutName: a.rolloutName,
    attempt: a.attempt,
    action: a.action,
    change: a.plan.change,
    checks: a.plan.checks,
    checkInterval: a.plan.checkInterval,
    confirmWindow: a.plan.confirmWindow,
    preflight: a.plan.preflight,
    ...(a.plan.reboot ? { reboot: a.plan.reboot } : {}),
  };
}

function versionOf(list: readonly HostAssignment[]): string {
  const key = list.map((a) => `${a.rolloutId}:${a.attempt}:${a.action}`).sort().join('|');
  return createHash('sha1').update(key).digest('hex').slice(0, 16);
}

function sameLabels(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

/** One batcher per store: the assignment reads of concurrent polls go out as one statement. */
const batchers = new WeakMap<object, Batcher<readonly HostAssignment[]>>();
function assignmentReads(deps: AppDeps): Batcher<readonly HostAssignment[]> {
  let b = batchers.get(deps.store);
  if (!b) batchers.set(deps.store, (b = new Batcher<readonly HostAssignment[]>((hosts) => deps.store.assignmentsForHosts(hosts), [])));
  return b;
}

/** Credential reads that bypass the credential cache (one statement per batch of concurrent polls). */
const credentialReads = new WeakMap<object, Batcher<HostRow | null>>();
function freshCredentials(deps: AppDeps): Batcher<HostRow | null> {
  let b = credentialReads.get(deps.store);
  if (!b) credentialReads.set(deps.store, (b = new Batcher<HostRow | null>((hashes) => deps.store.hostsByCredentialHashes(hashes, deps.now()), null)));
  return b;
}

/** How long the credential a rotation replaced stays valid, unless the new one is used first. */
export const ROTATION_GRACE_MS = 10 * 60_000;

interface AssignmentsRead {
  readonly list: readonly HostAssignment[];
  readonly version: string;
  readonly generation: string;
}

/**
 * A host's assignments: from the store, or from the hub's cache when nothing was announced for the
 * host since the last read. The generation is taken before the read, so a change committed
 * between the read and a wait is not missed.
 */
export async function readAssignments(deps: AppDeps, host: string): Promise<AssignmentsRead> {
  const generation = deps.hub.generation(host);
  const hit = deps.hub.cached<AssignmentsRead>(host, generation);
  if (hit) return hit;
  const list = await assignmentReads(deps).load(host);
  const read: AssignmentsRead = { list, version: versionOf(list), generation };
  deps.hub.remember(host, generation, read);
  return read;
}

/** The interval the heartbeat answer asks of this host. */
export function heartbeatIntervalFor(deps: AppDeps, host: string): number {
  return deps.driver.hasWorkInFlight(host) ? Math.max(500, Math.floor(deps.heartbeatMs / 2)) : deps.heartbeatMs;
}

export type HeartbeatBody = z.output<typeof heartbeatBody>;

/**
 * Why the labels a heartbeat claims are refused (the host's enrollment token constrains them), or
 * null. Labels equal to the host's are never refused.
 */
export function heartbeatLabelProblem(host: HostRow, body: HeartbeatBody): string | null {
  if (!body.labels || sameLabels(body.labels, host.labels)) return null;
  return labelClaimProblem(body.labels, host.labelConstraints);
}

/**
 * A heartbeat of an authenticated host whose labels were not refused (heartbeatLabelProblem): the
 * one implementation behind the Hono route and the fast path (agent-fast-path.ts). Liveness into
 * memory, labels and facts written only when they changed, the engine told; the answer carries
 * the cadence. Throws only before anything but liveness was recorded (a failed labels or facts
 * write), so a caller may run it again.
 */
export async function applyHeartbeat(deps: AppDeps, host: HostRow, body: HeartbeatBody): Promise<{ ok: true; heartbeatMs: number }> {
  await deps.store.recordHeartbeat(host.name, {
    now: deps.now(),
    ...(body.labels ? { labels: body.labels } : {}),
    ...(body.facts ? { facts: body.facts } : {}),
  });
  deps.metrics.heartbeats.inc();
  await deps.driver.heartbeat(host.name);
  if (body.labels && !sameLabels(body.labels, host.labels)) {
    await deps.driver.hostSeen({ name: host.name, labels: body.labels });
  }
  // The agent's cadence (docs/agent.md): the server's interval when idle, half of it (at least
  // 500 ms) while the host has work in flight, so its silence is noticed sooner.
  return { ok: true, heartbeatMs: heartbeatIntervalFor(deps, host.name) };
}

export function agentRoutes(deps: AppDeps, limiter: RateLimiter): Hono<AppEnv> {
  const r = new Hono<AppEnv>();

  r.post('/enroll', limiter.enroll, requireEnrollToken(deps), async (c) => {
    const body = await readBody(c, enrollBody);
    c.set('auditTarget', body.name); // the audit log names the host enrolled
    const scoped = c.get('enrollToken');
    const actor = c.get('actor');
    const source = sourceOf(c);
    if (scoped) {
      const problem = labelClaimProblem(body.labels, scoped.labels);
      if (problem) {
        await recordIdentityAudit(deps, { action: 'host.labels_refused', actor, target: body.name, ok: false, source, detail: { labels: body.labels, reason: problem } }, c);
        throw new SluiceError('forbidden', `enrollment of ${body.name} refused: ${problem}`);
      }
    }
    const credential = newSecret('shc');
    const now = deps.now();
    let row: HostRow;
    try {
      row = await deps.store.enrollHost({
        name: body.name,
        labels: body.labels,
        facts: body.facts ?? {},
        credentialHash: hashSecret(credential),
        now,
        presentedHash: body.currentCredential !== undefined ? hashSecret(body.currentCredential) : null,
        enrollTokenId: scoped?.id ?? null,
        labelConstraints: scoped && Object.keys(scoped.labels).length > 0 ? scoped.labels : null,
      });
    } catch (err) {
      if (err instanceof HostNameTakenError) {
        // Someone holding an enrollment token tried to take over an enrolled name: nothing changed.
        await recordIdentityAudit(deps, {
          action: 'host.enroll_refused',
          actor,
          target: body.name,
          ok: false,
          source,
          detail: { reason: body.currentCredential !== undefined ? 'the presented credential is not the host\'s' : 'no current credential presented' },
        }, c);
      }
      throw err;
    }
    const reenrolled = row.enrolledAt !== now;
    // A poll held with the replaced credential answers now (401), not at the end of its wait.
    if (reenrolled) deps.hub.notify([row.name]);
    await recordIdentityAudit(deps, { action: 'host.enrolled', actor, target: row.name, ok: true, source, detail: { labels: row.labels, reenrolled } }, c);
    await deps.driver.hostSeen(hostInfoOf(row));
    limiter.trust(credential);
    return c.json({ host: row.name, credential });
  });

  r.post('/rotate', requireHost(deps), async (c) => {
    const host = c.get('host');
    const credential = newSecret('shc');
    const now = deps.now();
    const graceUntil = now + (deps.rotationGraceMs ?? ROTATION_GRACE_MS);
    const done = await deps.store.rotateHostCredential({ name: host.name, presentedHash: c.get('credentialHash'), newHash: hashSecret(credential), graceUntil, now });
    if (!done) throw new SluiceError('unauthenticated', 'this credential is no longer valid; enroll again');
    await recordIdentityAudit(deps, { action: 'host.credential_rotated', actor: c.get('actor'), target: host.name, ok: true, source: sourceOf(c), detail: { graceUntil } }, c);
    limiter.trust(credential);
    return c.json({ host: host.name, credential, previousValidUntil: graceUntil });
  });

  r.post('/heartbeat', requireHost(deps), async (c) => {
    const host = c.get('host');
    const body = await readBody(c, heartbeatBody);
    const problem = heartbeatLabelProblem(host, body);
    if (problem !== null) {
      await recordIdentityAudit(deps, { action: 'host.labels_refused', actor: c.get('actor'), target: host.name, ok: false, source: sourceOf(c), detail: { labels: body.labels, reason: problem } }, c);
      throw new SluiceError('forbidden', `labels refused: ${problem}`);
    }
    return c.json(await applyHeartbeat(deps, host, body));
  });

  r.get('/assignments', requireHost(deps), async (c) => {
    const host = c.get('host');
    const q = readQuery(c, assignmentsQuery);
    // Taken before the read: a change committed between the read and the wait is not missed.
    let read = await readAssignments(deps, host.name);
    if (q.version === read.version && q.waitMs > 0) {
      await deps.hub.wait(host.name, q.waitMs, clientGone(c), read.generation);
      read = await readAssignments(deps, host.name);
      // The host may have been reset, re-enrolled or rotated away while the poll waited: the
      // credential is checked again (through the credential cache, which a reset or rotation
      // through this process clears at once).
      const again = await deps.store.hostByCredentialHash(c.get('credentialHash'));
      if (!again || again.name !== host.name) throw new SluiceError('unauthenticated', 'this host credential was reset or replaced while waiting; enroll again');
    }
    if (read.version !== q.version) {
      // New work is never handed to a credential that is no longer valid: checked in the store
      // itself (another replica may have reset the host within the cache's lifetime).
      const fresh = await freshCredentials(deps).load(c.get('credentialHash'));
      if (!fresh || fresh.name !== host.name) throw new SluiceError('unauthenticated', 'this host credential was reset or replaced; enroll again');
    }
    return c.json({ version: read.version, assignments: read.list.map(assignmentView) });
  });

  r.post('/reports', requireHost(deps), async (c) => {
    const host = c.get('host');
    const body = await readBody(c, reportsBody);
    const accepted: string[] = [];
    // A host writes only to rollouts it is part of: a report for another rollout refuses the
    // batch (403) before anything of it is processed or logged.
    const checked = new Map<string, boolean>();
    for (const report of body.reports) {
      if (checked.has(report.rolloutId)) continue;
      let member = true;
      try {
        member = await deps.driver.hostInRollout(report.rolloutId, host.name);
      } catch (err) {
        if (!(err instanceof SluiceError && err.code === 'not_found')) throw err;
      }
      checked.set(report.rolloutId, member);
      if (!member) {
        deps.log.warn({ host: host.name, rolloutId: report.rolloutId }, 'report refused: the host is not part of the rollout');
        throw new SluiceError('forbidden', `host ${host.name} is not part of rollout ${report.rolloutId}: it cannot report to it`);
      }
    }
    for (const report of body.reports) {
      const base = { host: host.name, attempt: report.attempt, ok: report.ok, ...(report.message !== undefined ? { message: report.message } : {}) };
      const event: RolloutEvent =
        report.kind === 'apply'
          ? { type: 'applyResult', ...base }
          : report.kind === 'check'
            ? { type: 'checkResult', ...base }
            : report.kind === 'confirm'
              ? { type: 'confirmResult', ...base }
              : { type: 'rollbackResult', ...base };
      try {
        await deps.driver.dispatch(report.rolloutId, event, { reportId: report.id, reportHost: host.name });
        accepted.push(report.id);
      } catch (err) {
        if (err instanceof SluiceError && (err.code === 'not_found' || err.code === 'conflict' || err.code === 'invalid')) {
          // Nothing will ever make this report apply: acknowledge it so the agent stops resending.
          deps.log.warn({ host: host.name, reportId: report.id, rolloutId: report.rolloutId, reason: err.message }, 'report ignored');
          accepted.push(report.id);
        } else {
          // Store trouble: leave it unacknowledged; the agent keeps it in its outbox and retries.
          deps.log.error({ host: host.name, reportId: report.id, err: String(err) }, 'report not processed');
          break;
        }
      }
    }
    return c.json({ accepted });
  });

  return r;
}

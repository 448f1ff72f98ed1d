// Routes agents call: enroll (enrollment token), then heartbeat, assignments (long-poll) and
// reports with the host's own credential.
import { createHash } from 'node:crypto';
import { Hono } from 'hono';
import type { RolloutEvent } from '../../core/rollout/types.ts';
import { SluiceError } from '../../core/errors.ts';
import type { HostAssignment } from '../../store/store.ts';
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
async function readAssignments(deps: AppDeps, host: string): Promise<AssignmentsRead> {
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

export function agentRoutes(deps: AppDeps): Hono<AppEnv> {
  const r = new Hono<AppEnv>();

  r.post('/enroll', requireEnrollToken(deps), async (c) => {
    const body = await readBody(c, enrollBody);
    c.set('auditTarget', body.name); // the audit log names the host enrolled
    const credential = newSecret('shc');
    const now = deps.now();
    const row = await deps.store.enrollHost({
      name: body.name,
      labels: body.labels,
      facts: body.facts ?? {},
      credentialHash: hashSecret(credential),
      now,
    });
    deps.log.info({ host: row.name, labels: row.labels }, 'host enrolled');
    await deps.driver.hostSeen(hostInfoOf(row));
    return c.json({ host: row.name, credential });
  });

  r.post('/heartbeat', requireHost(deps), async (c) => {
    const host = c.get('host');
    const body = await readBody(c, heartbeatBody);
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
    return c.json({ ok: true, heartbeatMs: heartbeatIntervalFor(deps, host.name) });
  });

  r.get('/assignments', requireHost(deps), async (c) => {
    const host = c.get('host');
    const q = readQuery(c, assignmentsQuery);
    // Taken before the read: a change committed between the read and the wait is not missed.
    let read = await readAssignments(deps, host.name);
    if (q.version === read.version && q.waitMs > 0) {
      await deps.hub.wait(host.name, q.waitMs, clientGone(c), read.generation);
      read = await readAssignments(deps, host.name);
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

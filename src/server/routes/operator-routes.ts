// Routes operators call (viewer reads; operator starts and steers; approver approves): start and steer rollouts, read their waves,
// steps and event log (host lists: fleet-routes.ts).
import { Hono, type Context } from 'hono';
import { checkPlan } from '../../core/plan/parse-plan.ts';
import { NotFoundError, SluiceError, ValidationError } from '../../core/errors.ts';
import type { StoredRollout, EventRow } from '../../store/store.ts';
import { FINAL_ROLLOUT_STATES, type Plan } from '../../core/types.ts';
import { type AppDeps, type AppEnv, readBody, readQuery } from '../app.ts';
import { requireRole, type Principal, type Role } from '../auth.ts';
import { auditIntent } from '../audit.ts';
import { createRolloutBody, eventsQuery } from '../schemas.ts';
import { resolveRolloutRef } from '../rollout-ref.ts';
import { countRollbackHosts, isUnconfirmedRollback } from '../../core/rollout/rollback-targets.ts';
import { loadRolloutForView, withStepCounts } from '../rollout-summary.ts';

export function rolloutView(stored: StoredRollout): Record<string, unknown> {
  const { rollout, plan } = stored;
  const byWave = new Map<number, StoredRollout['steps'][number][]>();
  for (const s of stored.steps) {
    let list = byWave.get(s.waveIndex);
    if (!list) byWave.set(s.waveIndex, (list = []));
    list.push(s);
  }
  return {
    id: rollout.id,
    name: rollout.name,
    state: rollout.state,
    reason: rollout.reason,
    createdAt: rollout.createdAt,
    updatedAt: rollout.updatedAt,
    failedTotal: rollout.failedTotal,
    revertedHosts: rollout.revertedHosts ?? 0,
    skippedHosts: rollout.skippedHosts ?? 0,
    heldReason: rollout.heldReason ?? null,
    waiting: rollout.waiting ?? null,
    unconfirmedRollbacks: stored.steps.filter((s) => isUnconfirmedRollback(s, FINAL_ROLLOUT_STATES.includes(rollout.state))).length,
    rollbackHosts: countRollbackHosts(stored.steps),
    onFailure: plan.onFailure,
    waves: stored.waves.map((w) => {
      const bake = plan.waves[w.specIndex]?.bake ?? 0;
      const hosts = (byWave.get(w.index) ?? []).slice().sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0));
      return {
        name: w.name,
        state: w.state,
        startedAt: w.startedAt,
        bakeStartedAt: w.bakeStartedAt,
        bakeEndsAt: w.bakeStartedAt === null ? null : w.bakeStartedAt + bake,
        finishedAt: w.finishedAt,
        failed: w.failed,
        hosts: hosts.map((s) => ({ name: s.host, state: s.state, message: s.message, updatedAt: s.updatedAt })),
      };
    }),
    pendingWaves: rollout.state === 'running' || rollout.state === 'paused' || rollout.state === 'pending'
      ? plan.waves.slice(rollout.nextSpec).map((w) => w.name)
      : [],
  };
}

function eventView(e: EventRow): Record<string, unknown> {
  return { seq: e.seq, at: e.at, kind: e.kind, message: e.message, host: e.host, wave: e.wave };
}

/** The plan a start or preview request carries, checked: a ValidationError with every problem otherwise. */
async function readValidPlan(c: Context<AppEnv>): Promise<{ plan: Plan; source: string }> {
  const body = await readBody(c, createRolloutBody);
  const file = body.file ?? 'plan.yaml';
  const { plan, problems } = checkPlan(body.plan, file);
  if (!plan || problems.length > 0) {
    throw new ValidationError(`${file}: the plan is invalid (${problems.length} problem${problems.length === 1 ? '' : 's'})`, problems);
  }
  return { plan, source: body.plan };
}

/** Who started the rollout and who approved which wave (the `wave.approved` events). */
async function accountability(deps: AppDeps, id: string): Promise<Record<string, unknown>> {
  const starter = await deps.store.rolloutStarter(id);
  const approved = await deps.store.listApprovals(id, 1000);
  return {
    startedBy: starter ? starter.name : null,
    approvals: approved.map((e) => ({ wave: e.wave, by: typeof e.data?.by === 'string' ? e.data.by : null, at: e.at })),
  };
}

/**
 * A plan with `distinctApprover: true`: the approver must not be who started the rollout, by
 * token name or by owner (two tokens of one person are one person). The bootstrap admin token is
 * one principal (`admin`) whoever holds it.
 */
async function checkDistinctApprover(deps: AppDeps, id: string, approver: Principal): Promise<void> {
  const header = await deps.store.loadRolloutHeader(id);
  if (!header) throw new NotFoundError(`no rollout ${id}`);
  if (header.plan.distinctApprover !== true) return;
  const starter = await deps.store.rolloutStarter(id);
  if (!starter) {
    throw new SluiceError('forbidden', `rollout ${id} requires a distinct approver, and who started it is not recorded; it cannot be approved (abort it and start again)`);
  }
  if (starter.name === approver.name || (starter.owner !== null && starter.owner === approver.owner)) {
    throw new SluiceError(
      'forbidden',
      `rollout ${id} requires a distinct approver (plan: distinctApprover: true): it was started by ${starter.name}${starter.owner ? ` (owner ${starter.owner})` : ''}, and ${approver.name}${approver.owner ? ` (owner ${approver.owner})` : ''} cannot approve it; ask another approver`,
    );
  }
}

export function operatorRoutes(deps: AppDeps): Hono<AppEnv> {
  const r = new Hono<AppEnv>();
  const viewer = requireRole(deps, 'viewer');
  const operator = requireRole(deps, 'operator');

  r.post('/rollouts', operator, async (c) => {
    const { plan, source } = await readValidPlan(c);
    // Said before anything runs: how many targeted hosts cannot take part now, and why.
    const preview = await deps.driver.preview(plan);
    const principal = c.get('principal');
    const record = await deps.driver.createRollout(plan, source, principal.name, {
      startedBy: { name: principal.name, owner: principal.owner },
      audit: auditIntent(deps, c, { plan: plan.name }),
    });
    deps.log.info({ rolloutId: record.id, name: record.name, ineligible: preview.ineligible.count }, 'rollout started');
    return c.json(
      {
        id: record.id,
        name: record.name,
        state: record.state,
        reason: record.reason,
        targeted: preview.targeted,
        ineligible: preview.ineligible,
        ...(record.queuedBehind ? { queuedBehind: record.queuedBehind } : {}),
      },
      201,
    );
  });

  r.post('/rollouts/preview', viewer, async (c) => {
    const { plan } = await readValidPlan(c);
    return c.json(await deps.driver.preview(plan));
  });

  r.get('/rollouts', viewer, async (c) => {
    const list = await deps.store.listRollouts(200);
    return c.json({
      rollouts: list.map((x) => ({ id: x.id, name: x.name, state: x.state, reason: x.reason, createdAt: x.createdAt, updatedAt: x.updatedAt, revertedHosts: x.revertedHosts ?? 0 })),
    });
  });

  r.get('/rollouts/:id', viewer, async (c) => {
    const id = await resolveRolloutRef(deps.store, c.req.param('id')); // full id, unique prefix or `latest`
    // Steps embedded only while the rollout is small; counts always (rollout-summary.ts).
    const loaded = await loadRolloutForView(deps.store, id);
    if (!loaded) throw new NotFoundError(`no rollout ${id}`);
    const view = withStepCounts(rolloutView(loaded.stored), loaded.counted);
    return c.json({ ...view, ...(await accountability(deps, id)) });
  });

  r.get('/rollouts/:id/events', viewer, async (c) => {
    const id = await resolveRolloutRef(deps.store, c.req.param('id')); // full id, unique prefix or `latest`
    const q = readQuery(c, eventsQuery);
    // `rollout events --follow` polls this every second: check existence without loading steps.
    if (!(await deps.store.getRollout(id))) throw new NotFoundError(`no rollout ${id}`);
    const events = await deps.store.listEvents(id, q.after, q.limit);
    return c.json({ events: events.map(eventView) });
  });

  for (const name of ['pause', 'resume', 'abort', 'approve', 'rollback', 'retry'] as const) {
    const need: Role = name === 'approve' ? 'approver' : 'operator';
    r.post(`/rollouts/:id/${name}`, requireRole(deps, need), async (c) => {
      const id = await resolveRolloutRef(deps.store, c.req.param('id')); // full id, unique prefix or `latest`
      const principal = c.get('principal');
      if (name === 'approve') await checkDistinctApprover(deps, id, principal);
      const record = await deps.driver.command(id, name, principal.name, auditIntent(deps, c));
      return c.json({ id: record.id, state: record.state });
    });
  }

  return r;
}

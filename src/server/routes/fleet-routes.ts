// Operator routes for large fleets: hosts and a rollout's steps as keyset-paged, filtered lists,
// and summaries (counts) of both. Every answer is bounded: at most MAX_PAGE rows, and a
// `nextCursor` to fetch the next page with (null on the last one).
import { Hono } from 'hono';
import { NotFoundError, ValidationError } from '../../core/errors.ts';
import type { HostRow, RolloutHeader, StepPageQuery } from '../../store/store.ts';
import type { StepRecord } from '../../core/types.ts';
import type { AppDeps, AppEnv } from '../app.ts';
import { requireRole } from '../auth.ts';
import {
  MAX_SUMMARY_VALUES,
  hostCursorFor,
  hostsQuery,
  hostsSummaryQuery,
  readListQuery,
  rolloutHostsQuery,
  stepCursorFor,
} from '../list-schemas.ts';
import { resolveRolloutRef } from '../rollout-ref.ts';
import { countRollout, summaryOfView, withStepCounts } from '../rollout-summary.ts';
import { rolloutView } from './operator-routes.ts';

export function hostView(h: HostRow, now: number, onlineWithinMs: number): Record<string, unknown> {
  return {
    name: h.name,
    labels: h.labels,
    status: now - h.lastSeen <= onlineWithinMs ? 'online' : 'offline',
    lastSeen: h.lastSeen,
    enrolledAt: h.enrolledAt,
    facts: h.facts,
  };
}

function stepView(s: StepRecord, waveNames: Map<number, string>): Record<string, unknown> {
  return {
    name: s.host,
    wave: waveNames.get(s.waveIndex) ?? null,
    waveIndex: s.waveIndex,
    state: s.state,
    attempt: s.attempt,
    message: s.message,
    updatedAt: s.updatedAt,
  };
}

/** A wave named by its name or 0-based index; a 400 that lists the waves otherwise. */
function waveIndexOf(header: RolloutHeader, wave: string): number {
  const byName = header.waves.find((w) => w.name === wave);
  if (byName) return byName.index;
  if (/^\d{1,6}$/.test(wave)) {
    const byIndex = header.waves.find((w) => w.index === Number(wave));
    if (byIndex) return byIndex.index;
  }
  const names = header.waves.map((w) => w.name);
  const shown = names.length === 0 ? 'it has no waves yet' : `its waves are ${names.slice(0, 20).join(', ')}${names.length > 20 ? ', ...' : ''}`;
  throw new ValidationError(`invalid query: wave: rollout ${header.rollout.id} has no wave "${wave.replace(/[^\x20-\x7e]/g, '?').slice(0, 60)}"; ${shown}`);
}

export function fleetRoutes(deps: AppDeps): Hono<AppEnv> {
  const r = new Hono<AppEnv>();
  const viewer = requireRole(deps, 'viewer');
  const onlineWithinMs = () => deps.heartbeatMs * 3;

  r.get('/hosts', viewer, async (c) => {
    const q = readListQuery(c, hostsQuery);
    const now = deps.now();
    const rows = await deps.store.listHostsPage({
      labels: q.label,
      ...(q.status ? { status: q.status } : {}),
      onlineSince: now - onlineWithinMs(),
      ...(q.cursor ? { afterName: q.cursor.name } : {}),
      limit: q.limit + 1, // one more than asked: whether there is a next page
      withFacts: q.facts === 'true',
    });
    const page = rows.slice(0, q.limit);
    const last = page.at(-1);
    return c.json({
      hosts: page.map((h) => hostView(h, now, onlineWithinMs())),
      nextCursor: rows.length > q.limit && last ? hostCursorFor(last.name) : null,
    });
  });

  r.get('/hosts/summary', viewer, async (c) => {
    const q = readListQuery(c, hostsSummaryQuery);
    const filter = { labels: q.label, onlineSince: deps.now() - onlineWithinMs() };
    const counts = await deps.store.countHosts(filter);
    const body: Record<string, unknown> = { total: counts.online + counts.offline, online: counts.online, offline: counts.offline, labels: q.label };
    if (q.by !== undefined) {
      const rows = await deps.store.countHostsByLabel(q.by, filter, MAX_SUMMARY_VALUES + 1);
      body.by = {
        key: q.by,
        values: rows.slice(0, MAX_SUMMARY_VALUES).map((v) => ({ value: v.value, total: v.online + v.offline, online: v.online, offline: v.offline })),
        truncated: rows.length > MAX_SUMMARY_VALUES,
      };
    }
    return c.json(body);
  });

  r.get('/rollouts/:id/hosts', viewer, async (c) => {
    const q = readListQuery(c, rolloutHostsQuery);
    const id = await resolveRolloutRef(deps.store, c.req.param('id')); // full id, unique prefix or `latest`
    const header = await deps.store.loadRolloutHeader(id);
    if (!header) throw new NotFoundError(`no rollout ${id}`);
    const query: StepPageQuery = {
      ...(q.state ? { states: q.state } : {}),
      ...(q.wave !== undefined ? { waveIndex: waveIndexOf(header, q.wave) } : {}),
      ...(q.cursor ? { after: q.cursor } : {}),
      limit: q.limit + 1,
    };
    const rows = await deps.store.listStepsPage(id, query);
    const page = rows.slice(0, q.limit);
    const last = page.at(-1);
    const names = new Map(header.waves.map((w) => [w.index, w.name]));
    return c.json({
      id,
      hosts: page.map((s) => stepView(s, names)),
      nextCursor: rows.length > q.limit && last ? stepCursorFor(last.waveIndex, last.host) : null,
    });
  });

  r.get('/rollouts/:id/summary', viewer, async (c) => {
    const id = await resolveRolloutRef(deps.store, c.req.param('id'));
    const counted = await countRollout(deps.store, id);
    if (!counted) throw new NotFoundError(`no rollout ${id}`);
    // The rollout view without steps, counted: the fields of GET /v1/rollouts/:id, no hosts.
    return c.json(summaryOfView(withStepCounts(rolloutView({ ...counted.header, planSource: '', steps: [] }), counted)));
  });

  return r;
}

// API routes the dashboard needs besides the CLI's (viewer role; usable with a bearer token too):
// - GET /v1/rollouts/:id/stream: server-sent events with the rollout view whenever it changes
//   and new event-log lines, polled from the store once a second per open stream (bounded), so
//   it works the same on PGlite and on PostgreSQL replicas (every replica reads the store).
// - GET /v1/fleet/topology: host counts per provider/region/zone/cluster (aggregate cells, one
//   SQL query; never the hosts themselves), with how many are online, in a rollout, failing there,
//   and drifting.
// - GET /v1/hosts/:name: one host, and its steps across rollouts (the host page).
// - POST /v1/plans/analyze, GET /v1/plans/scenarios: `sluice plan analyze` for the rehearse
//   page, over the live inventory or a built-in scenario's simulated fleet (names only: never a
//   path from the request).
// - GET /v1/updates/plan: the staged plan `sluice updates plan` writes, for the updates page to
//   show, check (POST /v1/rollouts/preview) and start.
import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import { z } from 'zod';
import { randomBytes } from 'node:crypto';
import { NotFoundError, SluiceError, UnavailableError } from '../../core/errors.ts';
import { LABEL_KEY } from '../../core/labels.ts';
import type { EventRow } from '../../store/store.ts';
import type { AppDeps, AppEnv } from '../app.ts';
import { authenticateOperator, bearer, requireRole, sessionPrincipal } from '../auth.ts';
import { hostsSummaryQuery, readListQuery } from '../list-schemas.ts';
import { resolveRolloutRef } from '../rollout-ref.ts';
import { loadRolloutForView, withStepCounts } from '../rollout-summary.ts';
import { hostView } from './fleet-routes.ts';
import { readUpdatesView } from './drift-routes.ts';
import { buildUpdatesPlan } from '../../cli/updates-plan.ts';
import type { UpdatesView } from '../../cli/render-drift.ts';
import { checkPlan } from '../../core/plan/parse-plan.ts';
import { ValidationError } from '../../core/errors.ts';
import { FINAL_ROLLOUT_STATES, type HostInfo } from '../../core/types.ts';
import { readBody } from '../app.ts';
import { rolloutView } from './operator-routes.ts';

/** Live rollout views open at once in this process; more get a 503 (the page retries). */
export const MAX_STREAMS = 200;
/** Event-log lines per `events` message; a new page gets the latest this many. */
const EVENTS_BATCH = 500;
/** How often an open stream looks at the store. */
export const STREAM_POLL_MS = 1000;
/** An open stream checks this often that its token or session is still good (revoked, expired: it ends). Tests shorten it. */
export const streamTiming = { reauthMs: 30_000 };
/** A comment line this often keeps proxies from closing a quiet stream. */
const KEEPALIVE_MS = 15_000;
export const TOPOLOGY_LEVELS = ['provider', 'region', 'zone', 'cluster'];
export const MAX_TOPOLOGY_CELLS = 5000;

const topologyQuery = hostsSummaryQuery.omit({ by: true }).extend({
  levels: z
    .string()
    .max(300)
    .transform((text, ctx) => {
      const keys = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
      if (keys.length === 0 || keys.length > 6 || keys.some((k) => !LABEL_KEY.test(k)) || new Set(keys).size !== keys.length) {
        ctx.addIssue({ code: 'custom', message: 'levels is a comma-separated list of 1 to 6 distinct label keys (default provider,region,zone,cluster)' });
        return z.NEVER;
      }
      return keys;
    })
    .optional(),
});

/** The largest simulated fleet an analysis may ask for (the analysis is synchronous CPU work). */
export const MAX_ANALYZE_HOSTS = 100_000;

const analyzeBody = z.strictObject({
  plan: z.string().min(1).max(256 * 1024),
  file: z.string().max(255).optional(),
  scenario: z.string().regex(/^[A-Za-z0-9._-]{1,100}$/).optional(),
  hosts: z.number().int().min(1).max(MAX_ANALYZE_HOSTS).optional(),
});

/** The largest simulated fleet the page may rehearse: the simulation runs in the server process. */
export const MAX_SIMULATE_HOSTS = 20_000;

const simulateBody = z.strictObject({
  plan: z.string().min(1).max(256 * 1024),
  file: z.string().max(255).optional(),
  scenario: z.string().regex(/^[A-Za-z0-9._-]{1,100}$/),
  hosts: z.number().int().min(1).max(MAX_SIMULATE_HOSTS).optional(),
  seed: z.number().int().min(0).max(2 ** 31).optional(),
});

/** Simulator reports the page shows, by a random id: the last 20, for an hour (per process). */
const REPORTS_KEPT = 20;
const REPORT_TTL_MS = 3600_000;
const reports = new Map<string, { html: string; at: number }>();

/** A report made by POST /v1/plans/simulate, or null (unknown, expired, or another process's). */
export function simulationReport(id: string, now: number): string | null {
  const r = reports.get(id);
  if (!r || now - r.at > REPORT_TTL_MS) return null;
  return r.html;
}

let simulating = false;

const updatesPlanQuery = hostsSummaryQuery.omit({ by: true }).extend({ name: z.string().max(100).optional() });

function eventView(e: EventRow): Record<string, unknown> {
  return { seq: e.seq, at: e.at, kind: e.kind, message: e.message, host: e.host, wave: e.wave };
}

export function dashboardRoutes(deps: AppDeps): Hono<AppEnv> {
  const r = new Hono<AppEnv>();
  const viewer = requireRole(deps, 'viewer');
  let open = 0;

  r.get('/rollouts/:id/stream', viewer, async (c) => {
    const id = await resolveRolloutRef(deps.store, c.req.param('id'));
    const header = await deps.store.loadRolloutHeader(id);
    if (!header) throw new NotFoundError(`no rollout ${id}`);
    if (open >= MAX_STREAMS) throw new SluiceError('unavailable', `${MAX_STREAMS} live views are open on this server; retry later`);
    // EventSource sends Last-Event-ID on a reconnect: the event log goes on from there.
    const lastId = Number(c.req.header('last-event-id') ?? c.req.query('after') ?? 0);
    let afterSeq = Number.isSafeInteger(lastId) && lastId > 0 ? lastId : 0;
    c.header('cache-control', 'no-store');
    c.header('x-accel-buffering', 'no');
    open += 1;
    return streamSSE(
      c,
      async (stream) => {
        try {
          await stream.writeSSE({ event: 'plan', data: JSON.stringify(header.plan), retry: 2000 });
          let last = '';
          let quietSince = Date.now();
          let authedAt = Date.now();
          let first = afterSeq === 0;
          while (!stream.aborted && !stream.closed) {
            if (Date.now() - authedAt >= streamTiming.reauthMs) {
              // A session's idle timer restarts too: a page left open on a rollout stays signed in (up to the session's maximum age).
              const token = bearer(c);
              const still = await (token ? authenticateOperator(deps, token) : sessionPrincipal(deps, c)).catch(() => null);
              if (!still) {
                await stream.writeSSE({ event: 'signedout', data: '{}' });
                break;
              }
              authedAt = Date.now();
            }
            const loaded = await loadRolloutForView(deps.store, id);
            if (!loaded) {
              await stream.writeSSE({ event: 'gone', data: JSON.stringify({ id }) });
              break;
            }
            const view = JSON.stringify(withStepCounts(rolloutView(loaded.stored), loaded.counted));
            if (view !== last) {
              await stream.writeSSE({ event: 'rollout', data: view });
              last = view;
              quietSince = Date.now();
            }
            let events = await deps.store.listEvents(id, afterSeq, EVENTS_BATCH);
            if (first && events.length === EVENTS_BATCH) {
              // A new page wants the latest lines, not the oldest: read through (not sent) to the last batch.
              let next = events;
              while (next.length === EVENTS_BATCH && !stream.aborted) {
                events = next;
                next = await deps.store.listEvents(id, events.at(-1)!.seq, EVENTS_BATCH);
              }
              if (next.length > 0) events = [...events, ...next].slice(-EVENTS_BATCH);
            }
            first = false;
            if (events.length > 0) {
              afterSeq = events.at(-1)!.seq;
              await stream.writeSSE({ event: 'events', data: JSON.stringify(events.map(eventView)), id: String(afterSeq) });
              quietSince = Date.now();
            }
            if (Date.now() - quietSince >= KEEPALIVE_MS) {
              await stream.write(': keep-alive\n\n');
              quietSince = Date.now();
            }
            // A finished rollout changes rarely (a late rollback report, retention): look less often.
            await stream.sleep(FINAL_ROLLOUT_STATES.includes(loaded.stored.rollout.state) ? STREAM_POLL_MS * 5 : STREAM_POLL_MS);
          }
        } finally {
          open -= 1;
        }
      },
      async (err) => {
        deps.log.warn({ rolloutId: id, err: err.message }, 'a live rollout view failed');
      },
    );
  });

  r.get('/fleet/topology', viewer, async (c) => {
    const q = readListQuery(c, topologyQuery);
    const levels = q.levels ?? TOPOLOGY_LEVELS;
    const onlineSince = deps.now() - deps.heartbeatMs * 3;
    const rows = await deps.store.countHostsByTopology(levels, { labels: q.label, onlineSince }, MAX_TOPOLOGY_CELLS + 1);
    const cells = rows.slice(0, MAX_TOPOLOGY_CELLS).map((row) => ({
      labels: Object.fromEntries(levels.map((k, i) => [k, row.values[i] ?? null])),
      total: row.total,
      online: row.online,
      offline: row.total - row.online,
      inRollout: row.inRollout,
      failing: row.failing,
      drifting: row.drifting,
    }));
    const sum = (f: (x: (typeof cells)[number]) => number) => cells.reduce((n, x) => n + f(x), 0);
    return c.json({
      levels,
      labels: q.label,
      total: sum((x) => x.total),
      online: sum((x) => x.online),
      inRollout: sum((x) => x.inRollout),
      failing: sum((x) => x.failing),
      drifting: sum((x) => x.drifting),
      cells,
      truncated: rows.length > MAX_TOPOLOGY_CELLS,
    });
  });

  r.get('/hosts/:name', viewer, async (c) => {
    const name = c.req.param('name');
    if (name === 'summary') throw new NotFoundError('no host summary'); // GET /v1/hosts/summary is fleet-routes'
    const host = await deps.store.hostByName(name);
    if (!host) throw new NotFoundError(`no host ${name.slice(0, 253)}`);
    const steps = await deps.store.stepsOfHost(host.name, 200);
    return c.json({ ...hostView(host, deps.now(), deps.heartbeatMs * 3), steps });
  });

  r.get('/plans/scenarios', viewer, async (c) => {
    const { builtinScenarioNames } = await import('../../sim/load-scenario.ts');
    return c.json({ scenarios: builtinScenarioNames() });
  });

  r.post('/plans/analyze', viewer, async (c) => {
    const body = await readBody(c, analyzeBody);
    const file = body.file ?? 'plan.yaml';
    const { plan, problems } = checkPlan(body.plan, file);
    if (!plan || problems.length > 0) throw new ValidationError(`${file}: the plan is invalid (${problems.length} problem${problems.length === 1 ? '' : 's'})`, problems);
    const [{ analyzePlan, renderAnalysis }, { fleetHostInfos, generateFleet }, { builtinScenarioNames, loadScenario }] = await Promise.all([
      import('../../sim/analyze-plan.ts'),
      import('../../sim/fleet.ts'),
      import('../../sim/load-scenario.ts'),
    ]);
    let hosts: HostInfo[];
    let source: string;
    let ineligible: unknown = null;
    if (body.scenario !== undefined) {
      if (!builtinScenarioNames().includes(body.scenario)) throw new NotFoundError(`no scenario "${body.scenario}": one of ${builtinScenarioNames().join(', ')}`);
      const loaded = loadScenario(body.scenario);
      const n = Math.min(body.hosts ?? loaded.scenario.fleet.hosts, MAX_ANALYZE_HOSTS);
      hosts = fleetHostInfos(generateFleet(loaded.scenario, n, 1));
      source = `the ${loaded.scenario.name} fleet (${n} simulated hosts)`;
    } else {
      hosts = (await deps.store.listHosts({ withFacts: false })).map((h) => ({ name: h.name, labels: h.labels }));
      source = 'the live inventory';
      ineligible = (await deps.driver.preview(plan)).ineligible;
    }
    const analysis = analyzePlan(plan, hosts);
    return c.json({ fleetSource: source, ...analysis, text: renderAnalysis(analysis, source), ...(ineligible ? { ineligible } : {}) });
  });

  // The incident rehearsed through the plan (`sluice sim run SCENARIO --plan`): the summary text and
  // the HTML report (served at /ui/reports/ID). Synchronous CPU work in this process, so one at a
  // time and at most MAX_SIMULATE_HOSTS hosts (20,000 hosts take about a second); the CLI runs more.
  r.post('/plans/simulate', viewer, async (c) => {
    const body = await readBody(c, simulateBody);
    const file = body.file ?? 'plan.yaml';
    const { plan, problems } = checkPlan(body.plan, file);
    if (!plan || problems.length > 0) throw new ValidationError(`${file}: the plan is invalid (${problems.length} problem${problems.length === 1 ? '' : 's'})`, problems);
    const [{ simulate }, { builtinScenarioNames, loadScenario }, { renderSimText }, { renderReportHtml }] = await Promise.all([
      import('../../sim/simulate.ts'),
      import('../../sim/load-scenario.ts'),
      import('../../sim/format-text.ts'),
      import('../../sim/report-html.ts'),
    ]);
    if (!builtinScenarioNames().includes(body.scenario)) throw new NotFoundError(`no scenario "${body.scenario}": one of ${builtinScenarioNames().join(', ')}`);
    if (simulating) throw new UnavailableError('a simulation is already running on this server; try again in a few seconds');
    simulating = true;
    try {
      const { scenario } = loadScenario(body.scenario);
      const hosts = Math.min(body.hosts ?? scenario.fleet.hosts, MAX_SIMULATE_HOSTS);
      const result = simulate(scenario, plan, { hosts, seed: body.seed ?? 1 });
      const id = randomBytes(12).toString('hex');
      reports.set(id, { html: renderReportHtml(result), at: deps.now() });
      while (reports.size > REPORTS_KEPT) reports.delete(reports.keys().next().value!);
      const { uncontrolled, controlled } = result.runs;
      const brief = (r: typeof controlled) => ({ hostsChanged: r.hostsChanged, peakImpairedPct: r.peakImpairedPct, terminated: r.terminated, dataBearingLost: r.dataBearingLost, haltedAt: r.haltedAt });
      return c.json({ scenario: scenario.name, hosts, seed: body.seed ?? 1, text: renderSimText(result), report: `/ui/reports/${id}`, uncontrolled: brief(uncontrolled), controlled: { ...brief(controlled), rollout: controlled.rollout?.state ?? null } });
    } finally {
      simulating = false;
    }
  });

  r.get('/updates/plan', viewer, async (c) => {
    const q = readListQuery(c, updatesPlanQuery);
    const now = deps.now();
    const view = (await readUpdatesView(deps.store, false)) as unknown as UpdatesView;
    try {
      const plan = buildUpdatesPlan(view, { name: q.name ?? `security-updates-${new Date(now).toISOString().slice(0, 10)}`, match: q.label, now });
      return c.json({ yaml: plan.yaml, warnings: plan.warnings, packages: plan.packages, hosts: plan.hosts.length, match: q.label });
    } catch (err) {
      // Nothing pending is an answer, not a failure; a plan that cannot be one stays a 400.
      if (err instanceof SluiceError && err.code === 'failed') return c.json({ yaml: null, message: err.message, match: q.label });
      throw err;
    }
  });

  return r;
}

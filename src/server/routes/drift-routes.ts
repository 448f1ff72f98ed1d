// Drift guard routes: agents report drift (POST /v1/agent/drift, host credential); operators read
// it by host and fleet-wide (GET /v1/drift) and the security updates pending on hosts, taken from
// their facts (GET /v1/updates). Mounted at /v1, before the operator routes.
import { Hono } from 'hono';
import { z } from 'zod';
import { NotFoundError } from '../../core/errors.ts';
import type { DriftEventRow, HostRow, Store } from '../../store/store.ts';
import { type AppDeps, type AppEnv, readBody, readQuery } from '../app.ts';
import { requireHost, requireRole } from '../auth.ts';
import { driftBody, driftQuery, updatesQuery } from '../schemas.ts';

// Facts come from agents: read them defensively, never trust their shape.
const pendingUpdatesFact = z.object({
  checkedAt: z.number(),
  updates: z
    .array(z.object({ package: z.string().max(200), installed: z.string().max(200), candidate: z.string().max(200), security: z.boolean() }))
    .max(20_000),
  error: z.string().optional(),
});
const driftGuardFact = z.object({ policy: z.enum(['report', 'enforce']), networkd: z.boolean().optional() });
const packagesFact = z.record(z.string(), z.string());

const MAX_OPEN = 10_000;

function eventView(e: DriftEventRow): Record<string, unknown> {
  return {
    host: e.host,
    kind: e.kind,
    subject: e.subject,
    message: e.message,
    at: e.at,
    receivedAt: e.receivedAt,
    resolvedAt: e.resolvedAt,
    ...(e.data ? { details: e.data } : {}),
  };
}

/** GET /v1/drift's answer, pure: every host with its open drift, a fleet summary, recent events. */
export function driftView(hosts: readonly HostRow[], open: readonly DriftEventRow[], recent: readonly DriftEventRow[]): Record<string, unknown> {
  const openByHost = new Map<string, DriftEventRow[]>();
  for (const e of open) openByHost.set(e.host, [...(openByHost.get(e.host) ?? []), e]);
  const openByKind: Record<string, number> = {};
  const hostsByKind: Record<string, number> = {};
  for (const [, events] of openByHost) {
    for (const kind of new Set(events.map((e) => e.kind))) hostsByKind[kind] = (hostsByKind[kind] ?? 0) + 1;
    for (const e of events) openByKind[e.kind] = (openByKind[e.kind] ?? 0) + 1;
  }
  const lastAt = new Map<string, number>();
  for (const e of [...open, ...recent]) lastAt.set(e.host, Math.max(lastAt.get(e.host) ?? 0, e.receivedAt));
  return {
    summary: {
      hosts: hosts.length,
      hostsWithDrift: hosts.filter((h) => openByHost.has(h.name)).length,
      open: openByKind,
      hostsByKind,
    },
    hosts: hosts.map((h) => {
      const guard = driftGuardFact.safeParse(h.facts['driftGuard']);
      return {
        name: h.name,
        policy: guard.success ? guard.data.policy : null,
        open: (openByHost.get(h.name) ?? []).map((e) => ({ kind: e.kind, subject: e.subject, message: e.message, at: e.at, receivedAt: e.receivedAt })),
        lastEventAt: lastAt.get(h.name) ?? null,
      };
    }),
    events: recent.map(eventView),
  };
}

/** The packages GET /v1/updates lists (security updates only unless `all`), to narrow inventories to. */
export function pendingPackageNames(hosts: readonly HostRow[], all: boolean): string[] {
  const names = new Set<string>();
  for (const host of hosts) {
    const fact = pendingUpdatesFact.safeParse(host.facts['pendingUpdates']);
    if (fact.success) for (const u of fact.data.updates) if (all || u.security) names.add(u.package);
  }
  return [...names];
}

/**
 * GET /v1/updates's answer from the store in two lean reads: the pending updates, then of each
 * host's package inventory only the packages those updates name (an inventory is ~1,500 entries,
 * the answer needs a handful; 5,000 whole inventories are ~700 MB of heap).
 */
export async function readUpdatesView(store: Store, all: boolean): Promise<Record<string, unknown>> {
  const pending = await store.listHosts({ withFacts: false, factKeys: ['pendingUpdates'] });
  const names = pendingPackageNames(pending, all);
  const inventories = new Map((await store.listHosts({ withFacts: false, factKeys: ['packages'], packageNames: names })).map((h) => [h.name, h.facts]));
  return updatesView(pending.map((h) => ({ ...h, facts: { ...h.facts, ...(inventories.get(h.name) ?? {}) } })), all);
}

/** GET /v1/updates's answer, pure: pending updates by package and candidate, and per host. */
export function updatesView(hosts: readonly HostRow[], all: boolean): Record<string, unknown> {
  const byKey = new Map<string, { package: string; candidate: string; security: boolean; hosts: { name: string; installed: string }[] }>();
  const perHost: { host: HostRow; checkedAt: number | null; error: string | null; pending: number; security: number }[] = [];
  for (const host of hosts) {
    const fact = pendingUpdatesFact.safeParse(host.facts['pendingUpdates']);
    if (!fact.success) {
      perHost.push({ host, checkedAt: null, error: host.facts['pendingUpdates'] === undefined ? null : 'malformed pendingUpdates fact', pending: 0, security: 0 });
      continue;
    }
    const updates = fact.data.updates;
    perHost.push({ host, checkedAt: fact.data.checkedAt, error: fact.data.error ?? null, pending: updates.length, security: updates.filter((u) => u.security).length });
    for (const u of updates) {
      if (!all && !u.security) continue;
      const key = `${u.package}\u0000${u.candidate}`;
      const entry = byKey.get(key) ?? { package: u.package, candidate: u.candidate, security: u.security, hosts: [] };
      entry.security ||= u.security;
      entry.hosts.push({ name: host.name, installed: u.installed });
      byKey.set(key, entry);
    }
  }
  const updates = [...byKey.values()].sort((a, b) => cmp(a.package, b.package) || cmp(a.candidate, b.candidate));
  const names = [...new Set(updates.map((u) => u.package))];
  return {
    updates,
    hosts: perHost.map(({ host, checkedAt, error, pending, security }) => {
      const packages = packagesFact.safeParse(host.facts['packages']);
      // For each listed package: what this host has installed (null: not installed); absent without an inventory.
      const installed: Record<string, string | null> = {};
      if (packages.success) {
        // Agents name native Multi-Arch packages bare (`libssl3`); older ones sent `libssl3:amd64`.
        const qualified = new Map<string, string>();
        for (const [k, v] of Object.entries(packages.data)) {
          const colon = k.indexOf(':');
          if (colon > 0 && !qualified.has(k.slice(0, colon))) qualified.set(k.slice(0, colon), v);
        }
        for (const n of names) installed[n] = packages.data[n] ?? qualified.get(n) ?? null;
      }
      return { name: host.name, labels: host.labels, checkedAt, error, pending, security, ...(packages.success ? { installed } : {}) };
    }),
  };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function driftRoutes(deps: AppDeps): Hono<AppEnv> {
  const r = new Hono<AppEnv>();

  r.post('/agent/drift', requireHost(deps), async (c) => {
    const host = c.get('host');
    const body = await readBody(c, driftBody);
    const recorded = await deps.store.recordDrift(
      host.name,
      {
        events: body.events.map((e) => ({ id: e.id, kind: e.kind, subject: e.subject, message: e.message, at: e.at, open: e.open, data: e.details ?? null })),
        resolved: body.resolved,
      },
      deps.now(),
    );
    if (recorded > 0) {
      const kinds = [...new Set(body.events.map((e) => e.kind))];
      deps.log.info({ host: host.name, events: recorded, kinds }, 'drift reported');
      // drift.found webhooks (server-wide endpoints): to the outbox; the leader delivers them.
      const opened = body.events.filter((e) => e.open);
      if (deps.notifier?.enabled && opened.length > 0) {
        const first = opened[0]!;
        const more = opened.length > 1 ? ` (and ${opened.length - 1} more: ${kinds.join(', ')})` : '';
        const rows = deps.notifier.forEvent({ event: 'drift.found', at: deps.now(), rollout: null, host: host.name, message: `${host.name}: ${first.kind} ${first.subject}: ${first.message}${more}`.slice(0, 2000) });
        await deps.store
          .enqueueNotifications(rows)
          .then(() => deps.notifier?.kick()) // delivered by the leader: at once here, within a poll elsewhere
          .catch((err: unknown) => deps.log.warn({ host: host.name, err: String(err) }, 'queueing drift notifications failed'));
      }
    }
    return c.json({ recorded });
  });

  r.get('/drift', requireRole(deps, 'viewer'), async (c) => {
    const q = readQuery(c, driftQuery);
    // Only the drift guard's fact: full facts (package lists, routes) of a large fleet would not fit in memory.
    let hosts = await deps.store.listHosts({ withFacts: false, factKeys: ['driftGuard'] });
    if (q.host !== undefined) {
      hosts = hosts.filter((h) => h.name === q.host);
      if (hosts.length === 0) throw new NotFoundError(`no host ${q.host}`);
    }
    const filter = q.host !== undefined ? { host: q.host } : {};
    const [open, recent] = await Promise.all([
      deps.store.listDrift({ ...filter, open: true, limit: MAX_OPEN }),
      deps.store.listDrift({ ...filter, limit: q.limit }),
    ]);
    return c.json(driftView(hosts, open, recent));
  });

  r.get('/updates', requireRole(deps, 'viewer'), async (c) => {
    const q = readQuery(c, updatesQuery);
    return c.json(await readUpdatesView(deps.store, q.all === 'true'));
  });

  return r;
}

// Prometheus metrics for /metrics: rollouts by state, hosts by status, heartbeats, engine
// transition latency, HTTP requests. A registry per server so tests can run several servers.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Store } from '../store/store.ts';
import { ROLLOUT_STATES } from '../core/types.ts';

export interface ServerMetrics {
  readonly registry: Registry;
  readonly heartbeats: Counter;
  readonly transitionSeconds: Histogram;
  readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  /** Remediation guard answers (issue 13). */
  readonly remediationRequests: Counter<'action' | 'decision'>;
  /** One per denied burst: a scope over its budget, counted once per window. */
  readonly remediationBursts: Counter<'scope'>;
}

export function createServerMetrics(store: Store, hostOnlineWithinMs: number, now: () => number): ServerMetrics {
  const registry = new Registry();
  const heartbeats = new Counter({ name: 'sluice_heartbeats_total', help: 'Agent heartbeats received.', registers: [registry] });
  const transitionSeconds = new Histogram({
    name: 'sluice_engine_transition_seconds',
    help: 'Time to compute and persist one rollout engine transition.',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const httpRequests = new Counter({
    name: 'sluice_http_requests_total',
    help: 'HTTP requests by route and status.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  new Gauge({
    name: 'sluice_rollouts',
    help: 'Rollouts by state.',
    labelNames: ['state'] as const,
    registers: [registry],
    async collect() {
      const counts = await store.rolloutCountsByState();
      for (const state of ROLLOUT_STATES) this.set({ state }, counts[state] ?? 0);
    },
  });
  new Gauge({
    name: 'sluice_reverted_hosts',
    help: 'Hosts that rolled a change back by themselves (commit-confirmed), over all rollouts.',
    registers: [registry],
    async collect() {
      this.set(await store.revertedHostsTotal());
    },
  });
  new Gauge({
    name: 'sluice_hosts',
    help: 'Enrolled hosts by status (online: heard from recently).',
    labelNames: ['status'] as const,
    registers: [registry],
    async collect() {
      // Counted in the database: a scrape must not read 100,000 host rows.
      const counts = await store.countHosts({ onlineSince: now() - hostOnlineWithinMs });
      this.set({ status: 'online' }, counts.online);
      this.set({ status: 'offline' }, counts.offline);
    },
  });
  const remediationRequests = new Counter({
    name: 'sluice_remediation_requests_total',
    help: 'Remediation guard requests by action and decision (allow, deny).',
    labelNames: ['action', 'decision'] as const,
    registers: [registry],
  });
  const remediationBursts = new Counter({
    name: 'sluice_remediation_denied_bursts_total',
    help: 'Mass-failure bursts the remediation guard denied: one per scope per window.',
    labelNames: ['scope'] as const,
    registers: [registry],
  });
  return { registry, heartbeats, transitionSeconds, httpRequests, remediationRequests, remediationBursts };
}

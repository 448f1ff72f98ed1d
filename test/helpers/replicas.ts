// Several `sluice server` processes on one PostgreSQL schema (replicas), for end-to-end tests and
// bench/failover.ts: start them, read their /v1/health, find the leader. Every wait is bounded.
import { join } from 'node:path';
import { ADMIN_TOKEN, startServerProc, waitFor, type ServerProc } from './processes.ts';

export interface Health {
  role: 'leader' | 'starting' | 'follower' | 'unavailable';
  replica: string;
  leader: { holder: string; term: number; url: string } | null;
  reason: string;
  database: string;
  stoppedLeading: { at: number; reason: string } | null;
}

/** Starts a replica on `databaseUrl` (data dir under `dir`, tokens from the e2e constants). */
export function startReplicaProc(dir: string, name: string, databaseUrl: string, env: Record<string, string> = {}): Promise<ServerProc> {
  return startServerProc(join(dir, name), 0, { SLUICE_DATABASE_URL: databaseUrl, ...env });
}

export async function health(url: string): Promise<Health> {
  const res = await fetch(`${url}/v1/health`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new Error(`GET /v1/health -> ${res.status}: ${await res.text()}`);
  return (await res.json()) as Health;
}

/** Waits until exactly one of `replicas` leads and the others follow it; returns the leader. */
export async function waitOneLeader(replicas: readonly ServerProc[], timeoutMs = 30_000): Promise<ServerProc> {
  return waitFor(
    'exactly one leader, followed by the others',
    async () => {
      const all = await Promise.all(replicas.map(async (r) => ({ r, h: await health(r.url) })));
      const leaders = all.filter((x) => x.h.role === 'leader');
      if (leaders.length !== 1) return null;
      const leader = leaders[0]!;
      const followed = all.every((x) => x === leader || (x.h.role === 'follower' && x.h.leader?.url === leader.r.url));
      return followed ? leader.r : null;
    },
    timeoutMs,
    100,
  );
}

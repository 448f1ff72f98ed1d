// A fleet written straight to the store for the large-fleet tests: 130 hosts over three zones
// (every 5th one offline, every 10th without a role), and rollouts with steps in given states.
import type { RunningServer } from '../../src/server/start-server.ts';
import type { Plan, StepStatus } from '../../src/core/types.ts';

export const PLAN: Plan = {
  name: 'fleet-plan',
  change: { kind: 'command', apply: ['true'], rollback: ['true'], timeout: 60_000 },
  hosts: { match: {} },
  waves: [
    { name: 'canary', size: { count: 1 }, bake: 0, approve: false },
    { name: 'rest', bake: 0, approve: false },
  ],
  checks: [],
  checkInterval: 10_000,
  budget: { failedPerWave: { count: 0 }, failedTotal: { count: 0 }, silentAfter: 60_000 },
  onFailure: 'halt',
  preflight: 'warn',
  confirmWindow: 0,
};

export const ZONES = ['a', 'b', 'c'];
export const HOSTS = 130; // zone a: 44, b: 43, c: 43; every 5th host offline
export const hostName = (i: number) => `fl-${String(i).padStart(4, '0')}`;

export async function seedHosts(server: RunningServer): Promise<void> {
  const now = Date.now();
  for (let i = 0; i < HOSTS; i++) {
    // Offline: last heard an hour ago (online means within 3 heartbeats, 15 s here).
    await server.store.enrollHost({
      name: hostName(i),
      labels: { env: i % 2 === 0 ? 'prod' : 'staging', zone: ZONES[i % 3]!, ...(i % 10 === 0 ? {} : { role: 'web' }) },
      facts: { allow: ['command'], kernel: '6.8' },
      credentialHash: `hash-${i}-${now}`,
      now: i % 5 === 0 ? now - 3_600_000 : now,
    });
  }
}

/** A rollout written straight to the store: wave 0 with 1 host, wave 1 with `rest` hosts in the given states. */
export async function seedRollout(server: RunningServer, id: string, hosts: string[], stateOf: (i: number) => StepStatus): Promise<void> {
  const t = Date.now();
  await server.store.createRollout(
    { id, name: 'fleet-plan', state: 'running', nextSpec: 2, failedTotal: 0, reason: null, heldReason: null, revertedHosts: 0, skippedHosts: 0, createdAt: t, updatedAt: t },
    PLAN,
    'name: fleet-plan\n',
    { kind: 'created', message: 'seeded' },
  );
  const wave = (index: number, name: string, hostCount: number) => ({
    type: 'wave' as const,
    wave: { rolloutId: id, index, name, specIndex: index, state: 'applying' as const, hostCount, failed: 0, startedAt: t, bakeStartedAt: null, finishedAt: null },
  });
  await server.store.persistTransition({
    rolloutId: id,
    at: t,
    event: null,
    effects: [
      wave(0, 'canary', 1),
      wave(1, 'rest', hosts.length - 1),
      ...hosts.map((host, i) => ({
        type: 'step' as const,
        step: { rolloutId: id, host, waveIndex: i === 0 ? 0 : 1, state: i === 0 ? ('healthy' as const) : stateOf(i), attempt: 1, message: null, checkedAt: null, confirmedAt: null, rollbackAttempt: null, updatedAt: t },
      })),
    ],
  });
}


// Plans, hosts and an event driver for tests and benchmarks of the rollout engine (no I/O).
import type { HostInfo, Instant, Plan, WaveSpec } from '../types.ts';
import type { FleetGates, RolloutEffect, RolloutEvent, RolloutSnapshot } from './types.ts';
import {
  createRolloutState,
  rolloutRecord,
  stepRecords,
  transition,
  waveRecords,
  type RolloutState,
} from './transition.ts';

export const T0: Instant = 1_700_000_000_000;

/** Every kind allowed, so eligibility never leaves a fixture host out unless a case says so. */
export const ALLOW_ALL: readonly string[] = ['command', 'apt', 'file', 'command-check'];

export function host(name: string, labels: Record<string, string> = {}, extra: Partial<HostInfo> = {}): HostInfo {
  return { name, labels, allow: ALLOW_ALL, ...extra };
}

export function wave(name: string, extra: Partial<WaveSpec> = {}): WaveSpec {
  return { name, bake: 60_000, approve: false, ...extra };
}

export function makePlan(extra: Partial<Plan> = {}): Plan {
  return {
    name: 'test-plan',
    change: { kind: 'command', apply: ['true'], rollback: ['true'], timeout: 60_000 },
    hosts: { match: {} },
    waves: [wave('canary', { size: { count: 1 } }), wave('rest', { parallel: { count: 2 } })],
    checks: [{ kind: 'ipRulesPreserved', name: 'ip-rules', timeout: 5_000 }],
    checkInterval: 10_000,
    budget: { failedPerWave: { count: 0 }, failedTotal: { count: 0 }, silentAfter: 120_000 },
    onFailure: 'rollback',
    preflight: 'warn',
    // Confirmation off by default here: the cases about it set a window (confirm.test.ts).
    confirmWindow: 0,
    ...extra,
  };
}

/**
 * Runs events against one rollout and remembers each host's last sign of life (what the server's
 * host table would hold), so a snapshot can be taken at any point.
 */
export class Harness {
  state: RolloutState;
  now: Instant = T0;
  readonly lastSeen = new Map<string, Instant>();
  hosts: HostInfo[];
  /** What the fleet says around this rollout (freeze, fleet-wide limits), for every event. */
  gates: FleetGates = {};
  constructor(
    readonly plan: Plan,
    hosts: readonly HostInfo[],
  ) {
    this.hosts = [...hosts];
    this.state = createRolloutState('r1', plan, T0);
  }

  /** Advances the clock by `dt` ms, then runs the event. */
  send(event: RolloutEvent, dt = 0): RolloutEffect[] {
    this.now += dt;
    if ('host' in event && typeof event.host === 'string') this.lastSeen.set(event.host, this.now);
    if (event.type === 'hostSeen') this.hosts.push(event.host);
    return [...transition(this.state, event, this.now, this.gates).effects];
  }

  start(dt = 0): RolloutEffect[] {
    return this.send({ type: 'start', hosts: this.hosts }, dt);
  }
  applyOk(h: string, attempt = 1, dt = 0): RolloutEffect[] {
    return this.send({ type: 'applyResult', host: h, attempt, ok: true }, dt);
  }
  checkOk(h: string, attempt = 1, dt = 0): RolloutEffect[] {
    return this.send({ type: 'checkResult', host: h, attempt, ok: true }, dt);
  }
  /** apply ok, then first check ok. */
  pass(h: string, attempt = 1): RolloutEffect[] {
    return [...this.applyOk(h, attempt), ...this.checkOk(h, attempt)];
  }
  confirm(h: string, attempt = 1, dt = 0): RolloutEffect[] {
    return this.send({ type: 'confirmResult', host: h, attempt, ok: true }, dt);
  }
  rollbackResult(h: string, attempt: number, ok: boolean, message?: string, dt = 0): RolloutEffect[] {
    return this.send({ type: 'rollbackResult', host: h, attempt, ok, ...(message !== undefined ? { message } : {}) }, dt);
  }
  tick(dt: number): RolloutEffect[] {
    return this.send({ type: 'tick' }, dt);
  }

  snapshot(): RolloutSnapshot {
    return {
      rollout: rolloutRecord(this.state),
      waves: waveRecords(this.state),
      // The store returns rows in no particular order.
      steps: [...stepRecords(this.state)].reverse(),
      hosts: this.hosts,
      lastSeen: new Map(this.lastSeen),
    };
  }

  stepState(h: string): string | undefined {
    return this.state.steps.get(h)?.state;
  }
  waveStates(): Record<string, string> {
    return Object.fromEntries(waveRecords(this.state).map((w) => [w.name, w.state]));
  }
}

export function assigns(effects: readonly RolloutEffect[]): string[] {
  return effects.flatMap((e) => (e.type === 'assign' ? [`${e.action} ${e.host}#${e.attempt}`] : []));
}

export function logKinds(effects: readonly RolloutEffect[]): string[] {
  return effects.flatMap((e) => (e.type === 'log' ? [e.kind] : []));
}

export function stepChanges(effects: readonly RolloutEffect[]): string[] {
  return effects.flatMap((e) => (e.type === 'step' ? [`${e.step.host}:${e.step.state}`] : []));
}

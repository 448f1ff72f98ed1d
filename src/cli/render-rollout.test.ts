import { describe, expect, it } from 'vitest';
import type { HostStepView, RolloutView } from './api-client.ts';
import {
  formatWaveCounts,
  renderProgressBar,
  renderRolloutList,
  renderRolloutStatus,
  rolloutListJson,
  rolloutSignature,
  rolloutStatusJson,
} from './render-rollout.ts';

const now = Date.UTC(2025, 0, 1, 12, 0, 0);
const step = (name: string, state: string, message: string | null = null): HostStepView => ({ name, state, message, updatedAt: now });
const steps = (state: string, n: number, prefix = state): HostStepView[] =>
  Array.from({ length: n }, (_, i) => step(`${prefix}-${i + 1}`, state));

const view: RolloutView = {
  id: 'r_1',
  name: 'flag-on',
  state: 'running',
  reason: null,
  createdAt: now - 5 * 60_000,
  updatedAt: now - 2_000,
  waves: [
    { name: 'canary', state: 'completed', startedAt: now - 300_000, bakeStartedAt: now - 200_000, bakeEndsAt: now - 100_000, failed: 0, hosts: [step('c-1', 'healthy')] },
    {
      name: 'staging',
      state: 'baking',
      startedAt: now - 90_000,
      bakeStartedAt: now - 60_000,
      bakeEndsAt: now + 65 * 60_000,
      failed: 1,
      hosts: [...steps('healthy', 2), step('s-3', 'failed', 'check flag-is-on: exit status 1'), step('s-4', 'silent')],
    },
  ],
  pendingWaves: ['prod'],
};

describe('rolloutStatusJson', () => {
  it('has the documented shape: id, name, state, waves with hosts (plus reason, times, messages)', () => {
    expect(rolloutStatusJson(view)).toEqual({
      id: 'r_1',
      name: 'flag-on',
      state: 'running',
      reason: null,
      createdAt: '2025-01-01T11:55:00.000Z',
      updatedAt: '2025-01-01T11:59:58.000Z',
      waves: [
        { name: 'canary', state: 'completed', hosts: [{ name: 'c-1', state: 'healthy', message: null }] },
        {
          name: 'staging',
          state: 'baking',
          hosts: [
            { name: 'healthy-1', state: 'healthy', message: null },
            { name: 'healthy-2', state: 'healthy', message: null },
            { name: 's-3', state: 'failed', message: 'check flag-is-on: exit status 1' },
            { name: 's-4', state: 'silent', message: null },
          ],
        },
      ],
      revertedHosts: 0,
      skippedHosts: 0,
      heldReason: null,
      waiting: null,
      unconfirmedRollbacks: 0,
    });
  });
});

describe('renderRolloutStatus', () => {
  const text = renderRolloutStatus(view, { now, color: false });

  it('starts with name, id and state, then the age', () => {
    expect(text.split('\n').slice(0, 2)).toEqual(['flag-on  r_1  running', 'created 5m ago, updated 2s ago']);
  });

  it('shows one aligned line per wave with bar, counts and bake remaining, then failed hosts and pending waves', () => {
    expect(text.split('\n').slice(3)).toEqual([
      '  canary   completed    [####################]  1/1 healthy',
      '  staging  baking       [##########xxxxxxxxxx]  2/4 healthy, 1 failed, 1 silent  bake 1h 5m left',
      '      x s-3 failed: check flag-is-on: exit status 1',
      '      x s-4 silent',
      '  prod     not started',
      '',
    ]);
  });

  it('says why a running rollout waits (window, freeze, fleet-wide limits), in text and JSON', () => {
    const waiting = { ...view, waiting: 'waiting for window: opens Tue 09:00 Europe/Paris' };
    expect(renderRolloutStatus(waiting, { now, color: false }).split('\n').slice(0, 2)).toEqual(['flag-on  r_1  running', 'waiting for window: opens Tue 09:00 Europe/Paris']);
    expect(rolloutStatusJson(waiting).waiting).toBe('waiting for window: opens Tue 09:00 Europe/Paris');
  });

  it('shows the reason when the rollout stopped', () => {
    const halted = renderRolloutStatus({ ...view, state: 'halted', reason: 'wave staging exceeded its failure budget' }, { now, color: false });
    expect(halted).toContain('flag-on  r_1  halted\nreason: wave staging exceeded its failure budget\n');
  });

  it('lists rolled-back hosts that failed with the reason, and not the ones that were healthy', () => {
    const rolledBack: RolloutView = {
      ...view,
      state: 'rolled_back',
      waves: [
        {
          name: 'canary',
          state: 'rolled_back',
          startedAt: now - 90_000,
          bakeStartedAt: null,
          bakeEndsAt: null,
          failed: 1,
          hosts: [step('c-1', 'rolled_back', 'check failed: flag-is-on: exit 1'), step('c-2', 'rolled_back')],
        },
      ],
      pendingWaves: [],
    };
    const lines = renderRolloutStatus(rolledBack, { now, color: false }).split('\n');
    expect(lines).toContain('      x c-1 rolled_back: check failed: flag-is-on: exit 1');
    expect(lines.some((l) => l.includes('c-2'))).toBe(false);
  });

  it('tells the operator how to approve a waiting wave', () => {
    const waiting: RolloutView = {
      ...view,
      waves: [{ name: 'prod/a', state: 'awaiting_approval', startedAt: null, bakeStartedAt: null, bakeEndsAt: null, failed: 0, hosts: steps('pending', 3) }],
      pendingWaves: [],
    };
    expect(renderRolloutStatus(waiting, { now, color: false })).toContain('0/3 healthy, 3 waiting  waiting for approval: sluice rollout approve r_1');
  });

  it('says when there is nothing to show yet', () => {
    expect(renderRolloutStatus({ ...view, state: 'pending', waves: [], pendingWaves: [] }, { now, color: false })).toContain('  no waves yet\n');
  });

  it('colours states only when asked', () => {
    expect(text).not.toContain('\x1b[');
    expect(renderRolloutStatus(view, { now, color: true })).toContain('\x1b[36mrunning\x1b[39m');
  });
});

describe('formatWaveCounts', () => {
  it.each([
    [[], 'no hosts'],
    [steps('healthy', 3), '3/3 healthy'],
    [[...steps('healthy', 1), ...steps('applying', 2), ...steps('verifying', 1)], '1/4 healthy, 2 applying, 1 verifying'],
    [[...steps('rolling_back', 1), ...steps('rolled_back', 2)], '0/3 healthy, 1 rolling back, 2 rolled back'],
    [steps('mystery', 1), '0/1 healthy, 1 mystery'],
  ])('%#', (hosts, expected) => {
    expect(formatWaveCounts(hosts)).toBe(expected);
  });
});

describe('renderProgressBar', () => {
  it.each([
    ['empty wave', [], '[----------]'],
    ['nothing healthy yet', steps('applying', 4), '[----------]'],
    ['half healthy', [...steps('healthy', 2), ...steps('applying', 2)], '[#####-----]'],
    ['all healthy', steps('healthy', 4), '[##########]'],
    // One failure in a thousand still shows, and 999/1000 does not look complete.
    ['one failure among many', [...steps('healthy', 999), ...steps('failed', 1)], '[#########x]'],
    ['almost done', [...steps('healthy', 999), ...steps('applying', 1)], '[#########-]'],
    ['failed and silent', [...steps('failed', 1), ...steps('silent', 1), ...steps('healthy', 2)], '[#####xxxxx]'],
  ])('%s', (_label, hosts, expected) => {
    expect(renderProgressBar(hosts, undefined, 10)).toBe(expected);
  });
});

describe('rolloutSignature', () => {
  it('ignores the passing of time but not a state change', () => {
    expect(rolloutSignature({ ...view, updatedAt: now })).toBe(rolloutSignature(view));
    const changed = { ...view, waves: view.waves.map((w) => ({ ...w, state: 'failed' })) };
    expect(rolloutSignature(changed)).not.toBe(rolloutSignature(view));
  });
});

describe('rollout list', () => {
  const rollouts = [
    { id: 'r_2', name: 'systemd-249', state: 'halted', reason: 'budget exceeded', createdAt: now - 120_000, updatedAt: now },
    { id: 'r_1', name: 'flag-on', state: 'completed', reason: null, createdAt: now - 7_200_000, updatedAt: now },
  ];
  it('renders an aligned table', () => {
    expect(renderRolloutList(rollouts, { now, color: false })).toBe(
      [
        'ID   NAME         STATE      CREATED  REASON',
        'r_2  systemd-249  halted     2m ago   budget exceeded',
        'r_1  flag-on      completed  2h ago',
        '',
      ].join('\n'),
    );
  });
  it('gives JSON with ISO times', () => {
    expect(rolloutListJson(rollouts)[1]).toEqual({
      id: 'r_1',
      name: 'flag-on',
      state: 'completed',
      reason: null,
      createdAt: '2025-01-01T10:00:00.000Z',
      updatedAt: '2025-01-01T12:00:00.000Z',
    });
  });
  it('says how to start one when there is none', () => {
    expect(renderRolloutList([], { now, color: false })).toContain('sluice rollout start');
  });
});

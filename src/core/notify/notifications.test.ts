import { describe, expect, it } from 'vitest';
import { backoffMs, notificationBody, notifyEventOf, renderBody, slackText } from './notifications.ts';

describe('notification events and bodies', () => {
  it('maps event-log kinds to events; only a window wait of rollout.waiting is one', () => {
    expect(notifyEventOf('wave.started', 'wave a started')).toBe('wave.started');
    expect(notifyEventOf('gate.failed', 'gate g failed: ...')).toBe('gate.failed');
    expect(notifyEventOf('host.reverted', 'h: reverted')).toBe('host.reverted');
    expect(notifyEventOf('rollout.waiting', 'waiting for window: opens Tue 09:00 Europe/Paris')).toBe('wave.waiting_window');
    expect(notifyEventOf('rollout.waiting', 'waiting: fleet frozen (x) by alice')).toBeUndefined();
    expect(notifyEventOf('host.failed', 'h: failed')).toBeUndefined();
    expect(notifyEventOf('wave.baking', 'baking')).toBeUndefined();
  });

  it('the JSON body has a fixed key order; Slack gets {text}', () => {
    const facts = { event: 'rollout.completed' as const, at: 0, rollout: { id: 'r_1', name: 'p', state: 'completed' as const }, message: 'completed: every wave baked healthy' };
    expect(Object.keys(notificationBody('d_1', { ...facts, host: 'h', wave: 'w' }))).toEqual(['version', 'id', 'event', 'at', 'rollout', 'wave', 'host', 'message']);
    expect(renderBody('json', 'd_1', facts)).toBe('{"version":1,"id":"d_1","event":"rollout.completed","at":"1970-01-01T00:00:00.000Z","rollout":{"id":"r_1","name":"p","state":"completed"},"message":"completed: every wave baked healthy"}');
    expect(JSON.parse(renderBody('slack', 'd_1', facts))).toEqual({ text: slackText(facts) });
    expect(slackText(facts)).toBe('[sluice] Rollout completed: *p* (r_1, completed): completed: every wave baked healthy');
  });

  it('backoff: 1 s doubling, capped', () => {
    expect([1, 2, 3].map((n) => backoffMs(n))).toEqual([1000, 2000, 4000]);
    expect(backoffMs(40)).toBe(300_000);
  });
});

import { describe, expect, it } from 'vitest';
import { NotFoundError, UnavailableError } from '../core/errors.ts';
import type { ApiClient, RolloutEventView, RolloutView } from './api-client.ts';
import { CLEAR_SCREEN, fetchRolloutSummary, watchRollout } from './watch-rollout.ts';
import { createTestIo } from './test-io.ts';

const base: RolloutView = {
  id: 'r_1',
  name: 'flag-on',
  state: 'running',
  reason: null,
  createdAt: 0,
  updatedAt: 0,
  waves: [{ name: 'canary', state: 'applying', startedAt: 0, bakeStartedAt: null, bakeEndsAt: null, failed: 0, hosts: [{ name: 'a', state: 'applying', message: null, updatedAt: 0 }] }],
  pendingWaves: [],
};
const withHost = (state: string, rollout = 'running'): RolloutView => ({
  ...base,
  state: rollout,
  waves: base.waves.map((w) => ({ ...w, hosts: [{ name: 'a', state, message: null, updatedAt: 0 }] })),
});
const event = (seq: number, message: string): RolloutEventView => ({ seq, at: Date.UTC(2025, 0, 1), kind: 'k', message, host: null, wave: null });

/** A client that answers each poll with the next scripted view (or error) and the events after the cursor. */
function scriptedClient(polls: (RolloutView | Error)[], events: RolloutEventView[][] = []): ApiClient & { eventCursors: (number | undefined)[] } {
  let poll = 0;
  const eventCursors: (number | undefined)[] = [];
  const unused = () => Promise.reject(new Error('not used'));
  return {
    server: 'http://s',
    eventCursors,
    getRollout: async () => {
      const next = polls[Math.min(poll, polls.length - 1)];
      poll += 1;
      if (next instanceof Error) throw next;
      return next as RolloutView;
    },
    // The same script through the list (what `events --follow` polls): the summary of the next view.
    listRollouts: async () => {
      const next = polls[Math.min(poll, polls.length - 1)];
      poll += 1;
      if (next instanceof Error) throw next;
      const { waves: _waves, pendingWaves: _pending, ...summary } = next as RolloutView;
      return [summary];
    },
    listEvents: async (_id, after) => {
      eventCursors.push(after);
      return (events[poll - 1] ?? []).filter((e) => after === undefined || e.seq > after);
    },
    startRollout: unused,
    rolloutAction: unused,
    listHosts: unused,
    listHostsPage: unused,
    hostsSummary: unused,
    rolloutHostsPage: unused,
    getDrift: unused,
    getUpdates: unused,
  };
}

describe('watchRollout', () => {
  it('polls until a final state and returns the last view, sleeping between polls', async () => {
    const io = createTestIo();
    const client = scriptedClient([withHost('applying'), withHost('healthy'), withHost('healthy', 'completed')]);
    const final = await watchRollout({ client, id: 'r_1', io, out: io.stdout, color: false, format: 'view' });
    expect(final.state).toBe('completed');
    expect(io.sleeps).toEqual([1000, 1000]);
  });

  it('into a pipe, prints the view only when it changed, and each event once', async () => {
    const io = createTestIo();
    const client = scriptedClient(
      [withHost('applying'), withHost('applying'), withHost('healthy', 'completed')],
      [[event(1, 'rollout started')], [event(1, 'rollout started'), event(2, 'a applied')], [event(3, 'rollout completed')]],
    );
    await watchRollout({ client, id: 'r_1', io, out: io.stdout, color: false, format: 'view' });
    const text = io.stdout.text;
    expect(text.match(/^flag-on {2}r_1/gm)).toHaveLength(2); // first view, then the completed one
    expect(text).not.toContain(CLEAR_SCREEN);
    expect(text.match(/rollout started/g)).toHaveLength(1);
    expect(text.indexOf('a applied')).toBeLessThan(text.indexOf('flag-on  r_1  completed'));
    expect(text.trimEnd().endsWith('rollout completed')).toBe(true);
    expect(client.eventCursors).toEqual([undefined, 1, 2]);
  });

  it('on a terminal, redraws the whole view every poll', async () => {
    const io = createTestIo({ tty: true });
    const client = scriptedClient([withHost('applying'), withHost('applying'), withHost('healthy', 'completed')], [[event(1, 'started')]]);
    await watchRollout({ client, id: 'r_1', io, out: io.stdout, color: false, format: 'view' });
    expect(io.stdout.text.split(CLEAR_SCREEN)).toHaveLength(4);
    expect(io.stdout.text.split(CLEAR_SCREEN)[3]).toContain('started'); // the recent log stays under the view
  });

  it('with json, prints one status object per change', async () => {
    const io = createTestIo();
    const client = scriptedClient([withHost('applying'), withHost('applying'), withHost('failed', 'halted')]);
    const final = await watchRollout({ client, id: 'r_1', io, out: io.stdout, color: false, format: 'json' });
    expect(final.state).toBe('halted');
    const lines = io.stdout.text.trimEnd().split('\n').map((l) => JSON.parse(l) as { state: string });
    expect(lines.map((l) => l.state)).toEqual(['running', 'halted']);
  });

  it('rides out a short outage but not a lasting one', async () => {
    const down = new UnavailableError('cannot reach the Sluice server');
    const io = createTestIo();
    const final = await watchRollout({
      client: scriptedClient([withHost('applying'), down, down, withHost('healthy', 'completed')]),
      id: 'r_1',
      io,
      out: io.stdout,
      color: false,
      format: 'view',
      maxFailures: 3,
    });
    expect(final.state).toBe('completed');
    const gone = watchRollout({ client: scriptedClient([down]), id: 'r_1', io, out: io.stdout, color: false, format: 'view', maxFailures: 3 });
    await expect(gone).rejects.toBe(down);
  });

  it('stops at once on an error that retrying cannot fix', async () => {
    const io = createTestIo();
    const missing = new NotFoundError('no rollout r_9');
    await expect(watchRollout({ client: scriptedClient([missing]), id: 'r_9', io, out: io.stdout, color: false, format: 'view' })).rejects.toBe(missing);
    expect(io.sleeps).toEqual([]);
  });

  it('in events format, prints the log from the start and then new lines', async () => {
    const io = createTestIo();
    const many = Array.from({ length: 15 }, (_, i) => event(i + 1, `e${i + 1}`));
    const client = scriptedClient([withHost('applying'), withHost('healthy', 'completed')], [many, [...many, event(16, 'done')]]);
    await watchRollout({ client, id: 'r_1', io, out: io.stdout, color: false, format: 'events', fromStart: true });
    expect(io.stdout.text.match(/ e\d+\n/g)).toHaveLength(15);
    expect(io.stdout.text.trimEnd().endsWith('done')).toBe(true);
  });

  it('in events format, reads the state from the rollout list, never loading the steps', async () => {
    const io = createTestIo();
    const client = scriptedClient([withHost('applying'), withHost('healthy', 'completed')], [[event(1, 'started')], [event(1, 'started'), event(2, 'done')]]);
    let views = 0;
    const final = await watchRollout({
      client: { ...client, getRollout: async () => { views += 1; return base; } },
      id: 'r_1',
      io,
      out: io.stdout,
      color: false,
      format: 'events-json',
      fromStart: true,
    });
    expect(final.state).toBe('completed');
    expect(views).toBe(0);
    expect(io.stdout.text.trimEnd().split('\n').map((l) => (JSON.parse(l) as { message: string }).message)).toEqual(['started', 'done']);
  });
});

describe('fetchRolloutSummary', () => {
  it('falls back to the full view for a rollout the list does not hold (older, or unknown: its 404)', async () => {
    const unused = () => Promise.reject(new Error('not used'));
    const missing = new NotFoundError('no rollout r_9');
    const client: ApiClient = {
      server: 'http://s',
      listRollouts: async () => [{ id: 'r_new', name: 'n', state: 'running', reason: null, createdAt: 0, updatedAt: 0 }],
      getRollout: async (id) => (id === 'r_1' ? { ...base, state: 'completed' } : Promise.reject(missing)),
      listEvents: unused,
      startRollout: unused,
      rolloutAction: unused,
      listHosts: unused,
      listHostsPage: unused,
      hostsSummary: unused,
      rolloutHostsPage: unused,
      getDrift: unused,
      getUpdates: unused,
    };
    expect((await fetchRolloutSummary(client, 'r_new')).state).toBe('running');
    expect((await fetchRolloutSummary(client, 'r_1')).state).toBe('completed');
    await expect(fetchRolloutSummary(client, 'r_9')).rejects.toBe(missing);
  });
});

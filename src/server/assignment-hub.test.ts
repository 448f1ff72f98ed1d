import { describe, expect, it } from 'vitest';
import { ASSIGNMENTS_CACHE_MS, AssignmentHub } from './assignment-hub.ts';

describe('AssignmentHub', () => {
  it('wakes a waiting host, and only that host', async () => {
    const hub = new AssignmentHub();
    const a = hub.wait('a', 5_000);
    const b = hub.wait('b', 50);
    hub.notify(['a']);
    expect(await a).toBe(true);
    expect(await b).toBe(false);
  });

  it('does not miss a change announced between reading assignments and waiting', async () => {
    const hub = new AssignmentHub();
    const before = hub.generation('a');
    hub.notify(['a']); // committed while the route was reading
    const started = Date.now();
    expect(await hub.wait('a', 5_000, undefined, before)).toBe(true);
    expect(Date.now() - started).toBeLessThan(1_000);
    // Another host's change, or none at all, does not cut a wait short.
    const now = hub.generation('a');
    hub.notify(['b']);
    expect(await hub.wait('a', 30, undefined, now)).toBe(false);
  });

  it('counts a broadcast as a change for every host', async () => {
    const hub = new AssignmentHub();
    const before = hub.generation('x');
    hub.notify(null);
    expect(await hub.wait('x', 5_000, undefined, before)).toBe(true);
  });

  it('stops waiting when the request is aborted', async () => {
    const hub = new AssignmentHub();
    const ctrl = new AbortController();
    const w = hub.wait('a', 5_000, ctrl.signal);
    ctrl.abort();
    expect(await w).toBe(false);
  });

  it('reuses a host\'s assignments read only while nothing was announced for it, and not for long', () => {
    const hub = new AssignmentHub();
    const g = hub.generation('a');
    hub.remember('a', g, ['x'], 1_000);
    expect(hub.cached('a', hub.generation('a'), 2_000)).toEqual(['x']);
    expect(hub.cached('b', hub.generation('b'), 2_000)).toBeUndefined();
    // Past the age bound it is read again.
    expect(hub.cached('a', hub.generation('a'), 1_000 + ASSIGNMENTS_CACHE_MS)).toBeUndefined();
    // A change announced for the host, or for everyone, makes it stale at once.
    hub.notify(['b']);
    expect(hub.cached('a', hub.generation('a'), 2_000)).toEqual(['x']);
    hub.notify(['a']);
    expect(hub.cached('a', hub.generation('a'), 2_000)).toBeUndefined();
    hub.remember('a', hub.generation('a'), ['y'], 2_000);
    hub.notify(null);
    expect(hub.cached('a', hub.generation('a'), 2_000)).toBeUndefined();
  });
});

import { describe, expect, it } from 'vitest';
import { parseDriftFlags } from './agent-command.ts';

describe('sluice agent --drift flags', () => {
  it('defaults to report every 60 s; enforce takes --drift-networkd', () => {
    expect(parseDriftFlags({})).toEqual({ policy: 'report', intervalMs: 60_000 });
    expect(parseDriftFlags({ drift: 'enforce', driftNetworkd: true, driftInterval: '30s' })).toEqual({ policy: 'enforce', intervalMs: 30_000, networkd: true });
    expect(parseDriftFlags({ driftRouting: 'on' })).toEqual({ policy: 'report', intervalMs: 60_000, routing: true });
    expect(parseDriftFlags({ driftRouting: 'off' })).toMatchObject({ routing: false });
  });

  it.each([
    [{ drift: 'fix' }, /--drift must be report or enforce/],
    [{ drift: 'report', driftNetworkd: true }, /--drift-networkd needs --drift enforce/],
    [{ driftInterval: '10ms' }, /--drift-interval/],
    [{ driftRouting: 'yes' }, /--drift-routing must be on or off/],
    [{ driftInterval: 'soon' }, /--drift-interval/],
  ])('refuses %o', (flags, message) => {
    expect(() => parseDriftFlags(flags)).toThrow(message);
  });
});

import { describe, expect, it } from 'vitest';
import { updatesView } from './drift-routes.ts';

const update = { package: 'libssl3', installed: '3.0.2-0ubuntu1.14', candidate: '3.0.2-0ubuntu1.15', security: true };

function hostWith(packages: Record<string, string>) {
  return { name: 'h1', labels: {}, enrolledAt: 1, lastSeen: 1, facts: { packages, pendingUpdates: { checkedAt: 1, updates: [update] } } };
}

describe('updatesView', () => {
  it('finds a Multi-Arch package that an older agent listed as name:arch', () => {
    const view = updatesView([hostWith({ 'libssl3:amd64': '3.0.2-0ubuntu1.14' })], false) as any;
    expect(view.updates).toEqual([{ package: 'libssl3', candidate: update.candidate, security: true, hosts: [{ name: 'h1', installed: update.installed }] }]);
    expect(view.hosts[0].installed).toEqual({ libssl3: '3.0.2-0ubuntu1.14' });
  });

  it('prefers the bare name, and says not installed when neither form is there', () => {
    expect((updatesView([hostWith({ libssl3: '1', 'libssl3:i386': '2' })], false) as any).hosts[0].installed).toEqual({ libssl3: '1' });
    expect((updatesView([hostWith({ zlib1g: '1' })], false) as any).hosts[0].installed).toEqual({ libssl3: null });
  });
});

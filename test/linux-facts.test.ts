// Facts from the machine itself (read-only): real os-release, dpkg database, apt sources, ip.
import { describe, expect, it } from 'vitest';
import { collectFacts, factsDigest } from '../src/agent/facts/facts.ts';

const isDebian = await import('node:fs/promises').then((fs) => fs.access('/var/lib/dpkg/status').then(() => true, () => false));
if (!isDebian) console.warn('[linux-facts] SKIPPED: not a dpkg-based system');

describe.skipIf(!isDebian && process.env['CI'] !== 'true')('facts of this machine', () => {
  it('reads OS, packages, sources and routing, and the digest is stable', async () => {
    const a = await collectFacts({ root: '/' });
    expect(a.os?.id).toBeTruthy();
    expect(a.kernel).toMatch(/^\d+\.\d+/);
    expect(a.packages['dpkg']).toMatch(/^\d/);
    expect(a.aptSources.length + Object.keys(a.packages).length).toBeGreaterThan(0);
    expect(typeof a.networkd.manageForeignRoutingPolicyRules).toBe('boolean');
    expect(a.routing?.rules.some((r) => r['priority'] === 32766)).toBe(true);
    const b = await collectFacts({ root: '/' });
    expect(factsDigest(b)).toBe(factsDigest(a));
  });
});

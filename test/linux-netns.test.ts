// The Datadog mechanism in network namespaces: Cilium-style rules on each host, a real .deb whose
// postinst deletes foreign rules (as the networkd restart did), installed with the apt runner
// inside the host's namespace on the host's own dpkg root. ipRulesPreserved catches it and names
// the rules; restoreInvariants brings them back and the host reaches the hub again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAptRunner } from '../src/agent/changes/apt.ts';
import type { ChangeContext } from '../src/agent/changes/change-runner.ts';
import type { CheckContext, InvariantSnapshot } from '../src/agent/checks/check-runner.ts';
import { createIpRulesPreservedCheck } from '../src/agent/checks/ip-rules-preserved.ts';
import { createRoutesPreservedCheck } from '../src/agent/checks/routes-preserved.ts';
import { describeRule, restoreInvariants, takeInvariantSnapshot } from '../src/agent/checks/invariants.ts';
import { collectFacts } from '../src/agent/facts/facts.ts';
import { readPackageInventory } from '../src/agent/facts/dpkg-packages.ts';
import { preflight } from '../src/agent/preflight/preflight.ts';
import type { AptChange } from '../src/core/types.ts';
import { addCiliumRules, canReachHub, createNetnsFleet, netnsSuiteMode, startHubListener } from './netns/netns-harness.ts';
import type { NetnsFleet, NetnsHost } from './netns/netns-harness.ts';
import { TEST_PACKAGE, buildTestRepo, createHostRoot } from './helpers/test-debs.ts';

const mode = await netnsSuiteMode('linux-netns');
const log = { info() {}, warn() {}, error() {} };
const PORT = 7411;
const v2: AptChange = { kind: 'apt', install: { [TEST_PACKAGE]: '2' }, remove: [], timeout: 120_000 };
const v1: AptChange = { kind: 'apt', install: { [TEST_PACKAGE]: '1' }, remove: [], timeout: 120_000 };
const spec = { kind: 'ipRulesPreserved' as const, name: 'rules', timeout: 5000 };

let dir = '';
let fleet: NetnsFleet | null = null;
let listener: { stop: () => void } | null = null;
const roots = new Map<string, string>();

function stepCtx(h: NetnsHost, stepKey: string): ChangeContext {
  return { stateDir: join(dir, h.ns, 'state'), stepKey, timeout: 120_000, fileDirs: [], root: roots.get(h.ns)!, log };
}

function checkCtx(baseline: InvariantSnapshot): CheckContext {
  return { root: '/', log, baseline };
}

async function installed(h: NetnsHost): Promise<Record<string, string>> {
  return { ...(await readPackageInventory(roots.get(h.ns)!, h.run)).packages };
}

describe.skipIf(mode === 'skip')('Datadog mechanism in network namespaces', () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-linux-netns-'));
    const repo = await buildTestRepo(dir);
    fleet = await createNetnsFleet(2, 'n');
    listener = await startHubListener(fleet, PORT);
    for (const h of fleet.hosts) {
      await addCiliumRules(h);
      roots.set(h.ns, await createHostRoot(join(dir, h.ns, 'root'), repo, h.run));
      const res = await createAptRunner(h.run).apply(v1, stepCtx(h, 'setup'));
      if (!res.ok) throw new Error(res.message);
    }
  });
  afterAll(async () => {
    listener?.stop();
    await fleet?.teardown();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('preflight flags the host: networkd (default settings) would drop its 3 Cilium rules', async () => {
    const h = fleet!.hosts[0]!;
    const facts = await collectFacts({ root: roots.get(h.ns)!, run: h.run });
    expect(facts.networkd.manageForeignRoutingPolicyRules).toBe(true);
    expect(facts.packages).toEqual({ [TEST_PACKAGE]: '1' });
    expect(facts.hazards.map((f) => f.message)).toContain(
      'would lose 3 routing-policy rules if systemd-networkd restarts (ManageForeignRoutingPolicyRules=yes)',
    );
    const findings = await preflight(facts, v2, { root: roots.get(h.ns)!, run: h.run });
    // Its routes in tables 11 and 2004 were added by hand too, so networkd would drop them as well.
    expect(findings.map((f) => f.code).sort()).toEqual(['maintainer-script-network', 'networkd-foreign-routes', 'networkd-foreign-rules']);
    expect(findings.find((f) => f.code === 'networkd-foreign-routes')?.message).toBe('would lose 3 routes if systemd-networkd restarts (ManageForeignRoutes=yes)');
  });

  it('v2 deletes the rules: ipRulesPreserved names them, restore brings the host back', async () => {
    const [canary, other] = fleet!.hosts as [NetnsHost, NetnsHost];
    const baseline = await takeInvariantSnapshot({ run: canary.run });
    expect(baseline.rules.map(describeRule)).toEqual(expect.arrayContaining(['9: from all fwmark 0x200/0xf00 lookup 2004', '100: from all lookup local', '111: from 10.231.0.10 lookup 11']));
    expect(await canReachHub(canary, PORT)).toBe(true);
    const before = await createIpRulesPreservedCheck(canary.run).run(spec, checkCtx(baseline));
    expect(before.ok, before.message).toBe(true);

    const applied = await createAptRunner(canary.run).apply(v2, stepCtx(canary, 'r_datadog'));
    expect(applied.ok, applied.message).toBe(true); // the package itself "succeeds", like systemd did

    const after = await createIpRulesPreservedCheck(canary.run).run(spec, checkCtx(baseline));
    expect(after.ok).toBe(false);
    expect(after.message).toContain('expected the 7 routing-policy rules present before the change; 3 vanished: 9: from all fwmark 0x200/0xf00 lookup 2004; 100: from all lookup local; 111: from 10.231.0.10 lookup 11');
    expect(await canReachHub(canary, PORT)).toBe(false);
    const routes = await createRoutesPreservedCheck(canary.run).run({ kind: 'routesPreserved', name: 'routes', timeout: 5000 }, checkCtx(baseline));
    expect(routes.ok, routes.message).toBe(true); // only rules went

    const restored = await restoreInvariants(baseline, { run: canary.run });
    expect(restored.ok, restored.message).toBe(true);
    expect(restored.restoredRules).toHaveLength(3);
    expect((await createIpRulesPreservedCheck(canary.run).run(spec, checkCtx(baseline))).ok).toBe(true);
    expect(await canReachHub(canary, PORT)).toBe(true);

    const back = await createAptRunner(canary.run).rollback(v2, stepCtx(canary, 'r_datadog'), applied.record ?? null);
    expect(back.ok, back.message).toBe(true);
    expect(await installed(canary)).toEqual({ [TEST_PACKAGE]: '1' });

    // The other host shares nothing: its rules, packages and reachability are untouched.
    const otherRules = (await takeInvariantSnapshot({ run: other.run })).rules.map(describeRule);
    expect(otherRules).toEqual(expect.arrayContaining(['100: from all lookup local', '111: from 10.231.0.11 lookup 11']));
    expect(await installed(other)).toEqual({ [TEST_PACKAGE]: '1' });
    expect(await canReachHub(other, PORT)).toBe(true);
  });

  it('kops 2025: only the per-pod rule vanishes, the host stays reachable, ipRulesPreserved still fails', async () => {
    const h = fleet!.hosts[1]!;
    const baseline = await takeInvariantSnapshot({ run: h.run });
    const del = await h.run(['ip', 'rule', 'del', 'priority', '111'], { timeoutMs: 5000 });
    expect(del.exitCode).toBe(0);
    expect(await canReachHub(h, PORT)).toBe(true);
    const res = await createIpRulesPreservedCheck(h.run).run(spec, checkCtx(baseline));
    expect(res.ok).toBe(false);
    expect(res.message).toContain('1 vanished: 111: from 10.231.0.11 lookup 11');
    expect((await restoreInvariants(baseline, { run: h.run })).restoredRules).toEqual(['111: from 10.231.0.11 lookup 11']);
  });

  it('routesPreserved names a vanished route per table, and restore puts it back', async () => {
    const h = fleet!.hosts[1]!;
    const baseline = await takeInvariantSnapshot({ run: h.run });
    expect((await h.run(['ip', 'route', 'del', 'default', 'table', '11'], { timeoutMs: 5000 })).exitCode).toBe(0);
    const check = createRoutesPreservedCheck(h.run);
    const res = await check.run({ kind: 'routesPreserved', name: 'routes', timeout: 5000 }, checkCtx(baseline));
    expect(res.ok).toBe(false);
    expect(res.message).toContain('1 vanished (1 in table 11): table 11: default via 10.231.0.1 dev eth0');
    const restored = await restoreInvariants(baseline, { run: h.run });
    expect(restored.restoredRoutes).toEqual(['table 11: default via 10.231.0.1 dev eth0']);
    expect((await check.run({ kind: 'routesPreserved', name: 'routes', timeout: 5000 }, checkCtx(baseline))).ok).toBe(true);
  });
});

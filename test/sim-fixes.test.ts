// Results the simulator used to get wrong (issue 13), each against what the real agent and engine do.
import { describe, expect, it } from 'vitest';
import { parsePlan } from '../src/core/plan/parse-plan.ts';
import type { Plan } from '../src/core/types.ts';
import { generateFleet } from '../src/sim/fleet.ts';
import { parseScenario } from '../src/sim/parse-scenario.ts';
import { simulate } from '../src/sim/simulate.ts';
import { at, builtin } from './sim-helpers.ts';

const tcpOnly = (p: Plan): Plan => ({ ...p, checks: p.checks.filter((c) => c.kind === 'tcp') });
const anyMayFail = (p: Plan): Plan => ({ ...p, budget: { ...p.budget, failedPerWave: { percent: 100 }, failedTotal: { percent: 100 } } });

/** A small fleet whose change cuts hosts off; operators repair them `repair` after (spread over 20 s). */
function mini(extra = ''): string {
  return `name: mini
start: 2023-03-07T18:00:00Z
duration: 14h
fleet:
  hosts: 200
  labels:
    os: { ubuntu-22.04: 50%, ubuntu-20.04: 50% }
  providers:
    - name: gcp
      regions:
        - { name: europe-west1, share: 100%, zones: [b, c] }
change:
  name: systemd
  hosts: { os: ubuntu-22.04 }
  breaks:
    effects: [hostConnectivity, ipRulesLost]
spread:
  replicate: { at: 2023-03-08T06:00:00Z, within: 10m }
${extra}plan:
  file: plans/mini.yaml
  startAt: 2023-03-07T19:00:00Z
`;
}

const plan = (body: string): Plan =>
  parsePlan(
    `name: mini-plan
change:
  apt: { install: { systemd: "249" }, timeout: 5m }
${body}`,
    'mini-plan.yaml',
  );

describe('simulator fidelity fixes', () => {
  it('confirmWindow 0s turns commit-confirmed off: no local rollback, the canary stays cut off until the server acts', () => {
    const { scenario, plan: p } = builtin('datadog-2023');
    const on = simulate(scenario, p, { hosts: 2000, seed: 1 }).runs.controlled;
    const off = simulate(scenario, { ...p, confirmWindow: 0 }, { hosts: 2000, seed: 1 }).runs.controlled;
    // With the window, the failing invariant check rolls the host back at once.
    expect(on.rollout!.reason).toContain('rolled back locally (commit-confirmed)');
    expect(at(on.timeline, '2023-03-07T20:00:00.000Z').impairedPct).toBe(0);
    // Without it the agent never reverts by itself: the cut-off canary goes silent, and its
    // rollback cannot reach it, so it stays impaired (until the operators' repair, 3 h later).
    expect(off.rollout!.reason).toMatch(/silent: no report for 30s/);
    expect(off.rollout!.reason).not.toContain('rolled back locally');
    expect(off.rollout!.reason).toContain('rollback not confirmed');
    expect(at(off.timeline, '2023-03-07T20:00:00.000Z').impairedPct).toBeGreaterThan(0);
  });

  it('a host cut off that comes back before its confirm window ends sends what it queued: the rollout ends', () => {
    // Operators repair each cut-off host within 20 s, before silentAfter (2m) and the window (5m).
    const s = parseScenario(mini('recovery:\n  repair: { after: 0s, over: 20s }\n'), 'mini.yaml');
    const p = plan(`waves:
  - { name: canary, size: 2, bake: 10m }
  - { name: rest, parallel: 10%, bake: 10m }
checks:
  - tcp: { host: 10.0.0.1, port: 443, timeout: 2s }
budget: { failedPerWave: 0, failedTotal: 0, silentAfter: 2m }
onFailure: rollback
confirmWindow: 5m`);
    const r = simulate(s, p, { seed: 1 }).runs.controlled;
    // Its queued apply and (failed) check reports arrive once it is back: the budget acts.
    expect(r.rollout!.state).toBe('rolled_back');
    expect(r.rollout!.reason).toMatch(/check failed: tcp 10\.0\.0\.1:443 failed/);
  });

  it('a budget that lets every host fail goes through every wave and completes', () => {
    const { scenario, plan: p } = builtin('datadog-2023');
    const r = simulate(scenario, anyMayFail(tcpOnly(p)), { hosts: 2000, seed: 1 }).runs.controlled;
    expect(r.rollout!.state).toBe('completed');
    expect(r.rollout!.waves.every((w) => w.state === 'completed')).toBe(true);
    expect(r.rollout!.waves.reduce((a, w) => a + w.failed, 0)).toBeGreaterThan(1000);
  });

  it('a plan that targets hosts the change is not for changes them without breaking them', () => {
    const s = parseScenario(mini(), 'mini.yaml');
    const p = plan(`waves:
  - { name: all, bake: 10m }
budget: { failedPerWave: 100%, failedTotal: 100%, silentAfter: 1m }
onFailure: halt
confirmWindow: 0s`);
    const r = simulate(s, p, { seed: 1 });
    const c = r.runs.controlled;
    expect(c.hostsChanged).toBe(200);
    // Only the Ubuntu 22.04 hosts (the change's `hosts`) break, as uncontrolled.
    expect(c.impairedHosts).toBe(r.runs.uncontrolled.hostsChanged);
    expect(c.impairedHosts).toBeLessThan(130);
  });

  it('an apply before the package reaches the host\'s mirror fails and breaks nothing', () => {
    const { scenario, plan: p } = builtin('datadog-2023');
    // AWS's mirror has the package from 19:05, Azure's from 19:20; start the rollout at 19:00.
    const early = { ...scenario, plan: { ...scenario.plan, startAt: Date.parse('2023-03-07T19:00:00Z') } };
    const r = simulate(early, p, { hosts: 2000, seed: 1 }).runs.controlled;
    expect(r.rollout!.reason).toMatch(/us-east-1-\d+: apply failed: systemd 249\.11-0ubuntu3\.7 is not on the aws mirror until 2023-03-07T19:05:00\.000Z/);
    // Only the GCP canary (mirror 18:50) got the change.
    expect(r.hostsChanged).toBe(1);
    expect(r.rollout!.waves[0]!.failed).toBe(1);
  });

  it('an apply that outlasts the change\'s timeout fails and leaves the host unchanged', () => {
    const s = parseScenario(mini(), 'mini.yaml');
    const slow = { ...s, change: { ...s.change, applyTime: 10 * 60_000 } }; // 5 to 15 minutes; timeout 5m
    const p = plan(`waves:
  - { name: canary, size: 3, bake: 10m }
  - { name: rest, bake: 10m }
budget: { failedPerWave: 100%, failedTotal: 100%, silentAfter: 1m }
onFailure: halt
confirmWindow: 60s`);
    const r = simulate(slow, p, { seed: 1 }).runs.controlled;
    expect(r.rollout!.state).toBe('completed');
    const failed = r.rollout!.waves.reduce((a, w) => a + w.failed, 0);
    // Only the applies that would have taken 5 minutes or less went through (about a quarter).
    expect(failed).toBeGreaterThan(100);
    expect(r.hostsChanged).toBe(200 - failed);
  });
});

describe('recovery.stop: the spread stops, nothing is healed', () => {
  it('a replication stopped a minute after the first impairment reaches only the hosts it had reached', () => {
    const base = `name: stop
start: 2023-03-08T05:00:00Z
duration: 6h
fleet:
  hosts: 1000
  providers:
    - name: gcp
      regions:
        - { name: r1, share: 100%, zones: [a] }
change:
  name: config
  applyTime: 2s
  breaks: { effects: [crashLoop] }
spread:
  replicate: { at: 2023-03-08T06:00:00Z, within: 10m }
plan:
  file: plans/gcp-2025.yaml
`;
    const { plan: p } = builtin('gcp-2025');
    const all = simulate(parseScenario(base, 's.yaml'), p, { seed: 1 }).runs.uncontrolled;
    const stopped = simulate(parseScenario(`${base}recovery:\n  stop: { after: 1m }\n`, 's.yaml'), p, { seed: 1 }).runs.uncontrolled;
    expect(all.hostsChanged).toBe(1000);
    // About 1 minute of a 10-minute replication: ~10% of the hosts, and they stay broken to the end.
    expect(stopped.hostsChanged).toBeGreaterThan(50);
    expect(stopped.hostsChanged).toBeLessThan(150);
    expect(stopped.timeline.at(-1)!.impairedPct).toBeCloseTo((stopped.hostsChanged / 1000) * 100, 1);
  });
});

describe('hostCrashLoop: a host so broken its agent cannot run', () => {
  const scenario = (effects: string) => `name: crash
start: 2023-03-08T05:00:00Z
duration: 12h
fleet:
  hosts: 400
  labels: { env: { prod: 95%, experimental: 5% } }
  providers:
    - name: gcp
      regions:
        - { name: r1, share: 100%, zones: [a] }
change:
  name: kernel
  breaks: { effects: [${effects}] }
spread:
  replicate: { at: 2023-03-08T07:00:00Z, within: 10m }
recovery:
  repair: { after: 2h, over: 1h }
plan:
  file: plans/x.yaml
  startAt: 2023-03-08T05:00:00Z
`;
  const p = plan(`waves:
  - { name: canary, match: { env: experimental }, size: 2, bake: 10m }
  - { name: rest, parallel: 10%, bake: 10m }
checks:
  - tcp: { host: 10.0.0.1, port: 443, timeout: 2s }
budget: { failedPerWave: 0, failedTotal: 0, silentAfter: 1m }
onFailure: rollback
confirmWindow: 2m`);

  it('gets no local rollback (unlike a host only cut off), goes silent and stays down until repaired', () => {
    const cut = simulate(parseScenario(scenario('hostConnectivity'), 'c.yaml'), p, { seed: 1 }).runs.controlled;
    const crash = simulate(parseScenario(scenario('hostCrashLoop'), 'c.yaml'), p, { seed: 1 }).runs.controlled;
    // Cut off: the agent rolls back at the end of its 2-minute window and is back.
    expect(cut.rollout!.state).toBe('rolled_back');
    expect(at(cut.timeline, '2023-03-08T06:00:00.000Z').impairedPct).toBe(0);
    // Crash-looping: nothing runs on the host; the engine sees silence, its rollback cannot be
    // delivered, and the canary stays down until the operators' repair (2 h after).
    expect(crash.rollout!.reason).toMatch(/silent: no report for 1m/);
    expect(at(crash.timeline, '2023-03-08T06:00:00.000Z').impairedPct).toBeGreaterThan(0);
    expect(crash.timeline.at(-1)!.impairedPct).toBe(0);
  });
});

describe('change.breaks.after: effects that start after the change lands', () => {
  const src = `name: late
start: 2025-06-12T10:00:00Z
duration: 8h
fleet:
  hosts: 300
  labels: { env: { prod: 95%, experimental: 5% } }
  providers:
    - name: gcp
      regions:
        - { name: r1, share: 100%, zones: [a] }
change:
  name: config
  applyTime: 2s
  breaks: { effects: [crashLoop], after: 20m }
spread:
  replicate: { at: 2025-06-12T11:00:00Z, within: 10s }
plan:
  file: plans/x.yaml
`;
  const withBake = (bake: string) =>
    parsePlan(
      `name: late-plan
change: { file: { path: /etc/x, content: "1" } }
waves:
  - { name: canary, match: { env: experimental }, size: 2, bake: ${bake} }
  - { name: rest, parallel: 20%, bake: ${bake} }
checks:
  - systemdUnitActive: { unit: x.service }
checkInterval: 30s
budget: { failedPerWave: 0, failedTotal: 0, silentAfter: 1m }
onFailure: rollback
confirmWindow: 60s`,
      'late.yaml',
    );

  it('a bake longer than the delay catches it at the next round of checks', () => {
    const r = simulate(parseScenario(src, 'late.yaml'), withBake('30m'), { seed: 1 }).runs.controlled;
    expect(r.rollout!.state).toBe('rolled_back');
    expect(r.rollout!.waves).toHaveLength(1);
    expect(r.rollout!.reason).toMatch(/check failed: systemdUnitActive x\.service failed/);
    // The first check passed; the failure is reported ~20 minutes after the canary's apply.
    const fail = Date.parse(r.rollout!.firstFailureAt!);
    expect(fail - Date.parse('2025-06-12T10:00:00Z')).toBeGreaterThan(20 * 60_000);
    expect(fail - Date.parse('2025-06-12T10:00:00Z')).toBeLessThan(22 * 60_000);
  });

  it('a bake shorter than the delay lets it through: completed, every host then impaired', () => {
    const r = simulate(parseScenario(src, 'late.yaml'), withBake('10m'), { seed: 1 }).runs.controlled;
    expect(r.rollout!.state).toBe('completed');
    expect(r.timeline.at(-1)!.impairedPct).toBe(100);
  });
});

describe('a host replaced while its step is in flight', () => {
  it('goes silent: the new instance knows nothing of the step (the rollout does not hang)', () => {
    const s = parseScenario(
      `name: replaced
start: 2023-03-07T18:00:00Z
duration: 6h
fleet:
  hosts: 100
  providers:
    - name: aws
      regions:
        - { name: r1, share: 100%, zones: [a] }
change:
  name: systemd
  breaks: { effects: [hostConnectivity] }
spread:
  replicate: { at: 2023-03-08T06:00:00Z, within: 10m }
remediation:
  aws: { replace: { failedFor: 5m, replacementBoot: 3m } }
plan:
  file: plans/x.yaml
`,
      'r.yaml',
    );
    const p = plan(`waves:
  - { name: canary, size: 1, bake: 10m }
  - { name: rest, bake: 10m }
checks:
  - tcp: { host: 10.0.0.1, port: 443, timeout: 2s }
budget: { failedPerWave: 0, failedTotal: 0, silentAfter: 30m }
onFailure: halt   # keep it for forensics
confirmWindow: 0s`);
    const r = simulate(s, p, { seed: 1 }).runs.controlled;
    expect(r.terminated).toBe(1);
    expect(r.rollout!.state).toBe('halted');
    expect(r.rollout!.reason).toMatch(/silent: no report for 30m/);
  });
});

describe('fleet.perCluster: label values shared by a whole cluster', () => {
  it('draws the value once per cluster; other labels are drawn as before', () => {
    const src = (extra: string) => `name: pc
start: 2023-03-07T18:00:00Z
duration: 1h
fleet:
  hosts: 2000
  labels:
    os: { ubuntu-22.04: 50%, ubuntu-20.04: 50% }
    env: { prod: 90%, staging: 10% }
${extra}  providers:
    - name: aws
      regions:
        - { name: r1, share: 100%, zones: [a, b], clusters: 8 }
change:
  name: x
  breaks: { effects: [hostConnectivity] }
spread:
  replicate: { at: 2023-03-07T18:30:00Z, within: 1m }
plan:
  file: plans/x.yaml
`;
    const per = generateFleet(parseScenario(src('  perCluster: [os]\n'), 'pc.yaml'), 2000, 1);
    const flat = generateFleet(parseScenario(src(''), 'pc.yaml'), 2000, 1);
    const osByCluster = new Map<string, Set<string>>();
    for (const l of per.labels) {
      const set = osByCluster.get(l['cluster']!) ?? new Set();
      set.add(l['os']!);
      osByCluster.set(l['cluster']!, set);
    }
    expect(osByCluster.size).toBe(8);
    for (const set of osByCluster.values()) expect(set.size).toBe(1);
    // Per host, os is mixed within every cluster; env, zone and cluster are the same draws either way.
    expect(new Set(flat.labels.filter((l) => l['cluster'] === 'r1-c1').map((l) => l['os'])).size).toBe(2);
    expect(per.labels.map((l) => `${l['env']} ${l['zone']} ${l['cluster']}`)).toEqual(flat.labels.map((l) => `${l['env']} ${l['zone']} ${l['cluster']}`));
  });
});

describe('change.breaks.again: a trigger that recurs', () => {
  it('breaks the changed hosts again every morning, repaired ones included', () => {
    const src = (again: string) => `name: again
start: 2025-06-10T00:00:00Z
duration: 3d
fleet:
  hosts: 500
  providers:
    - name: aws
      regions:
        - { name: r1, share: 100%, zones: [a] }
change:
  name: os update
  breaks: { effects: [podEgress]${again} }
spread:
  replicate: { at: 2025-06-10T06:00:00Z, within: 10m }
recovery:
  repair: { after: 1h, over: 2h }
plan:
  file: plans/x.yaml
`;
    const p = builtin('heroku-2025').plan;
    const once = simulate(parseScenario(src(''), 'a.yaml'), p, { seed: 1 }).runs.uncontrolled;
    const daily = simulate(parseScenario(src(', again: { onCalendar: "*-*-* 6:00", randomizedDelay: 30m }'), 'a.yaml'), p, { seed: 1 }).runs.uncontrolled;
    for (const day of ['10', '11', '12']) {
      expect(at(daily.timeline, `2025-06-${day}T06:40:00.000Z`).impairedPct).toBeGreaterThan(60); // the first repairs are under way
      expect(at(daily.timeline, `2025-06-${day}T12:00:00.000Z`).impairedPct).toBe(0);
    }
    expect(at(once.timeline, '2025-06-11T06:40:00.000Z').impairedPct).toBe(0);
    expect(daily.impairedHosts).toBeGreaterThan(1400); // ~500 hosts, three times
  });
});

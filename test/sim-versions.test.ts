// change.versions: an artefact regenerated every few minutes, each version good or bad (drawn per
// seed, the chance of a bad one growing along badShare): the hosts that have it break while a bad
// version is current and heal when a good one reaches them; a known-good version ends it.
import { describe, expect, it } from 'vitest';
import { parsePlan } from '../src/core/plan/parse-plan.ts';
import { formatProblem } from '../src/core/plan/parse-plan.ts';
import { checkScenario, parseScenario } from '../src/sim/parse-scenario.ts';
import { simulate } from '../src/sim/simulate.ts';
import type { TimelinePoint } from '../src/sim/simulate.ts';
import { badShareAt, drawVersions } from '../src/sim/versions.ts';

const T = (hhmm: string) => Date.parse(`2025-11-18T${hhmm}:00Z`);

const source = (versions: string, effects = 'requestErrors', extra = '') => `name: flap
start: 2025-11-18T10:00:00Z
duration: 6h
fleet:
  hosts: 300
  labels:
    env: { prod: 90%, canary: 10% }
  providers:
    - name: edge
      regions:
        - { name: lhr, share: 100%, zones: [a, b] }
change:
  name: feature file
  versions:
${versions}
  breaks: { effects: [${effects}]${extra} }
spread:
  replicate: { at: 2025-11-18T10:00:00Z, within: 0s }
plan:
  file: plans/flap.yaml
  startAt: 2025-11-18T10:30:00Z
`;

const FLAP = `    every: 5m
    within: 1m
    badShare:
      - { at: 2025-11-18T11:00:00Z, share: 50% }
      - { at: 2025-11-18T11:55:00Z, share: 50% }
      - { at: 2025-11-18T12:00:00Z, share: 100% }
    knownGood: { at: 2025-11-18T14:30:00Z, within: 5m }`;

const plan = (waves: string, check = 'http: { url: "http://127.0.0.1/health" }') =>
  parsePlan(
    `name: flap-plan
change:
  file: { path: /etc/bot/features.json, content: "{}", mode: "0644" }
waves:
${waves}
checks:
  - ${check}
checkInterval: 30s
budget: { failedPerWave: 0, failedTotal: 0, silentAfter: 2m }
onFailure: rollback
`,
    'flap-plan.yaml',
  );

const LONG_BAKE = `  - { name: canary, match: { env: canary }, bake: 3h }
  - { name: prod, match: { env: prod }, bake: 30m }`;

/** How many times the impaired share goes from 0 to more than 0 between two times. */
function onsets(timeline: readonly TimelinePoint[], from: number, to: number): number {
  let n = 0;
  let was = false;
  for (const p of timeline) {
    const t = Date.parse(p.t);
    if (t < from || t > to) continue;
    const now = p.impairedPct > 0;
    if (now && !was) n++;
    was = now;
  }
  return n;
}

const impairedAt = (timeline: readonly TimelinePoint[], hhmm: string) => timeline.find((p) => Date.parse(p.t) === T(hhmm))!.impairedPct;

describe('change.versions: an artefact whose versions flap, then stick bad', () => {
  const s = parseScenario(source(FLAP), 'flap.yaml');
  const r = simulate(s, plan(LONG_BAKE), { seed: 1 });
  const u = r.runs.uncontrolled;

  it('the chance of a bad version is linear between the badShare points', () => {
    const points = s.change.versions!.badShare;
    expect(badShareAt(points, T('10:59'))).toBe(0);
    expect(badShareAt(points, T('11:00'))).toBe(0.5);
    expect(badShareAt(points, T('11:30'))).toBe(0.5);
    expect(badShareAt(points, T('11:55') + 150_000)).toBeCloseTo(0.75, 6);
    expect(badShareAt(points, T('13:00'))).toBe(1);
  });

  it('nothing breaks before the first bad version; hosts break and heal as versions flip; then stuck bad', () => {
    expect(Date.parse(u.firstImpairedAt!)).toBeGreaterThanOrEqual(T('11:00'));
    expect(Date.parse(u.firstImpairedAt!)).toBeLessThan(T('12:00'));
    // Flapping: several separate episodes while the share grows.
    expect(onsets(u.timeline, T('11:00'), T('12:00'))).toBeGreaterThanOrEqual(2);
    // From 12:00 every version is bad: every host is impaired until the known-good one.
    expect(impairedAt(u.timeline, '12:10')).toBe(100);
    expect(impairedAt(u.timeline, '14:30')).toBe(100);
    expect(onsets(u.timeline, T('12:10'), T('14:30'))).toBe(1);
  });

  it('the known-good version reaches every host within its `within` and stays', () => {
    expect(impairedAt(u.timeline, '14:32')).toBeGreaterThan(0);
    expect(impairedAt(u.timeline, '14:32')).toBeLessThan(100);
    expect(impairedAt(u.timeline, '14:35')).toBe(0);
    expect(u.timeline.filter((p) => Date.parse(p.t) >= T('14:35')).every((p) => p.impairedPct === 0)).toBe(true);
    expect(u.regions[0]!.recoveredAt).not.toBeNull();
    expect(Date.parse(u.regions[0]!.recoveredAt!)).toBeLessThan(T('14:35'));
  });

  it('a version reaches each host within `within` of its generation: a bad one takes a minute to break them all', () => {
    const first = Date.parse(u.firstImpairedAt!);
    const generation = first - ((first - T('10:00')) % (5 * 60_000));
    const mid = u.timeline.find((p) => Date.parse(p.t) > generation && Date.parse(p.t) < generation + 60_000);
    if (mid) expect(mid.impairedPct).toBeLessThan(100);
    expect(u.timeline.find((p) => Date.parse(p.t) === generation + 60_000)!.impairedPct).toBe(100);
  });

  it('is the same for the same seed, and the two runs see the same versions', () => {
    const again = simulate(s, plan(LONG_BAKE), { seed: 1 });
    expect(JSON.stringify(again)).toBe(JSON.stringify(r));
    expect(drawVersions(s, 1)!.bad).toEqual(drawVersions(s, 1)!.bad);
    const other = simulate(s, plan(LONG_BAKE), { seed: 2 }).runs.uncontrolled;
    expect(other.timeline.map((p) => p.impairedPct)).not.toEqual(u.timeline.map((p) => p.impairedPct));
  });

  it('through a plan whose canary bakes across the flapping, a check sees a bad version during the bake and the rollout rolls back', () => {
    const c = r.runs.controlled;
    expect(c.rollout!.state).toBe('rolled_back');
    expect(c.rollout!.waves[0]!.name).toBe('canary');
    expect(c.rollout!.reason).toMatch(/in wave canary/);
    expect(c.rollout!.reason).toMatch(/check failed: http .* failed/);
    // Caught at the first bad version that reached the canary, within a check interval or two.
    expect(Date.parse(c.haltedAt!) - Date.parse(c.firstImpairedAt!)).toBeLessThan(2 * 60_000);
    expect(c.hostsChanged).toBeLessThan(0.2 * r.hosts);
    expect(c.timeline.filter((p) => Date.parse(p.t) > Date.parse(c.haltedAt!) + 10 * 60_000).every((p) => p.impairedPct === 0)).toBe(true);
  });

  it('a plan whose bakes end before the first bad version completes, and every host it reached breaks later', () => {
    const short = plan(`  - { name: canary, match: { env: canary }, bake: 5m }
  - { name: prod, match: { env: prod }, bake: 5m }`);
    const c = simulate(s, short, { seed: 1 }).runs.controlled;
    expect(c.rollout!.state).toBe('completed');
    expect(c.peakImpairedPct).toBe(100);
  });

  it('a host that gets the change while a bad version is current breaks at once: its first check fails', () => {
    const late = { ...s, plan: { ...s.plan, startAt: T('12:30') } };
    const c = simulate(late, plan(LONG_BAKE), { seed: 1 }).runs.controlled;
    expect(c.rollout!.state).toBe('rolled_back');
    expect(Date.parse(c.firstImpairedAt!)).toBeLessThan(T('12:32'));
    expect(Date.parse(c.haltedAt!)).toBeLessThan(T('12:32'));
  });

  it('stopAt: no version is generated from then on, the current one stays', () => {
    const stopped = parseScenario(source(FLAP.replace('    knownGood', '    stopAt: 2025-11-18T12:30:00Z\n    knownGood').replace('14:30:00Z, within: 5m', '15:30:00Z, within: 5m')), 's.yaml');
    expect(stopped.change.versions!.stopAt).toBe(T('12:30'));
    const v = drawVersions(stopped, 1)!;
    expect(v.bad.length).toBe(30); // 10:00 to 12:25, every 5 minutes
    const x = simulate(stopped, plan(LONG_BAKE), { seed: 1 }).runs.uncontrolled;
    expect(impairedAt(x.timeline, '15:00')).toBe(100);
    expect(impairedAt(x.timeline, '15:40')).toBe(0);
  });

  it('knownGood.restart: a share of the broken hosts recover only when restarted, within `over` of the push', () => {
    const slow = parseScenario(source(FLAP.replace('knownGood: { at: 2025-11-18T14:30:00Z, within: 5m }', 'knownGood: { at: 2025-11-18T14:30:00Z, within: 5m, restart: { share: 20%, over: 1h } }')), 'r.yaml');
    const x = simulate(slow, plan(LONG_BAKE), { seed: 1 }).runs.uncontrolled;
    expect(impairedAt(x.timeline, '14:36')).toBeGreaterThan(10);
    expect(impairedAt(x.timeline, '14:36')).toBeLessThan(25);
    expect(impairedAt(x.timeline, '15:00')).toBeGreaterThan(0);
    expect(impairedAt(x.timeline, '15:00')).toBeLessThan(impairedAt(x.timeline, '14:36'));
    expect(impairedAt(x.timeline, '15:30')).toBe(0);
    expect(Date.parse(x.regions[0]!.recoveredAt!)).toBeGreaterThan(T('15:20'));
  });

  it('a version that cuts hosts off mid-bake: the step goes silent silentAfter after the cut-off, not earlier', () => {
    const cut = parseScenario(source(FLAP, 'hostConnectivity'), 'cut.yaml');
    const c = simulate(cut, plan(LONG_BAKE, 'http: { url: "http://127.0.0.1/health" }'), { seed: 1 }).runs.controlled;
    expect(c.rollout!.state).toBe('rolled_back');
    const silentAt = Date.parse(c.haltedAt!) - Date.parse(c.firstImpairedAt!);
    expect(c.rollout!.reason).toMatch(/silent/);
    expect(silentAt).toBeGreaterThanOrEqual(2 * 60_000 - 5_000);
    expect(silentAt).toBeLessThan(3 * 60_000);
  });
});

describe('change.versions: errors', () => {
  const FILE = 'flap.yaml';
  const errors = (src: string) => checkScenario(src, FILE).problems.map((p) => formatProblem(FILE, p));

  it('accepts the flapping scenario', () => {
    expect(errors(source(FLAP))).toEqual([]);
  });

  const cases: { name: string; versions: string; extra?: string; expected: string[] }[] = [
    { name: 'within longer than every', versions: FLAP.replace('within: 1m', 'within: 6m'), expected: [`${FILE}:16:13: change.versions.within must not be longer than change.versions.every: a version reaches every host before the next one is generated`] },
    { name: 'every of 0s', versions: FLAP.replace('every: 5m', 'every: 0s').replace('within: 1m', 'within: 0s'), expected: [`${FILE}:15:12: change.versions.every must be more than 0s`] },
    { name: 'badShare points out of order', versions: FLAP.replace('at: 2025-11-18T11:55:00Z', 'at: 2025-11-18T10:00:00Z'), expected: [`${FILE}:19:15: change.versions.badShare: each point must come after the one before (2025-11-18T10:00:00.000Z is not after 2025-11-18T11:00:00.000Z)`] },
    { name: 'badShare not a list', versions: '    every: 5m\n    badShare: 50%', expected: [`${FILE}:16:15: change.versions.badShare must be a non-empty list of {at, share} (the chance a version is bad from that time)`] },
    { name: 'badShare share not a percentage', versions: FLAP.replace('share: 100%', 'share: 1'), expected: [`${FILE}:20:44: change.versions.badShare share must be a percentage like 40% (got 1)`] },
    { name: 'missing badShare', versions: '    every: 5m', expected: [`${FILE}:14:3: missing required key "badShare" in change.versions`] },
    { name: 'unknown key', versions: `${FLAP}\n    period: 5m`, expected: [`${FILE}:22:5: unknown key "period" in change.versions (expected one of: every, within, badShare, stopAt, knownGood)`] },
    { name: 'knownGood without a time', versions: FLAP.replace('knownGood: { at: 2025-11-18T14:30:00Z, within: 5m }', 'knownGood: { within: 5m }'), expected: [`${FILE}:21:5: missing required key "at" in change.versions.knownGood`] },
    { name: 'knownGood.restart without over', versions: FLAP.replace('within: 5m }', 'within: 5m, restart: { share: 10% } }'), expected: [`${FILE}:21:56: missing required key "over" in change.versions.knownGood.restart`] },
    { name: 'combined with breaks.after', versions: FLAP, extra: ', after: 1m', expected: [`${FILE}:14:3: change.versions cannot be combined with change.breaks.after: a bad version breaks a host when it reaches it`] },
  ];

  it.each(cases)('$name', ({ versions, extra, expected }) => {
    expect(errors(source(versions, 'requestErrors', extra ?? ''))).toEqual(expected);
  });
});

// Malformed scenario files: each gives exactly the located FILE:LINE:COL messages a user sees.
import { describe, expect, it } from 'vitest';
import { formatProblem } from '../src/core/plan/parse-plan.ts';
import { checkScenario, parseScenario } from '../src/sim/parse-scenario.ts';
import { ValidationError } from '../src/core/errors.ts';

const VALID = `name: mini
start: 2023-03-07T18:00:00Z
duration: 48h
fleet:
  hosts: 100
  labels:
    os: { ubuntu-22.04: 90%, ubuntu-20.04: 10% }
  providers:
    - name: aws
      regions:
        - { name: us-east-1, share: 100%, zones: [a, b] }
change:
  name: systemd
  hosts: { os: ubuntu-22.04 }
  breaks:
    effects: [hostConnectivity]
spread:
  timers:
    mirrors: { aws: 2023-03-07T19:00:00Z }
    download: { onCalendar: "*-*-* 6,18:00", randomizedDelay: 12h }
    install: { onCalendar: "*-*-* 6:00", randomizedDelay: 60m }
plan:
  file: plans/mini.yaml
`;

const FILE = 'scenarios/mini.yaml';
const errors = (source: string) => checkScenario(source, FILE).problems.map((p) => formatProblem(FILE, p));

/** A `recovery.repair` before `plan:` (line 23); its value starts at column 11 of line 23. */
function repairCase(name: string, repair: string, expected: string[]) {
  return { name, from: 'plan:\n', to: `recovery:\n  repair: ${repair}\nplan:\n`, expected };
}

function repairCases() {
  const curve = (points: string) => `{ after: 3h, curve: [${points}] }`;
  return [
    repairCase('repair along a curve', curve('{ by: 1d, share: 50% }, { by: 3d, share: 90% }, { by: 10d, share: 99% }'), []),
    repairCase('repair with neither over nor curve', '{ after: 3h }', [`${FILE}:23:11: recovery.repair needs over (each host at a random time within it) or curve (a list of {by, share})`]),
    repairCase('repair with both over and curve', '{ after: 3h, over: 1d, curve: [{ by: 1d, share: 50% }] }', [`${FILE}:23:34: recovery.repair takes over (uniform) or curve (shares by time), not both`]),
    repairCase('repair curve that is not a list', '{ after: 3h, curve: 1d }', [`${FILE}:23:31: recovery.repair.curve must be a list of 1 to 50 points like {by: 1d, share: 50%}`]),
    repairCase('repair curve with no points', curve(''), [`${FILE}:23:31: recovery.repair.curve must be a list of 1 to 50 points like {by: 1d, share: 50%}`]),
    repairCase('repair curve point before after', curve('{ by: 2h, share: 50% }'), [
      `${FILE}:23:38: by of point 1 of recovery.repair.curve (2h) must be later than recovery.repair.after (3h): by counts from the first impairment, like after`,
    ]),
    repairCase('repair curve times not increasing', curve('{ by: 3d, share: 50% }, { by: 1d, share: 90% }'), [
      `${FILE}:23:62: by of point 2 of recovery.repair.curve (1d) must be later than the by before it (3d): by counts from the first impairment, like after`,
    ]),
    repairCase('repair curve shares not increasing', curve('{ by: 1d, share: 90% }, { by: 3d, share: 90% }'), [
      `${FILE}:23:73: share of point 2 of recovery.repair.curve (90%) must be more than the share before it (90%): shares are cumulative, of the impaired hosts`,
    ]),
    repairCase('repair curve first share of 0%', curve('{ by: 1d, share: 0% }'), [
      `${FILE}:23:49: share of point 1 of recovery.repair.curve (0%) must be more than 0%: shares are cumulative, of the impaired hosts`,
    ]),
    repairCase('repair curve share past 100%', curve('{ by: 1d, share: 50% }, { by: 3d, share: 120% }'), [
      `${FILE}:23:73: share of point 2 of recovery.repair.curve must be a percentage like 40% (got "120%")`,
    ]),
    repairCase('repair curve point without a share', curve('{ by: 1d }'), [`${FILE}:23:32: missing required key "share" in point 1 of recovery.repair.curve`]),
  ];
}

describe('scenario files', () => {
  it('accepts the valid base scenario', () => {
    const s = parseScenario(VALID, FILE);
    expect(s.fleet.providers[0]!.regions[0]!.zones).toEqual(['a', 'b']);
    expect(s.spread.kind).toBe('timers');
    expect(s.plan.startAt).toBe(Date.parse('2023-03-07T18:00:00Z'));
  });

  const cases: { name: string; from: string; to: string; expected: string[] }[] = [
    { name: 'unknown top-level key', from: 'duration: 48h', to: 'duration: 48h\ndurration: 2h', expected: [`${FILE}:4:1: unknown key "durration" in the scenario (expected one of: name, description, start, duration, fleet, change, spread, remediation, guard, recovery, plan)`] },
    { name: 'bad duration', from: 'duration: 48h', to: 'duration: 2 days', expected: [`${FILE}:3:11: duration must be a duration like 30s, 10m, 12h or 1h30m (got "2 days")`] },
    { name: 'start without a zone', from: 'start: 2023-03-07T18:00:00Z', to: 'start: 2023-03-07 18:00', expected: [`${FILE}:2:8: start must be a UTC time like 2023-03-08T06:00:00Z (got "2023-03-07 18:00")`] },
    { name: 'shares not adding to 100%', from: 'ubuntu-20.04: 10%', to: 'ubuntu-20.04: 5%', expected: [`${FILE}:7:9: shares of label "os" in fleet.labels add up to 95%, not 100%`] },
    { name: 'share that is not a percentage', from: 'share: 100%', to: 'share: 1.0', expected: [`${FILE}:11:37: share of region "us-east-1" must be a percentage like 40% (got 1)`] },
    { name: 'unknown effect', from: 'effects: [hostConnectivity]', to: 'effects: [hostConectivity]', expected: [`${FILE}:16:15: unknown effect "hostConectivity" (expected one of: hostConnectivity, podEgress, crashLoop, hostCrashLoop, ipRulesLost, routesLost, requestErrors)`] },
    { name: 'unsupported calendar', from: '"*-*-* 6:00"', to: '"Mon *-*-* 6:00"', expected: [`${FILE}:21:28: onCalendar "Mon *-*-* 6:00" is not supported (use "*-*-* 6:00", "*-*-* 6,18:00", "hourly" or "daily")`] },
    { name: 'mirror for an unknown provider', from: 'mirrors: { aws: 2023-03-07T19:00:00Z }', to: 'mirrors: { aws: 2023-03-07T19:00:00Z, gce: 2023-03-07T19:00:00Z }', expected: [`${FILE}:19:43: mirror for unknown provider "gce" (providers: aws)`] },
    { name: 'missing change', from: 'change:\n  name: systemd\n  hosts: { os: ubuntu-22.04 }\n  breaks:\n    effects: [hostConnectivity]\n', to: '', expected: [`${FILE}:1:1: missing required key "change" in the scenario`] },
    { name: 'plan path escaping the folder', from: 'file: plans/mini.yaml', to: 'file: ../../etc/passwd', expected: [`${FILE}:23:9: plan.file must be a relative path inside the scenario's folder (no "/" at the start, no "..")`] },
    { name: 'label the simulator sets', from: '    os: {', to: '    region: eu\n    os: {', expected: [`${FILE}:7:5: label "region" is set by the simulator; it cannot be given in fleet.labels`] },
    { name: 'YAML syntax: duplicate key', from: 'duration: 48h', to: 'duration: 48h\nduration: 12h', expected: [`${FILE}:4:1: YAML: Map keys must be unique`] },
    { name: 'unquoted calendar is a YAML alias', from: '"*-*-* 6:00"', to: '*-*-* 6:00', expected: [`${FILE}:21:34: YAML: Unexpected scalar at node end (a value starting with "*" is a YAML alias: quote it, e.g. onCalendar: "*-*-* 6:00")`] },
    { name: 'YAML alias to a list', from: 'zones: [a, b]', to: 'zones: &z [a, b]', expected: [] },
    { name: 'errorShare without requestErrors', from: 'effects: [hostConnectivity]', to: 'effects: [hostConnectivity]\n    errorShare: 30%', expected: [`${FILE}:17:5: change.breaks.errorShare applies to the requestErrors effect only: add requestErrors to change.breaks.effects, or remove errorShare`] },
    { name: 'errorShare that is not a percentage', from: 'effects: [hostConnectivity]', to: 'effects: [requestErrors]\n    errorShare: 0.3', expected: [`${FILE}:17:17: change.breaks.errorShare must be a percentage like 40% (got 0.3)`] },
    { name: 'errorShare of 0%', from: 'effects: [hostConnectivity]', to: 'effects: [requestErrors]\n    errorShare: 0%', expected: [`${FILE}:17:17: change.breaks.errorShare must be more than 0% (a host failing no request is not broken)`] },
    {
      name: 'YAML alias used for a value',
      from: 'share: 100%, zones: [a, b] }',
      to: 'share: 50%, zones: &z [a, b] }\n        - { name: us-west-2, share: 50%, zones: *z }',
      expected: [`${FILE}:12:49: YAML aliases (*z) are not supported in scenario files; write the value out`],
    },
    ...repairCases(),
  ];

  it.each(cases)('$name', ({ from, to, expected }) => {
    expect(VALID.includes(from)).toBe(true);
    expect(errors(VALID.replace(from, to))).toEqual(expected);
  });

  it('parseScenario throws a ValidationError carrying every problem', () => {
    const bad = VALID.replace('duration: 48h', 'duration: soon').replace('hosts: 100', 'hosts: -1');
    expect(() => parseScenario(bad, FILE)).toThrow(ValidationError);
    try {
      parseScenario(bad, FILE);
    } catch (e) {
      expect((e as ValidationError).problems.map((p) => `${p.line}:${p.col}`)).toEqual(['3:11', '5:10']);
    }
  });
});

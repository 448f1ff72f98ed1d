import { describe, expect, it } from 'vitest';
import { ValidationError } from '../errors.ts';
import { runsAfterRollback, type Plan } from '../types.ts';
import { MAX_PLAN_BYTES, checkPlan, parsePlan } from './parse-plan.ts';
import { planWarnings } from './plan-warnings.ts';

const MINIMAL = `name: minimal
change:
  command: { apply: [/usr/local/bin/flag, "on"] }
waves:
  - name: all
`;

describe('parsePlan: normalised values and defaults', () => {
  it('fills every default of a minimal plan', () => {
    const plan = parsePlan(MINIMAL, 'minimal.yaml');
    expect(plan).toEqual<Plan>({
      name: 'minimal',
      change: { kind: 'command', apply: ['/usr/local/bin/flag', 'on'], timeout: 60_000 },
      hosts: { match: {} },
      waves: [{ name: 'all', bake: 0, approve: false }],
      checks: [],
      checkInterval: 10_000,
      budget: { failedPerWave: { count: 0 }, failedTotal: { count: 0 }, silentAfter: 60_000 },
      onFailure: 'rollback',
      preflight: 'block',
      confirmWindow: 60_000,
      ineligible: 'skip',
      queue: false,
    });
  });

  it('reads every wave field, quantities as counts or percents', () => {
    const plan = parsePlan(
      `name: p
change: { command: { apply: [x] } }
hosts: { match: { os: ubuntu-22.04, role: [web, api] } }
waves:
  - { name: canary, match: { env: staging }, size: 1, spread: [provider, os], bake: 30m }
  - { name: staging, match: { env: staging }, parallel: 10%, bake: 2h }
  - { name: first-zone, match: { env: prod }, each: zone, limit: 1, approve: true, bake: 1d }
  - { name: prod, match: { env: prod }, each: region, size: "50%", bake: 0 }
budget: { failedPerWave: "10%", failedTotal: 2, silentAfter: 90s }
onFailure: halt
preflight: warn
checkInterval: 5s
confirmWindow: 2m
`,
      'p.yaml',
    );
    expect(plan.hosts.match).toEqual({ os: 'ubuntu-22.04', role: ['web', 'api'] });
    expect(plan.waves).toEqual([
      { name: 'canary', match: { env: 'staging' }, size: { count: 1 }, spread: ['provider', 'os'], bake: 1_800_000, approve: false },
      { name: 'staging', match: { env: 'staging' }, parallel: { percent: 10 }, bake: 7_200_000, approve: false },
      { name: 'first-zone', match: { env: 'prod' }, each: 'zone', limit: 1, bake: 86_400_000, approve: true },
      { name: 'prod', match: { env: 'prod' }, each: 'region', size: { percent: 50 }, bake: 0, approve: false },
    ]);
    expect(plan.budget).toEqual({ failedPerWave: { percent: 10 }, failedTotal: { count: 2 }, silentAfter: 90_000 });
    expect([plan.onFailure, plan.preflight, plan.checkInterval, plan.confirmWindow]).toEqual(['halt', 'warn', 5000, 120_000]);
  });

  it('keeps numbers as written where they are text: label values, versions, argv, file modes', () => {
    const apt = parsePlan(
      `name: p
change: { apt: { install: { systemd: 249.11-0ubuntu3.7, tool: 1.10 }, remove: [snapd], timeout: 15m } }
hosts: { match: { os_version: 22.04, zone: [1, 2] } }
waves: [{ name: all }]
`,
      'p.yaml',
    );
    expect(apt.change).toEqual({ kind: 'apt', install: { systemd: '249.11-0ubuntu3.7', tool: '1.10' }, remove: ['snapd'], timeout: 900_000 });
    expect(apt.hosts.match).toEqual({ os_version: '22.04', zone: ['1', '2'] });
    const file = parsePlan(
      `name: p
change:
  file: { path: /etc/app/app.conf, content: "x=1\\n", mode: 0640, owner: root, group: 0, reload: [systemctl, reload, app] }
waves: [{ name: all }]
`,
      'p.yaml',
    );
    expect(file.change).toEqual({
      kind: 'file',
      path: '/etc/app/app.conf',
      content: 'x=1\n',
      mode: 0o640,
      owner: 'root',
      group: '0',
      reload: ['systemctl', 'reload', 'app'],
      timeout: 60_000,
    });
    const argv = parsePlan(`name: p\nchange: { command: { apply: [sleep, 5], rollback: [echo, true] } }\nwaves: [{ name: all }]\n`, 'p');
    expect(argv.change).toMatchObject({ apply: ['sleep', '5'], rollback: ['echo', 'true'] });
  });

  it('reads afterRollback on a check; which checks run after a rollback by default', () => {
    const base = 'name: p\nchange:\n  command: { apply: ["true"] }\nwaves:\n  - { name: all }\nchecks:\n';
    const plan = parsePlan(`${base}  - { command: ["test", "-f", "/run/flag"] }\n  - { tcp: { host: 127.0.0.1, port: 80 } }\n  - { command: ["true"], name: up, afterRollback: true }\n  - { tcp: { host: 127.0.0.1, port: 81 }, afterRollback: false }\n`, 'p');
    expect(plan.checks.map(runsAfterRollback)).toEqual([false, true, true, false]);
    expect(plan.checks[1]).not.toHaveProperty('afterRollback');
    const bad = checkPlan(`${base}  - { tcp: { host: 127.0.0.1, port: 80 }, afterRollback: sometimes }\n`, 'p').problems;
    expect(bad).toHaveLength(1);
  });

  it('reads ineligible (skip|fail) and queue (boolean)', () => {
    const base = 'name: p\nchange:\n  command: { apply: ["true"] }\nwaves:\n  - { name: all }\n';
    expect(parsePlan(`${base}ineligible: fail\nqueue: true\n`, 'p')).toMatchObject({ ineligible: 'fail', queue: true });
    expect(checkPlan(`${base}ineligible: maybe\n`, 'p').problems).toHaveLength(1);
    expect(checkPlan(`${base}queue: yes please\n`, 'p').problems).toHaveLength(1);
  });

  it('accepts confirmWindow 0s (commit-confirmed off) but not a negative or unitless one', () => {
    const base = `name: p\nchange: { command: { apply: [x] } }\nwaves: [{ name: all }]\n`;
    expect(parsePlan(`${base}confirmWindow: 0s\n`, 'p').confirmWindow).toBe(0);
    expect(checkPlan(`${base}confirmWindow: 30\n`, 'p').problems).toHaveLength(1);
  });

  it('names checks by kind and target unless named, with timeouts beside or inside the kind', () => {
    const plan = parsePlan(
      `name: p
change: { command: { apply: [x] } }
waves: [{ name: all }]
checks:
  - name: flag-is-on
    command: [test, -f, /run/flag]
  - ipRulesPreserved: {}
  - routesPreserved:
  - tcp: { host: 10.0.0.1, port: 443, timeout: 2s }
  - http: { url: "http://127.0.0.1:8080/healthz", bodyMatch: ok }
    timeout: 3s
  - systemdUnitActive: { unit: systemd-networkd.service }
  - command: [true]
`,
      'p.yaml',
    );
    expect(plan.checks).toEqual([
      { kind: 'command', name: 'flag-is-on', command: ['test', '-f', '/run/flag'], timeout: 10_000 },
      { kind: 'ipRulesPreserved', name: 'ipRulesPreserved', timeout: 10_000 },
      { kind: 'routesPreserved', name: 'routesPreserved', timeout: 10_000 },
      { kind: 'tcp', name: 'tcp 10.0.0.1:443', host: '10.0.0.1', port: 443, timeout: 2000 },
      { kind: 'http', name: 'http http://127.0.0.1:8080/healthz', url: 'http://127.0.0.1:8080/healthz', status: 200, bodyMatch: 'ok', timeout: 3000 },
      { kind: 'systemdUnitActive', name: 'systemdUnitActive systemd-networkd.service', unit: 'systemd-networkd.service', timeout: 10_000 },
      { kind: 'command', name: 'command true', command: ['true'], timeout: 10_000 },
    ]);
  });

  it('reads `checks:` with every item commented out as no checks', () => {
    const plan = parsePlan(`${MINIMAL}checks:\n  # - command: [true]\n`, 'm.yaml');
    expect(plan.checks).toEqual([]);
  });

  it('allows a command change without rollback', () => {
    const plan = parsePlan(MINIMAL, 'm.yaml');
    expect(plan.change.kind === 'command' && plan.change.rollback).toBeUndefined();
  });

  it('lets a later wave take what an earlier sized or limited wave left', () => {
    const { problems } = checkPlan(
      `name: p
change: { command: { apply: [x] } }
waves:
  - { name: one, size: 1 }
  - { name: zones, each: zone, limit: 2 }
  - { name: staging, match: { env: staging } }
  - { name: rest }
`,
      'p.yaml',
    );
    expect(problems).toEqual([]);
  });
});

describe('parsePlan: refusals', () => {
  it('throws a ValidationError carrying every located problem', () => {
    const source = `name: p\nchange: { command: { apply: [] } }\nwaves: []\n`;
    let caught: unknown;
    try {
      parsePlan(source, 'p.yaml');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ValidationError);
    const error = caught as ValidationError;
    expect(error.code).toBe('invalid');
    expect(error.problems.map((p) => [p.line, p.col])).toEqual([
      [2, 29],
      [3, 8],
    ]);
    expect(error.message).toContain('p.yaml:2:29: "apply" in change.command must not be empty');
  });

  it('refuses a bodyMatch regular expression that does not compile, or flags that do nothing', () => {
    const plan = (bodyMatch: string) =>
      `${MINIMAL}checks:\n  - http: { url: "http://127.0.0.1:8080/", bodyMatch: ${JSON.stringify(bodyMatch)} }\n`;
    expect(checkPlan(plan('/(unclosed/'), 'p.yaml').problems).toEqual([
      { line: 7, col: 55, message: expect.stringContaining('"/(unclosed/" is not a valid regular expression') },
    ]);
    expect(checkPlan(plan('/ok/g'), 'p.yaml').problems).toEqual([
      { line: 7, col: 55, message: expect.stringContaining("flags can only be i, m, s and u") },
    ]);
    expect(checkPlan(plan('/^(ready|ok)$/im'), 'p.yaml').problems).toEqual([]);
  });

  it('reads reboot: the shorthand, the mapping with hooks and timeout, never as none; refuses the rest', () => {
    expect(parsePlan(`${MINIMAL}reboot: ifRequired\n`, 'p.yaml').reboot).toEqual({ when: 'ifRequired', timeout: 600_000 });
    expect(parsePlan(`${MINIMAL}reboot: never\n`, 'p.yaml').reboot).toBeUndefined();
    const full = parsePlan(`${MINIMAL}reboot:\n  when: always\n  before: [kubectl, drain, node-1]\n  after: [kubectl, uncordon, node-1]\n  timeout: 15m\n`, 'p.yaml');
    expect(full.reboot).toEqual({ when: 'always', before: ['kubectl', 'drain', 'node-1'], after: ['kubectl', 'uncordon', 'node-1'], timeout: 900_000 });
    expect(checkPlan(`${MINIMAL}reboot: sometimes\n`, 'p.yaml').problems[0]?.message).toMatch(/"reboot" must be one of never, ifRequired, always|reboot.*never, ifRequired, always/);
    expect(checkPlan(`${MINIMAL}reboot:\n  before: [x]\n`, 'p.yaml').problems[0]?.message).toBe('missing required key "when" in reboot');
    expect(checkPlan(`${MINIMAL}reboot:\n  when: always\n  after: "kubectl uncordon"\n`, 'p.yaml').problems[0]?.message).toMatch(/write a list/);
    // A reboot longer than silentAfter would count the host as silent: plan check warns.
    expect(planWarnings(parsePlan(`${MINIMAL}reboot: always\nbudget: { silentAfter: 2m }\n`, 'p.yaml'))).toContainEqual(
      expect.stringMatching(/^reboot: a rebooting host is silent, and silentAfter 2m is shorter than reboot.timeout 10m/),
    );
    expect(planWarnings(parsePlan(`${MINIMAL}reboot: { when: always, timeout: 90s }\nbudget: { silentAfter: 2m }\n`, 'p.yaml')).filter((w) => w.startsWith('reboot'))).toEqual([]);
  });

  it('reads nested steps, and refuses what belongs to the steps on their wave', () => {
    const nested = `${MINIMAL.replace('  - name: all\n', '')}  - name: prod\n    each: region\n    steps:\n      - { name: first-zone, each: zone, limit: 1, bake: 1w, approve: true }\n      - { name: rest, bake: 2w }\n`;
    const plan = parsePlan(nested, 'p.yaml');
    expect(plan.waves).toEqual([
      { name: 'prod', each: 'region', bake: 0, approve: false, steps: [
        { name: 'first-zone', each: 'zone', limit: 1, bake: 604_800_000, approve: true },
        { name: 'rest', bake: 1_209_600_000, approve: false },
      ] },
    ]);
    const withBake = nested.replace('    each: region\n', '    each: region\n    bake: 1d\n');
    expect(checkPlan(withBake, 'p.yaml').problems.map((p) => p.message)).toEqual(['"bake" in wave "prod": a wave with "steps" takes bake per step (wave "prod"); move it into its steps']);
    const dup = nested.replace('name: rest', 'name: first-zone');
    expect(checkPlan(dup, 'p.yaml').problems[0]?.message).toMatch(/duplicate step name "first-zone"/);
    expect(checkPlan(nested.replace(/      - .*\n      - .*\n/, '    steps: []\n').replace('    steps:\n    steps: []', '    steps: []'), 'p.yaml').problems[0]?.message).toMatch(/must be a list of at least one step/);
  });

  it('caps the source size before parsing', () => {
    const big = `name: p\n# ${'x'.repeat(MAX_PLAN_BYTES)}\n`;
    const { plan, problems } = checkPlan(big, 'big.yaml');
    expect(plan).toBeNull();
    expect(problems).toEqual([{ line: 1, col: 1, message: expect.stringContaining('plan file is too large') }]);
  });

  it('bounds the number of waves', () => {
    const waves = Array.from({ length: 1001 }, (_, i) => `  - { name: w${i}, size: 1 }`).join('\n');
    const { problems } = checkPlan(`name: p\nchange: { command: { apply: [x] } }\nwaves:\n${waves}\n`, 'p.yaml');
    expect(problems).toEqual([{ line: 4, col: 3, message: '"waves" lists 1001 waves; at most 1000' }]);
  });

  it('refuses argv with a NUL byte and a file path outside the root', () => {
    const { problems } = checkPlan(
      `name: p\nchange: { command: { apply: ["a\\0b"] } }\nwaves: [{ name: all }]\n`,
      'p.yaml',
    );
    expect(problems.map((p) => p.message)).toEqual(['argument 1 of "apply" in change.command must not contain a NUL character']);
    const relative = checkPlan(`name: p\nchange: { file: { path: etc/x, content: "" } }\nwaves: [{ name: all }]\n`, 'p.yaml');
    expect(relative.problems.map((p) => p.message)).toEqual([
      '"path" in change.file must be an absolute file path without "." or ".." parts, got "etc/x"',
    ]);
  });
});

// `sluice plan check` as users meet it: a table of malformed plans with the exact line each must
// print, the command's output and exit codes, and every shipped example passing.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkPlan, formatProblem } from '../src/core/plan/parse-plan.ts';
import { registerPlanCommands, runPlanCheck } from '../src/cli/plan-command.ts';
import { runCli } from '../src/cli/run-cli.ts';
import { createTestIo } from '../src/cli/test-io.ts';

const FILE = 'plan.yaml';

/** A valid plan to break one piece at a time. */
const CHANGE = `change:
  command: { apply: [touch, /tmp/x], rollback: [rm, -f, /tmp/x] }
`;

const cases: { name: string; yaml: string; errors: string[] }[] = [
  {
    name: 'unknown key in a wave',
    yaml: `name: p
${CHANGE}waves:
  - name: canary
    sise: 1
`,
    errors: [
      'plan.yaml:6:5: unknown key "sise" in wave "canary" (expected one of: name, match, size, parallel, spread, each, limit, bake, approve, steps, window, blackout, gates)',
    ],
  },
  {
    name: 'unknown top-level key',
    yaml: `name: p
${CHANGE}wave:
  - name: canary
`,
    errors: [
      'plan.yaml:1:1: missing required key "waves" at top level',
      'plan.yaml:4:1: unknown key "wave" at top level (expected one of: name, change, hosts, waves, checks, checkInterval, budget, onFailure, preflight, confirmWindow, ineligible, queue, distinctApprover, gates, notify, reboot, window, blackout, emergency)',
    ],
  },
  {
    name: 'unknown change kind',
    yaml: `name: p
change:
  ansible: { playbook: site.yml }
waves: [{ name: all }]
`,
    errors: ['plan.yaml:3:3: unknown change kind "ansible" (expected one of: command, apt, file)'],
  },
  {
    name: 'two change kinds',
    yaml: `name: p
change:
  command: { apply: [touch, /tmp/x] }
  apt: { install: { curl: 7.81.0 } }
waves: [{ name: all }]
`,
    errors: ['plan.yaml:4:3: "change" has more than one kind ("command" and "apt"); a plan makes exactly one change'],
  },
  {
    name: 'empty argv and a shell string instead of a list',
    yaml: `name: p
change:
  command:
    apply: []
    rollback: "rm -f /tmp/x"
waves: [{ name: all }]
`,
    errors: [
      'plan.yaml:4:12: "apply" in change.command must not be empty: give the program and its arguments',
      'plan.yaml:5:15: "rollback" in change.command must be a command as a list of arguments, got "rm -f /tmp/x" (write a list: ["sh", "-c", "..."])',
    ],
  },
  {
    name: 'missing apply',
    yaml: `name: p
change:
  command: { rollback: [rm, /tmp/x] }
waves: [{ name: all }]
`,
    errors: ['plan.yaml:3:3: missing required key "apply" in change.command'],
  },
  {
    name: 'bad durations',
    yaml: `name: p
${CHANGE}waves:
  - { name: canary, bake: 30 }
  - { name: rest, bake: 5 min }
checkInterval: 0
`,
    errors: [
      'plan.yaml:5:27: "bake" in wave "canary" must be a duration like "30s", "10m" or "1h30m", got 30 (a number needs a unit: "30s")',
      'plan.yaml:6:25: "bake" in wave "rest" must be a duration like "30s", "10m" or "1h30m", got "5 min"',
      'plan.yaml:7:16: "checkInterval" must be longer than 0',
    ],
  },
  {
    name: 'bad percentages and counts',
    yaml: `name: p
${CHANGE}waves:
  - { name: canary, size: "150%", parallel: 0 }
  - { name: rest, size: 2.5, each: zone }
budget: { failedPerWave: -1, failedTotal: "0%" }
`,
    errors: [
      'plan.yaml:5:27: "size" in wave "canary" must be a percentage above 0% and at most 100%, got "150%"',
      'plan.yaml:5:45: "parallel" in wave "canary" must be at least 1, got 0',
      'plan.yaml:6:25: "size" in wave "rest" must be a count (a whole number) or a percentage like "10%", got 2.5',
      'plan.yaml:7:26: "failedPerWave" in budget must be at least 0, got -1',
      'plan.yaml:7:43: "failedTotal" in budget must be a percentage above 0% and at most 100%, got "0%"',
    ],
  },
  {
    name: 'missing required top-level keys',
    yaml: `name: p
`,
    errors: ['plan.yaml:1:1: missing required key "change" at top level', 'plan.yaml:1:1: missing required key "waves" at top level'],
  },
  {
    name: 'duplicate wave names',
    yaml: `name: p
${CHANGE}waves:
  - { name: canary, size: 1 }
  - { name: canary }
`,
    errors: ['plan.yaml:6:13: duplicate wave name "canary" (first used at line 5); give each wave its own name'],
  },
  {
    name: 'duplicate check names, explicit and by default',
    yaml: `name: p
${CHANGE}waves: [{ name: all }]
checks:
  - name: up
    command: [true]
  - name: up
    command: [false]
  - tcp: { host: 10.0.0.1, port: 443 }
  - tcp: { host: 10.0.0.1, port: 443, timeout: 2s }
`,
    errors: [
      'plan.yaml:8:11: duplicate check name "up" (first used at line 6); give each check its own name',
      'plan.yaml:11:5: duplicate check name "tcp 10.0.0.1:443" (first used at line 10); give each check its own name',
    ],
  },
  {
    name: 'duplicate keys',
    yaml: `name: p
name: q
${CHANGE}waves: [{ name: all, bake: 1m, bake: 2m }]
`,
    errors: [
      'plan.yaml:2:1: duplicate key "name" at top level (first at line 1); a key may appear once',
      'plan.yaml:5:32: duplicate key "bake" in wave "all" (first at line 5); a key may appear once',
    ],
  },
  {
    name: 'a wave whose match contradicts the targeting',
    yaml: `name: p
${CHANGE}hosts: { match: { os: ubuntu-22.04 } }
waves:
  - { name: debian, match: { os: [debian-12, debian-11] } }
`,
    errors: [
      'plan.yaml:6:34: wave "debian" selects no hosts: its match os: [debian-12, debian-11] contradicts hosts.match os: ubuntu-22.04',
    ],
  },
  {
    name: 'a wave left nothing by an earlier wave that takes everything it could match',
    yaml: `name: p
${CHANGE}waves:
  - { name: canary, match: { env: staging }, size: 1 }
  - { name: zones, match: { env: staging }, each: zone }
  - { name: zone-a, match: { env: staging, zone: a } }
  - { name: unzoned, match: { env: staging } }
  - { name: everything }
  - { name: prod, match: { env: prod } }
`,
    errors: [
      'plan.yaml:7:13: wave "zone-a" selects no hosts: the earlier wave "zones" takes every host this wave could match (give "zones" a size, or "each" with a limit, or narrow its match)',
      'plan.yaml:10:13: wave "prod" selects no hosts: the earlier wave "everything" takes every host this wave could match (give "everything" a size, or "each" with a limit, or narrow its match)',
    ],
  },
  {
    name: 'size 0 and limit without each',
    yaml: `name: p
${CHANGE}waves:
  - { name: none, size: 0 }
  - { name: rest, limit: 2 }
`,
    errors: [
      'plan.yaml:5:25: "size" in wave "none" is 0, so the wave selects no hosts (use at least 1, or remove the wave)',
      'plan.yaml:6:19: "limit" in wave "rest" needs "each": limit keeps the first N sub-waves of an "each" wave (to take N hosts, use "size")',
    ],
  },
  {
    name: 'wrong types',
    yaml: `name: p
${CHANGE}waves:
  - name: canary
    approve: yes
    spread: provider
    match: [env, prod]
onFailure: retry
`,
    errors: [
      'plan.yaml:6:14: "approve" in wave "canary" must be true or false, got "yes"',
      'plan.yaml:7:13: "spread" in wave "canary" must be a non-empty list of label keys, got "provider"',
      'plan.yaml:8:12: "match" in wave "canary" must be a mapping (key: value), got a list',
      'plan.yaml:9:12: "onFailure" must be one of: rollback, halt; got "retry"',
    ],
  },
  {
    name: 'checks: unknown kind, none, two kinds, bad fields',
    yaml: `name: p
${CHANGE}waves: [{ name: all }]
checks:
  - ping: { host: 10.0.0.1 }
  - name: lonely
  - tcp: { host: 10.0.0.1, port: 70000 }
    http: { url: "http://x" }
  - http: { url: "ftp://example.com/" }
  - name: unit
    systemdUnitActive: {}
`,
    errors: [
      'plan.yaml:6:5: unknown key "ping" in check 1 (expected name, timeout and one check kind: command, tcp, http, systemdUnitActive, ipRulesPreserved, routesPreserved)',
      'plan.yaml:7:5: check "lonely" needs one kind: command, tcp, http, systemdUnitActive, ipRulesPreserved, routesPreserved',
      'plan.yaml:9:5: check 3 has more than one kind ("tcp" and "http"); write one check per item',
      'plan.yaml:10:18: "url" in "http" of check 4 must be an http:// or https:// URL, got "ftp://example.com/"',
      'plan.yaml:12:5: missing required key "unit" in "systemdUnitActive" of check "unit"',
    ],
  },
  {
    name: 'apt: option injection and bad versions',
    yaml: `name: p
change:
  apt:
    install: { -oDpkg::Pre-Invoke=sh: 1.0, curl: --force }
    remove: [curl]
waves: [{ name: all }]
`,
    errors: [
      'plan.yaml:4:16: package name "-oDpkg::Pre-Invoke=sh" in change.apt.install is not valid (lowercase letters, digits, + . -, starting with a letter or digit)',
      'plan.yaml:4:50: version of "curl" in change.apt.install must be letters, digits and . + ~ : - (not starting with -), got "--force"',
    ],
  },
  {
    name: 'file: relative path, dot-dot, bad mode',
    yaml: `name: p
change:
  file: { path: /etc/../shadow, content: x, mode: 999 }
waves: [{ name: all }]
`,
    errors: [
      'plan.yaml:3:17: "path" in change.file must be an absolute file path without "." or ".." parts, got "/etc/../shadow"',
      'plan.yaml:3:51: "mode" in change.file must be an octal file mode like "0644", got 999',
    ],
  },
  {
    name: 'YAML syntax error',
    yaml: `name: p
waves: [{ name: all }
`,
    errors: ['plan.yaml:3:1: invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]'],
  },
  {
    name: 'aliases',
    yaml: `name: &n p
${CHANGE}waves: [{ name: *n }]
`,
    errors: ['plan.yaml:4:17: YAML aliases (*name) are not supported in plan files; write the value out'],
  },
  {
    name: 'empty file',
    yaml: `# nothing here
`,
    errors: ['plan.yaml:1:1: the plan is empty: it needs at least "name", "change" and "waves"'],
  },
  {
    name: 'not a mapping',
    yaml: `- name: p
`,
    errors: ['plan.yaml:1:1: the plan must be a mapping (key: value), got a list'],
  },
  {
    name: 'bad plan name',
    yaml: `name: "my plan!"
${CHANGE}waves: [{ name: all }]
`,
    errors: ['plan.yaml:1:7: "name" must be 1-100 characters of A-Z a-z 0-9 . _ -, got "my plan!"'],
  },
  {
    name: 'every problem in the file at once, in source order',
    yaml: `name: p
change:
  command: { apply: [touch, /tmp/x], timeout: soon }
hosts: { match: { "bad key!": x } }
waves:
  - { name: canary, spread: [zone, zone], each: "" }
checks:
  - http: { url: "http://127.0.0.1/", status: 99 }
budget: { silentAfter: 1 minute }
preflight: maybe
`,
    errors: [
      'plan.yaml:3:47: "timeout" in change.command must be a duration like "30s", "10m" or "1h30m", got "soon"',
      'plan.yaml:4:19: "bad key!" in "match" in hosts is not a label key (1-63 characters of A-Z a-z 0-9 . _ / -)',
      'plan.yaml:6:36: "spread" in wave "canary" lists "zone" twice',
      'plan.yaml:6:49: "each" in wave "canary" must not be empty',
      'plan.yaml:8:47: "status" in "http" of check 1 must be between 100 and 599, got 99',
      'plan.yaml:9:24: "silentAfter" in budget must be a duration like "30s", "10m" or "1h30m", got "1 minute"',
      'plan.yaml:10:12: "preflight" must be one of: block, warn; got "maybe"',
    ],
  },
  {
    name: 'apt: a package both installed and removed, nothing to do',
    yaml: `name: p
change:
  apt: { install: { curl: 7.81.0-1 }, remove: [curl] }
waves: [{ name: all }]
`,
    errors: ['plan.yaml:3:48: package "curl" is both installed and removed in change.apt'],
  },
  {
    name: 'multiple YAML documents',
    yaml: `name: p
---
name: q
`,
    errors: ['plan.yaml:2:1: invalid YAML: Source contains multiple documents; please use YAML.parseAllDocuments()'],
  },
];

describe('plan check: malformed plans give exact located errors', () => {
  it.each(cases)('$name', ({ yaml, errors }) => {
    const { plan, problems } = checkPlan(yaml, FILE);
    expect(problems.map((p) => formatProblem(FILE, p))).toEqual(errors);
    expect(plan).toBeNull();
  });
});

describe('plan check: the command', () => {
  const valid = `name: p
${CHANGE}waves: [{ name: all, bake: 5s }]
`;
  const invalid = `name: p
${CHANGE}waves:
  - { name: all, bake: 5 }
  - { name: all }
`;

  it('prints a summary on stdout and exits 0 for a valid plan', async () => {
    const io = createTestIo({ files: { 'ok.yaml': valid } });
    expect(await runPlanCheck('ok.yaml', { json: false }, io)).toBe(0);
    expect(io.stdout.text).toContain('ok.yaml: valid\nplan "p"\n');
    expect(io.stdout.text).toContain('1. all: all remaining hosts; bake 5s');
    expect(io.stderr.text).toMatch(/^(ok.yaml: warning: [^\n]*\n)*$/); // only warnings (bake shorter than the default confirm window)
  });

  it('prints one FILE:LINE:COL line per problem on stderr and exits 2 for an invalid plan', async () => {
    const io = createTestIo({ files: { 'bad.yaml': invalid } });
    expect(await runPlanCheck('bad.yaml', { json: false }, io)).toBe(2);
    expect(io.stderr.text).toBe(
      'bad.yaml:5:24: "bake" in wave "all" must be a duration like "30s", "10m" or "1h30m", got 5 (a number needs a unit: "5s")\n' +
        'bad.yaml:6:13: duplicate wave name "all" (first used at line 5); give each wave its own name\n',
    );
    expect(io.stdout.text).toBe('');
  });

  it('--json reports validity, located problems and the summary', async () => {
    const io = createTestIo({ files: { 'bad.yaml': invalid, 'ok.yaml': valid } });
    expect(await runPlanCheck('bad.yaml', { json: true }, io)).toBe(2);
    const bad = JSON.parse(io.stdout.text) as Record<string, unknown>;
    expect(bad).toEqual({
      file: 'bad.yaml',
      valid: false,
      problems: [
        { line: 5, col: 24, message: expect.stringContaining('"bake" in wave "all"') },
        { line: 6, col: 13, message: expect.stringContaining('duplicate wave name "all"') },
      ],
      summary: [],
      warnings: [],
    });
    const okIo = createTestIo({ files: { 'ok.yaml': valid } });
    expect(await runPlanCheck('ok.yaml', { json: true }, okIo)).toBe(0);
    const ok = JSON.parse(okIo.stdout.text) as { valid: boolean; problems: unknown[]; summary: string[] };
    expect(ok.valid).toBe(true);
    expect(ok.problems).toEqual([]);
    expect(ok.summary[0]).toBe('plan "p"');
  });

  it('warns (exit 0) when a wave bakes for less than the confirm window', async () => {
    const plan = `name: p
change:
  command: { apply: ["true"], rollback: ["true"] }
waves:
  - { name: canary, size: 1, bake: 5s }
  - { name: rest, bake: 2m }
confirmWindow: 1m
`;
    const io = createTestIo({ files: { 'p.yaml': plan } });
    expect(await runPlanCheck('p.yaml', { json: false }, io)).toBe(0);
    expect(io.stderr.text).toBe(
      'p.yaml: warning: wave canary: bake 5s is shorter than the confirm window 1m; the wave cannot complete before its hosts confirm, so it takes at least the confirm window\n',
    );
    const json = createTestIo({ files: { 'p.yaml': plan } });
    expect(await runPlanCheck('p.yaml', { json: true }, json)).toBe(0);
    expect((JSON.parse(json.stdout.text) as { warnings: string[] }).warnings).toHaveLength(1);
  });

  it('an unreadable file exits 2 with a clear message', async () => {
    const io = createTestIo();
    expect(await runPlanCheck('missing.yaml', { json: false }, io)).toBe(2);
    expect(io.stderr.text).toBe('error: cannot read plan file missing.yaml: no such file\n');
  });

  it('runs as `sluice plan check` through the CLI runner with the contract exit codes', async () => {
    const run = async (argv: string[], files: Record<string, string>) => {
      const io = createTestIo({ files });
      const code = await runCli(argv, io, (program) => registerPlanCommands(program, io));
      return { code, io };
    };
    const ok = await run(['plan', 'check', 'ok.yaml'], { 'ok.yaml': valid });
    expect(ok.code).toBe(0);
    expect(ok.io.stdout.text).toContain('ok.yaml: valid');
    const bad = await run(['plan', 'check', 'bad.yaml'], { 'bad.yaml': invalid });
    expect(bad.code).toBe(2);
    // Only the problem lines: nothing else is added to stderr.
    expect(bad.io.stderr.text.trimEnd().split('\n')).toHaveLength(2);
    const json = await run(['plan', 'check', 'bad.yaml', '--json'], { 'bad.yaml': invalid });
    expect(json.code).toBe(2);
    expect(JSON.parse(json.io.stdout.text)).toMatchObject({ file: 'bad.yaml', valid: false });
    const missingArg = await run(['plan', 'check'], {});
    expect(missingArg.code).toBe(2);
  });
});

describe('plan check: the shipped examples', () => {
  const dir = join(import.meta.dirname, '..', 'examples');

  it('every example is valid and starts with the schema line for editors', async () => {
    const files = (await readdir(dir)).filter((f) => f.endsWith('.yaml')).sort();
    expect(files).toEqual(expect.arrayContaining(['canary-zone-region.yaml', 'flag-broken.yaml', 'flag-on.yaml']));
    for (const file of files) {
      const source = await readFile(join(dir, file), 'utf8');
      expect(source.split('\n')[0], file).toBe('# yaml-language-server: $schema=../schema/plan.schema.json');
      const { problems } = checkPlan(source, file);
      expect(problems.map((p) => formatProblem(file, p)), file).toEqual([]);
    }
  });

  it('canary-zone-region goes canary, then each zone, then each region', async () => {
    const { plan } = checkPlan(await readFile(join(dir, 'canary-zone-region.yaml'), 'utf8'), 'x');
    expect(plan?.change.kind).toBe('command');
    expect(plan?.waves.map((w) => [w.size, w.each])).toEqual([[{ count: 1 }, undefined], [undefined, 'zone'], [undefined, 'region']]);
    expect(plan?.checks.map((c) => c.kind)).toEqual(['command']);
  });
});

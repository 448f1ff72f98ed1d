// `gates:` and `notify:` in plans: normalised values, defaults, and every refusal with its place.
import { describe, expect, it } from 'vitest';
import { checkPlan, parsePlan } from './parse-plan.ts';

const base = (extra: string, waveExtra = '') => `name: gated
change: { command: { apply: [x] } }
waves:
  - name: canary${waveExtra}
${extra}`;

describe('gates and notify in plans', () => {
  it('reads plan and wave gates with defaults, and webhooks', () => {
    const plan = parsePlan(
      base(
        `gates:
  - name: error-rate
    prometheus: http://prometheus:9090
    query: sum(rate(http_requests_total{code=~"5.."}[5m])) / sum(rate(http_requests_total[5m]))
    below: 0.01
notify:
  - url: https://hooks.example.com/sluice
    secretEnv: SLUICE_HOOK_SECRET
    events: [gate.failed, rollout.halted]
  - { url: "https://hooks.slack.com/services/T/B/X", format: slack }
`,
        `
    gates:
      - { name: latency, query: "max(p99)", above: -1, window: 10m, minSamples: 5, interval: 1m, timeout: 3s }`,
      ),
      'p.yaml',
    );
    expect(plan.gates).toEqual([
      {
        name: 'error-rate',
        prometheus: 'http://prometheus:9090',
        query: 'sum(rate(http_requests_total{code=~"5.."}[5m])) / sum(rate(http_requests_total[5m]))',
        below: 0.01,
        window: 300_000,
        minSamples: 3,
        interval: 30_000,
        timeout: 10_000,
      },
    ]);
    expect(plan.waves[0]!.gates).toEqual([{ name: 'latency', query: 'max(p99)', above: -1, window: 600_000, minSamples: 5, interval: 60_000, timeout: 3000 }]);
    expect(plan.notify).toEqual([
      { url: 'https://hooks.example.com/sluice', secretEnv: 'SLUICE_HOOK_SECRET', format: 'json', events: ['gate.failed', 'rollout.halted'] },
      { url: 'https://hooks.slack.com/services/T/B/X', format: 'slack' },
    ]);
  });

  it('a plan without them has neither key', () => {
    const plan = parsePlan(base(''), 'p.yaml');
    expect(plan.gates).toBeUndefined();
    expect(plan.notify).toBeUndefined();
    expect(plan.waves[0]!.gates).toBeUndefined();
  });

  const refusals: [string, string, RegExp][] = [
    ['no condition', 'gates:\n  - { name: g, query: up }\n', /gate 1 needs exactly one of "below" or "above"/],
    ['both conditions', 'gates:\n  - { name: g, query: up, below: 1, above: 0 }\n', /^6:\d+: gate 1 needs exactly one of "below" or "above"/],
    ['a bad URL', 'gates:\n  - { name: g, query: up, below: 1, prometheus: "ftp://x" }\n', /"prometheus" in gate 1 must be an http:\/\/ or https:\/\/ URL/],
    ['credentials in the URL', 'gates:\n  - { name: g, query: up, below: 1, prometheus: "http://u:p@x" }\n', /without credentials/],
    ['minSamples 0', 'gates:\n  - { name: g, query: up, below: 1, minSamples: 0 }\n', /"minSamples" in gate 1 must be between 1 and 11000, got 0/],
    ['minSamples the window cannot hold', 'gates:\n  - { name: g, query: up, below: 1, window: 5s, minSamples: 7 }\n', /minSamples 7 can never be met over a window of 5s/],
    ['a bad window', 'gates:\n  - { name: g, query: up, below: 1, window: 5 }\n', /"window" in gate 1 must be a duration/],
    ['a zero interval', 'gates:\n  - { name: g, query: up, below: 1, interval: 0 }\n', /"interval" in gate 1 must be longer than 0/],
    ['an interval under 1s', 'gates:\n  - { name: g, query: up, below: 1, interval: 500ms }\n', /"interval" in gate 1 must be at least 1s/],
    ['a threshold that is not a number', 'gates:\n  - { name: g, query: up, below: "low" }\n', /"below" in gate 1 must be a number/],
    ['no query', 'gates:\n  - { name: g, below: 1 }\n', /"query"/],
    ['an unknown key', 'gates:\n  - { name: g, query: up, below: 1, treshold: 2 }\n', /unknown key "treshold" in gate 1/],
    ['duplicate gate names', 'gates:\n  - { name: g, query: up, below: 1 }\n  - { name: g, query: up, below: 2 }\n', /gate/],
    ['gates not a list', 'gates: { name: g }\n', /"gates" must be a list of gates/],
    ['a webhook without url', 'notify:\n  - { format: json }\n', /"url"/],
    ['an unknown format', 'notify:\n  - { url: "http://x", format: xml }\n', /"format" in webhook 1 in notify must be one of: json, slack/],
    ['an unknown event', 'notify:\n  - { url: "http://x", events: [wave.started, nope] }\n', /unknown event "nope"/],
    ['a bad secretEnv', 'notify:\n  - { url: "http://x", secretEnv: "A-B" }\n', /"secretEnv" in webhook 1 in notify must be an environment variable name/],
  ];
  for (const [name, extra, message] of refusals) {
    it(`refuses ${name}`, () => {
      const { plan, problems } = checkPlan(base(extra), 'p.yaml');
      expect(plan).toBeNull();
      expect(problems.map((p) => `${p.line}:${p.col}: ${p.message}`).join('\n')).toMatch(message);
    });
  }

  it('refuses a bad wave gate, naming the wave', () => {
    const { problems } = checkPlan(base('', '\n    gates:\n      - { name: g, query: up }'), 'p.yaml');
    expect(problems.map((p) => p.message)).toEqual([expect.stringMatching(/gate 1 in wave "canary" needs exactly one of "below" or "above"/)]);
  });
});

describe('describePlan prints gates and webhooks', () => {
  it('lists plan and wave gates, and webhooks without their paths', async () => {
    const { describePlan } = await import('./describe-plan.ts');
    const lines = describePlan(
      parsePlan(
        base(
          'gates:\n  - { name: errors, query: "sum(rate(e[5m]))", below: 0.01, prometheus: "http://prom:9090/" }\nnotify:\n  - { url: "https://hooks.slack.com/services/T/B/SECRET", format: slack, secretEnv: HOOK }\n',
          '\n    gates:\n      - { name: lat, query: p99, above: 1, minSamples: 1 }',
        ),
        'p.yaml',
      ),
    );
    const text = lines.join('\n');
    expect(text).toContain('       gate lat: p99 above 1, at least 1 sample over 5m, every 30s (Prometheus: the server\'s --prometheus-url; timeout 10s)');
    expect(text).toContain('  - errors: sum(rate(e[5m])) below 0.01, at least 3 samples over 5m, every 30s (Prometheus: http://prom:9090; timeout 10s)');
    expect(text).toContain('  - slack to https://hooks.slack.com (every event), signed with $HOOK');
    expect(text).not.toContain('SECRET');
  });
});

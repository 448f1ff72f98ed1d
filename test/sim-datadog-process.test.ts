// examples/datadog-process.yaml, the eight steps of the Datadog post as one nested plan, against the
// datadog-2023 fleet: `plan analyze` expands production region by region (smallest first), one zone,
// a second zone, the rest, each with its step's parallel, bake and approval; `sim run` rehearses the
// March 2023 change through it: the experimental wave stops it and nothing is terminated.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO, runCli } from './helpers/processes.ts';

const PLAN = join(REPO, 'examples', 'datadog-process.yaml');

describe('the Datadog process as one nested plan', () => {
  it('plan analyze expands production region by region, zone by zone, then the rest, with each step\'s settings', async () => {
    const out = await runCli(['plan', 'analyze', PLAN, '--fleet', 'datadog-2023'], {}, 60_000);
    expect(out.code).toBe(0);
    const waves = out.stdout.split('\n').filter((l) => /^  \S+ +\d+ hosts/.test(l)).map((l) => l.trim().split(/\s+/));
    const names = waves.map((w) => w[0]);
    expect(names.slice(0, 6)).toEqual([
      'experimental',
      'one-staging-cluster/us-west-2-c2',
      'more-staging-clusters/us-central1-c1',
      'more-staging-clusters/us-west-2-c1',
      'more-staging-clusters/us-central1-c2',
      'all-staging',
    ]);
    // Five regions, three steps each, smallest region first (us-west-2 and us-central1 have 2,000 hosts; us-east-1 8,000 last).
    const prod = names.slice(6);
    expect(prod).toHaveLength(15);
    expect(prod.map((n) => n!.split('/')[1])).toEqual(['us-west-2', 'us-west-2', 'us-west-2', 'us-central1', 'us-central1', 'us-central1', 'westus2', 'westus2', 'westus2', 'europe-west1', 'europe-west1', 'europe-west1', 'us-east-1', 'us-east-1', 'us-east-1']);
    expect(prod.map((n) => n!.split('/')[2])).toEqual(Array.from({ length: 5 }, () => ['first-zone', 'second-zone', 'rest-of-region']).flat());
    const rest = waves.find((w) => w[0] === 'production/us-east-1/rest-of-region')!;
    expect(rest.join(' ')).toMatch(/parallel \d+ bake 2w .*approval/);
    expect(out.stdout).toMatch(/time to reach the whole fleet if every wave passes: 2\dw/);
  }, 90_000);

  it('sim run: the March 2023 change stops in the experimental wave, nothing terminated', async () => {
    const out = await runCli(['sim', 'run', 'datadog-2023', '--plan', PLAN, '--json'], {}, 120_000);
    expect(out.code).toBe(0);
    const controlled = JSON.parse(out.stdout).runs.controlled;
    expect(controlled.rollout.state).toBe('rolled_back');
    expect(controlled.rollout.waves.map((w: any) => w.name)).toEqual(['experimental']);
    expect(controlled.terminated).toBe(0);
    expect(controlled.dataBearingLost).toBe(0);
  }, 150_000);
});

// The plan options the agent's apt side reads: change.apt.maxListAge and `name:arch` package names.
import { describe, expect, it } from 'vitest';
import { checkPlan } from '../src/core/plan/parse-plan.ts';

const plan = (apt: string) => `name: libs\nchange:\n  apt:\n${apt}\nwaves:\n  - { name: all }\n`;

describe('apt plan options', () => {
  it('maxListAge: a duration, 0 allowed (always refresh), absent by default', () => {
    expect(checkPlan(plan('    install: { libssl3: "3.0.2-0ubuntu1.12" }\n    maxListAge: 30m'), 'p.yaml').plan?.change).toMatchObject({ kind: 'apt', maxListAge: 1_800_000 });
    expect(checkPlan(plan('    install: { libssl3: "3.0.2-0ubuntu1.12" }\n    maxListAge: 0'), 'p.yaml').plan?.change).toMatchObject({ maxListAge: 0 });
    expect(checkPlan(plan('    install: { libssl3: "3.0.2-0ubuntu1.12" }'), 'p.yaml').plan?.change).not.toHaveProperty('maxListAge');
    const bad = checkPlan(plan('    install: { libssl3: "3.0.2-0ubuntu1.12" }\n    maxListAge: soon'), 'p.yaml');
    expect(bad.plan).toBeNull();
    expect(bad.problems.map((p) => p.message).join('; ')).toMatch(/maxListAge.* must be a duration/);
  });

  it('package names may carry an architecture', () => {
    const { plan: p, problems } = checkPlan(plan('    install: { "libssl3:amd64": "3.0.2-0ubuntu1.12", "libc6:i386": "2.35-0ubuntu3.6" }\n    remove: ["libfoo:i386"]'), 'p.yaml');
    expect(problems).toEqual([]);
    expect(p?.change).toMatchObject({ install: { 'libssl3:amd64': '3.0.2-0ubuntu1.12', 'libc6:i386': '2.35-0ubuntu3.6' }, remove: ['libfoo:i386'] });
  });
});

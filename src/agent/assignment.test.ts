import { describe, expect, it } from 'vitest';
import { parseAssignmentsAnswer } from './assignment.ts';

const base = {
  rolloutId: 'r_1',
  rolloutName: 'p',
  attempt: 1,
  action: 'apply',
  change: { kind: 'command', apply: ['true'], timeout: 1000 },
  checkInterval: 1000,
};

describe('parseAssignmentsAnswer', () => {
  it('keeps a check\'s afterRollback, and leaves it out when the plan did not say', () => {
    const answer = parseAssignmentsAnswer({
      version: 'v',
      assignments: [
        {
          ...base,
          checks: [
            { kind: 'tcp', name: 'a', host: '127.0.0.1', port: 80, timeout: 1000, afterRollback: false },
            { kind: 'tcp', name: 'b', host: '127.0.0.1', port: 81, timeout: 1000 },
          ],
        },
      ],
    });
    expect(answer.assignments[0]?.checks).toEqual([
      { kind: 'tcp', name: 'a', host: '127.0.0.1', port: 80, timeout: 1000, afterRollback: false },
      { kind: 'tcp', name: 'b', host: '127.0.0.1', port: 81, timeout: 1000 },
    ]);
  });
});

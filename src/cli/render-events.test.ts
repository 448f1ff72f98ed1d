import { describe, expect, it } from 'vitest';
import type { SourceProblem } from '../core/errors.ts';
import { eventJson, renderEventLine } from './render-events.ts';
import { renderProblems } from './render-problems.ts';

const at = Date.UTC(2025, 5, 10, 7, 4, 9);

describe('renderEventLine', () => {
  it.each([
    [{ seq: 1, at, kind: 'started', message: 'rollout started', host: null, wave: null }, '07:04:09  started  rollout started\n'],
    [
      { seq: 2, at, kind: 'host_failed', message: 'check flag-is-on failed', host: 'web-3', wave: 'canary' },
      '07:04:09  host_failed  [canary web-3]  check flag-is-on failed\n',
    ],
    [
      { seq: 4, at, kind: 'host.failed', message: 'web-3: check failed', host: 'web-3', wave: 'canary' },
      '07:04:09  host.failed  [canary]  web-3: check failed\n',
    ],
    [{ seq: 3, at, kind: 'wave_started', message: 'wave prod/a started', host: null, wave: 'prod/a' }, '07:04:09  wave_started  [prod/a]  wave prod/a started\n'],
  ])('%#', (event, expected) => {
    expect(renderEventLine(event, { color: false, timeZone: 'UTC' })).toBe(expected);
  });

  it('marks failures red when colours are on', () => {
    const line = renderEventLine({ seq: 1, at, kind: 'halted', message: 'm', host: null, wave: null }, { color: true, timeZone: 'UTC' });
    expect(line).toContain('\x1b[31mhalted\x1b[39m');
  });

  it('gives JSON with an ISO time', () => {
    expect(eventJson({ seq: 7, at, kind: 'k', message: 'm', host: 'h', wave: null })).toEqual({
      seq: 7,
      at: '2025-06-10T07:04:09.000Z',
      kind: 'k',
      message: 'm',
      host: 'h',
      wave: null,
    });
  });
});

describe('renderProblems', () => {
  it('prints FILE:LINE:COL: message, one per line', () => {
    const problems: SourceProblem[] = [
      { line: 3, col: 5, message: 'unknown key "wavs"' },
      { line: 10, col: 1, message: '"bake" must be a duration like 30m' },
    ];
    expect(renderProblems('plans/flag.yaml', problems)).toBe(
      'plans/flag.yaml:3:5: unknown key "wavs"\nplans/flag.yaml:10:1: "bake" must be a duration like 30m\n',
    );
    expect(renderProblems('x.yaml', [])).toBe('');
  });
});

describe('renderEventLine with host-provided text', () => {
  it('strips escape sequences and control characters from messages, hosts and waves', () => {
    const line = renderEventLine(
      { seq: 1, at: Date.UTC(2025, 0, 1), kind: 'step.failed', message: 'stderr: \x1b[31mboom\x1b[0m\x1b]0;pwned\x07\r', host: 'h\x1b[Hx', wave: 'w' },
      { color: false, timeZone: 'UTC' },
    );
    expect(line).toContain('stderr: boom');
    expect(line).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/);
  });
});

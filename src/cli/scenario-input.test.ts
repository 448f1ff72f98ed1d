import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../core/errors.ts';
import { FileValidationError } from '../sim/load-scenario.ts';
import { parseHosts, reportInvalid } from './scenario-input.ts';
import { createTestIo } from './test-io.ts';

describe('parseHosts', () => {
  it('takes a whole number from 1 to 1000000 and refuses anything else', () => {
    expect(parseHosts('1')).toBe(1);
    expect(parseHosts('1000000')).toBe(1_000_000);
    for (const bad of ['0', '1000001', '1.5', '-3', '1e3', ' 5', 'ten']) expect(() => parseHosts(bad)).toThrow(InvalidArgumentError);
  });
});

describe('reportInvalid', () => {
  it("prints a file's problems as FILE:LINE:COL: message, then throws a ValidationError counting them", () => {
    const io = createTestIo();
    const err = new FileValidationError('s.yaml', new ValidationError('bad', [{ line: 2, col: 3, message: 'x is wrong' }, { line: 4, col: 1, message: 'y' }]));
    expect(() => reportInvalid(err, io)).toThrow('s.yaml is not valid (2 problems above)');
    expect(io.stderr.text).toBe('s.yaml:2:3: x is wrong\ns.yaml:4:1: y\n');
  });

  it('rethrows any other error untouched, printing nothing', () => {
    const io = createTestIo();
    const other = new Error('disk gone');
    expect(() => reportInvalid(other, io)).toThrow(other);
    expect(io.stderr.text).toBe('');
  });
});

// Input handling shared by the commands that read scenario and plan files locally (`sim run`,
// `plan analyze`): the --hosts flag, and a file's located problems printed before exiting 2.
import { ValidationError } from '../core/errors.ts';
import { FileValidationError } from '../sim/load-scenario.ts';
import type { CliIo } from './io.ts';
import { renderProblems } from './render-problems.ts';

export { parseHosts } from './hosts-flag.ts';

/**
 * Rethrows a load error; a file's problems are first printed as FILE:LINE:COL: message on stderr,
 * so the error itself only needs to say how many there were.
 */
export function reportInvalid(err: unknown, io: Pick<CliIo, 'stderr'>): never {
  if (err instanceof FileValidationError) {
    io.stderr.write(renderProblems(err.file, err.problems));
    const count = err.problems.length;
    throw new ValidationError(`${err.file} is not valid (${count} problem${count === 1 ? '' : 's'} above)`, err.problems);
  }
  throw err;
}

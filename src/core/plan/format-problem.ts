// FILE:LINE:COL: message, the one format every located problem is printed in. Its own module so
// printing a problem does not load the plan parser (YAML, schemas).
import type { SourceProblem } from '../errors.ts';

export function formatProblem(file: string, problem: SourceProblem): string {
  return `${file}:${problem.line}:${problem.col}: ${problem.message}`;
}

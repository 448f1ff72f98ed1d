// Located plan problems, one `FILE:LINE:COL: message` line each (the core's one format).
import type { SourceProblem } from '../core/errors.ts';
import { formatProblem } from '../core/plan/format-problem.ts';

export function renderProblems(file: string, problems: readonly SourceProblem[]): string {
  return problems.map((p) => `${formatProblem(file, p)}\n`).join('');
}

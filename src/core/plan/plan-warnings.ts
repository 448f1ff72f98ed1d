// Things in a valid plan that will not do what its author probably expects: `plan check` prints
// them as warnings (exit 0). Pure: a plan in, sentences out.
import type { Plan } from '../types.ts';
import { formatDuration } from './duration.ts';

export function planWarnings(plan: Plan): string[] {
  const out: string[] = [];
  if (plan.confirmWindow > 0) {
    for (const w of plan.waves) {
      if (w.bake < plan.confirmWindow) {
        out.push(
          `wave ${w.name}: bake ${formatDuration(w.bake)} is shorter than the confirm window ${formatDuration(plan.confirmWindow)}; ` +
            `the wave cannot complete before its hosts confirm, so it takes at least the confirm window`,
        );
      }
    }
  }
  return out;
}

// Things in a valid plan that will not do what its author probably expects: `plan check` prints
// them as warnings (exit 0). Pure: a plan in, sentences out.
import type { Plan } from '../types.ts';
import { formatDuration } from './duration.ts';
import { leafSpecs } from '../fleet/expand-waves.ts';

export function planWarnings(plan: Plan): string[] {
  const out: string[] = [];
  if (plan.confirmWindow > 0) {
    for (const w of plan.waves.flatMap((spec) => leafSpecs(spec))) {
      if (w.bake < plan.confirmWindow) {
        out.push(
          `wave ${w.name}: bake ${formatDuration(w.bake)} is shorter than the confirm window ${formatDuration(plan.confirmWindow)}; ` +
            `the wave cannot complete before its hosts confirm, so it takes at least the confirm window`,
        );
      }
    }
  }
  if (plan.reboot && plan.budget.silentAfter < plan.reboot.timeout) {
    out.push(
      `reboot: a rebooting host is silent, and silentAfter ${formatDuration(plan.budget.silentAfter)} is shorter than reboot.timeout ` +
        `${formatDuration(plan.reboot.timeout)}; a host that takes longer than ${formatDuration(plan.budget.silentAfter)} to come back counts as silent (failed)`,
    );
  }
  return out;
}

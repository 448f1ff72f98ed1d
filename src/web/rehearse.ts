// Rehearse: paste or open a plan and see what it would do before it runs (`sluice plan analyze`):
// over the live inventory (with the hosts that cannot take part now) or over a built-in incident
// scenario's simulated fleet. POST /v1/plans/analyze changes nothing.
import { ApiError, get, post } from './api.ts';
import { append, clear, h, plural, show, table } from './dom.ts';

export async function rehearsePage(): Promise<void> {
  const { scenarios } = await get('/v1/plans/scenarios');
  const source = h('textarea', { id: 'plan-source', rows: 16, spellcheck: 'false', 'aria-describedby': 'plan-help' });
  const file = h('input', { id: 'plan-file', type: 'file', accept: '.yaml,.yml,text/yaml' });
  const fleet = h('select', { id: 'plan-fleet' }, h('option', { value: '' }, 'the live inventory'), (scenarios as string[]).map((s) => h('option', { value: s }, `scenario: ${s}`)));
  const hosts = h('input', { id: 'plan-hosts', type: 'number', min: 1, max: 100000, placeholder: "the scenario's size" });
  const result = h('section', { class: 'card', id: 'analysis', 'aria-live': 'polite', hidden: true });
  file.addEventListener('change', async () => {
    const f = file.files?.[0];
    if (f) source.value = await f.text();
  });
  const form = h(
    'form',
    {
      class: 'card rehearse',
      onsubmit: async (ev: Event) => {
        ev.preventDefault();
        result.hidden = false;
        clear(result);
        result.append(h('p', { class: 'muted' }, 'Analysing…'));
        try {
          const a = await post('/v1/plans/analyze', {
            plan: source.value,
            file: file.files?.[0]?.name ?? 'plan.yaml',
            ...(fleet.value ? { scenario: fleet.value } : {}),
            ...(fleet.value && hosts.value ? { hosts: Number(hosts.value) } : {}),
          });
          render(result, a);
        } catch (err) {
          clear(result);
          result.append(h('h2', {}, 'The plan is refused'), h('p', { class: 'error' }, err instanceof Error ? err.message : String(err)));
          if (err instanceof ApiError && err.problems.length) {
            // line by line, as `sluice plan check` prints them
            result.append(h('ul', { class: 'problems' }, err.problems.map((p: any) => h('li', { class: 'mono' }, `${p.line ?? '?'}:${p.col ?? '?'}: ${p.message}`))));
          }
        }
      },
    },
    h('label', { for: 'plan-source' }, 'Plan (YAML)'),
    source,
    h('p', { id: 'plan-help', class: 'muted small' }, 'Paste a plan, or open a file: ', file),
    h('div', { class: 'row' }, h('label', { for: 'plan-fleet' }, 'Over '), fleet, h('label', { for: 'plan-hosts' }, ' hosts '), hosts),
    h('button', { type: 'submit', class: 'primary' }, 'Analyze'),
  );
  show(h('h1', {}, 'Rehearse a plan'), h('p', {}, 'What the plan would do, without running anything: the waves, the worst case before any check can stop a bad change, the time to reach the whole fleet.'), form, result);
}

function render(box: HTMLElement, a: any): void {
  clear(box);
  const wc = a.worstCase;
  append(box, [
    h('h2', {}, `${a.plan} over ${a.fleetSource}`),
    h('p', {}, `${plural(a.fleet.hosts, 'host')} (${a.fleet.targeted} targeted), ${plural(a.fleet.regions, 'region')}, ${plural(a.fleet.providers, 'provider')}.`),
    table(
      ['Wave', 'Hosts', 'Parallel', 'Bake', 'Regions', 'Failures allowed', 'Approval'],
      (a.waves as any[]).map((w) => [w.name, String(w.hosts), String(w.parallel), w.bake, String(w.regions), String(w.failedAllowed), w.approve ? 'required' : '—']),
    ),
    h('p', { class: wc.fleetPct > 10 ? 'error worst' : 'worst' }, h('strong', {}, 'Worst case'), ` before any check can stop a bad change: ${plural(wc.hosts, 'host')} (${wc.fleetPct}% of the fleet) in ${plural(wc.regionsTouched, 'region')}. ${wc.explanation}`),
    h('p', {}, h('strong', {}, 'Time to reach the whole fleet'), ` if every wave passes: ${a.completion.text}.`),
    a.warnings.length ? h('ul', { class: 'warn' }, (a.warnings as string[]).map((w) => h('li', {}, w))) : h('p', { class: 'muted' }, 'No warnings.'),
    a.ineligible ? h('p', {}, `${plural(a.ineligible.count, 'targeted host')} cannot take part now (${a.ineligible.mode}).`) : null,
    h('details', {}, h('summary', {}, 'As `sluice plan analyze` prints it'), h('pre', { class: 'plan' }, a.text)),
  ]);
}

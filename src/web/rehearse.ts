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
  // Rehearse the scenario's incident through the plan (`sluice sim run`): only over a scenario.
  const simulateButton = h('button', { type: 'button', id: 'plan-simulate', disabled: true, title: 'Pick a scenario to rehearse its incident through the plan' }, 'Simulate the incident');
  fleet.addEventListener('change', () => {
    simulateButton.disabled = fleet.value === '';
  });
  simulateButton.addEventListener('click', async () => {
    result.hidden = false;
    clear(result);
    result.append(h('p', { class: 'muted' }, 'Simulating…'));
    try {
      const s = await post('/v1/plans/simulate', {
        plan: source.value,
        file: file.files?.[0]?.name ?? 'plan.yaml',
        scenario: fleet.value,
        ...(hosts.value ? { hosts: Math.min(Number(hosts.value), 20000) } : {}),
      });
      renderSimulation(result, s);
    } catch (err) {
      clear(result);
      result.append(h('h2', {}, 'The simulation did not run'), h('p', { class: 'error' }, err instanceof Error ? err.message : String(err)));
    }
  });
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
    h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary' }, 'Analyze'), simulateButton),
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

function renderSimulation(box: HTMLElement, s: any): void {
  clear(box);
  const row = (label: string, u: unknown, c: unknown) => [label, String(u ?? '—'), String(c ?? '—')];
  append(box, [
    h('h2', {}, `${s.scenario} rehearsed through the plan (${plural(s.hosts, 'simulated host')}, seed ${s.seed})`),
    table(
      ['', 'As it happened', 'Through the plan'],
      [
        row('hosts changed', s.uncontrolled.hostsChanged, s.controlled.hostsChanged),
        row('peak impaired', `${s.uncontrolled.peakImpairedPct}%`, `${s.controlled.peakImpairedPct}%`),
        row('terminated', s.uncontrolled.terminated, s.controlled.terminated),
        row('data-bearing hosts lost', s.uncontrolled.dataBearingLost, s.controlled.dataBearingLost),
        row('rollout', '—', s.controlled.rollout),
      ],
    ),
    h('iframe', { class: 'sim-report', src: s.report, title: `Simulator report: ${s.scenario}`, sandbox: '' }),
    h('p', {}, h('a', { href: s.report, target: '_blank', rel: 'noopener' }, 'Open the report on its own page')),
    h('details', {}, h('summary', {}, 'As `sluice sim run` prints it'), h('pre', { class: 'plan' }, s.text)),
  ]);
}

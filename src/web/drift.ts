// Drift (GET /v1/drift): the fleet's open drift by kind and by host, and recent events; pending
// updates (GET /v1/updates): security updates by package, and hosts with updates pending.
import { ApiError, can, get, post, q } from './api.ts';
import { append, clear, h, plural, show, table, time, toast, openDialog } from './dom.ts';

const PAGE = 50;

function pager(base: string, page: number, total: number): HTMLElement {
  const pages = Math.max(1, Math.ceil(total / PAGE));
  return h(
    'p',
    { class: 'pager' },
    page > 0 ? h('a', { href: `${base}?page=${page - 1}` }, '« Previous') : null,
    ` page ${page + 1} of ${pages} `,
    page + 1 < pages ? h('a', { href: `${base}?page=${page + 1}`, rel: 'next' }, 'Next »') : null,
  );
}

export async function driftPage(_arg: string, params: URLSearchParams): Promise<void> {
  const d = await get(`/v1/drift${q({ limit: 100 })}`);
  const page = Math.max(0, Number(params.get('page') ?? 0) || 0);
  const drifting = (d.hosts as any[]).filter((x) => x.open.length > 0);
  const kinds = Object.entries(d.summary.hostsByKind as Record<string, number>).sort((a, b) => b[1] - a[1]);
  show(
    h('h1', {}, 'Drift'),
    h('p', {}, `${plural(d.summary.hostsWithDrift, 'host')} of ${d.summary.hosts} have open drift: changes made outside a rollout.`),
    h('section', { class: 'card' }, h('h2', {}, 'By kind'), kinds.length ? table(['Kind', 'Hosts', 'Open events'], kinds.map(([k, n]) => [k, String(n), String(d.summary.open[k] ?? 0)])) : h('p', { class: 'muted' }, 'No open drift.')),
    h(
      'section',
      { class: 'card' },
      h('h2', {}, 'Hosts with open drift'),
      drifting.length
        ? [
            table(
              ['Host', 'Policy', 'Open', 'Last event'],
              drifting.slice(page * PAGE, (page + 1) * PAGE).map((x) => [h('a', { href: `#/hosts/${encodeURIComponent(x.name)}` }, x.name), x.policy ?? '—', x.open.map((e: any) => `${e.kind}: ${e.subject}`).join('; '), time(x.lastEventAt)]),
            ),
            pager('#/drift', page, drifting.length),
          ]
        : h('p', { class: 'muted' }, 'None.'),
    ),
    h('section', { class: 'card' }, h('h2', {}, 'Recent events'), (d.events as any[]).length ? table(['Received', 'Host', 'Kind', 'Subject', 'Message'], (d.events as any[]).map((e) => [time(e.receivedAt), e.host, e.kind, e.subject, e.message])) : h('p', { class: 'muted' }, 'None.')),
  );
}

export async function updatesPage(_arg: string, params: URLSearchParams): Promise<void> {
  const u = await get('/v1/updates');
  const page = Math.max(0, Number(params.get('page') ?? 0) || 0);
  const pending = (u.hosts as any[]).filter((x) => x.security > 0 || x.error).sort((a, b) => b.security - a.security);
  const planBox = h('section', { class: 'card', id: 'staged-plan', hidden: true });
  show(
    h('h1', {}, 'Pending security updates'),
    h('p', {}, `${plural(pending.length, 'host')} with security updates pending. Roll them out as a staged plan, not all at once.`),
    (u.updates as any[]).length ? h('p', {}, h('button', { type: 'button', class: 'primary', id: 'make-plan', onclick: () => void stagedPlan(planBox) }, 'Turn into a staged plan')) : null,
    planBox,
    h(
      'section',
      { class: 'card' },
      h('h2', {}, 'By package'),
      (u.updates as any[]).length
        ? table(['Package', 'Candidate', 'Hosts', 'Installed'], (u.updates as any[]).map((x) => [x.package, x.candidate, String(x.hosts.length), [...new Set(x.hosts.map((y: any) => y.installed))].slice(0, 5).join(', ')]))
        : h('p', { class: 'muted' }, 'No security updates pending.'),
    ),
    h(
      'section',
      { class: 'card' },
      h('h2', {}, 'Hosts'),
      pending.length
        ? [
            table(
              ['Host', 'Security', 'All pending', 'Checked', 'Error'],
              pending.slice(page * PAGE, (page + 1) * PAGE).map((x) => [h('a', { href: `#/hosts/${encodeURIComponent(x.name)}` }, x.name), String(x.security), String(x.pending), time(x.checkedAt), x.error ?? '']),
            ),
            pager('#/updates', page, pending.length),
          ]
        : h('p', { class: 'muted' }, 'None.'),
    ),
  );
}

/**
 * The staged plan for the pending security updates (GET /v1/updates/plan: what `sluice updates
 * plan` writes), shown, then checked and previewed against the live inventory (POST
 * /v1/rollouts/preview) before an operator may start it.
 */
async function stagedPlan(box: HTMLElement): Promise<void> {
  box.hidden = false;
  clear(box);
  box.append(h('h2', {}, 'Staged plan'), h('p', { class: 'muted' }, 'Building…'));
  const plan = await get('/v1/updates/plan');
  clear(box);
  box.append(h('h2', {}, 'Staged plan'));
  if (!plan.yaml) {
    box.append(h('p', {}, plan.message));
    return;
  }
  const packages = Object.entries(plan.packages as Record<string, string>);
  append(box, [
    h('p', {}, `Installs ${plural(packages.length, 'package')} on ${plural(plan.hosts, 'host')}: ${packages.map(([p, v]) => `${p} ${v}`).join(', ')}.`),
    (plan.warnings as string[]).length ? h('ul', { class: 'warn' }, (plan.warnings as string[]).map((w) => h('li', {}, w))) : null,
    h('pre', { class: 'plan' }, plan.yaml),
  ]);
  const check = h('p', { role: 'status' }, 'Checking the plan against the live inventory…');
  box.append(check);
  let preview: any;
  try {
    preview = await post('/v1/rollouts/preview', { plan: plan.yaml, file: 'security-updates.yaml' });
  } catch (err) {
    check.className = 'error';
    check.textContent = err instanceof ApiError ? `The plan is refused: ${err.message}` : String(err);
    return;
  }
  check.textContent = `Valid. It targets ${plural(preview.targeted, 'host')}; ${preview.ineligible.count} cannot take part now (${preview.ineligible.mode === 'skip' ? 'they are left out' : 'they count as failed'}).`;
  if (!can('start')) {
    box.append(h('p', { class: 'muted small' }, 'Starting it needs the operator role.'));
    return;
  }
  box.append(
    h(
      'button',
      {
        type: 'button',
        class: 'primary',
        'data-action': 'start',
        onclick: () => {
          const dialog = h('dialog', { class: 'confirm', 'aria-labelledby': 'start-title' });
          dialog.append(
            h('h2', { id: 'start-title' }, 'Start this rollout?'),
            h('p', { class: 'touches' }, `It changes ${plural(preview.targeted - preview.ineligible.count, 'host')} in waves (canary first), installing ${packages.map(([p]) => p).join(', ')}.`),
            h(
              'div',
              { class: 'buttons' },
              h('button', { type: 'button', onclick: () => dialog.close() }, 'Cancel'),
              h(
                'button',
                {
                  type: 'button',
                  class: 'primary',
                  'data-confirm': 'start',
                  onclick: async () => {
                    dialog.close();
                    try {
                      const r = await post('/v1/rollouts', { plan: plan.yaml, file: 'security-updates.yaml' });
                      location.hash = `#/rollouts/${encodeURIComponent(r.id)}`;
                    } catch (err) {
                      toast(err instanceof ApiError ? `Not started: ${err.message}` : String(err), 'error');
                    }
                  },
                },
                'Start rollout',
              ),
            ),
          );
          openDialog(dialog);
        },
      },
      'Start rollout…',
    ),
  );
}

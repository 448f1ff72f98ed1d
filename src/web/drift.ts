// Drift (GET /v1/drift): the fleet's open drift by kind and by host, and recent events; pending
// updates (GET /v1/updates): security updates by package, and hosts with updates pending.
import { get, q } from './api.ts';
import { h, plural, show, table, time } from './dom.ts';

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
  show(
    h('h1', {}, 'Pending security updates'),
    h('p', {}, `${plural(pending.length, 'host')} with security updates pending. Roll them out as a staged plan (\`sluice updates plan\`), not all at once.`),
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

// The fleet: hosts by topology (provider > region > zone > cluster) as a grid of aggregate cells
// from GET /v1/fleet/topology (counts, never the hosts), coloured by the worst of failing, drift,
// offline and rollout membership; a cell drills down one level, the last level lists its hosts
// (GET /v1/hosts, paged by the server). A host's page: labels, facts, drift, steps across rollouts.
import { get, q } from './api.ts';
import { badge, clear, h, plural, show, table, time } from './dom.ts';

const LEVELS = ['provider', 'region', 'zone', 'cluster'];
const PAGE = 100;

interface Cell {
  labels: Record<string, string | null>;
  total: number;
  online: number;
  offline: number;
  inRollout: number;
  failing: number;
  drifting: number;
}

function worst(c: Omit<Cell, 'labels'>): string {
  if (c.failing > 0) return 'failing';
  if (c.drifting > 0) return 'drifting';
  if (c.offline > 0) return 'offline';
  if (c.inRollout > 0) return 'rollout';
  return 'online';
}

function sumCells(cells: Cell[]): Omit<Cell, 'labels'> {
  const s = { total: 0, online: 0, offline: 0, inRollout: 0, failing: 0, drifting: 0 };
  for (const c of cells) for (const k of Object.keys(s) as (keyof typeof s)[]) s[k] += c[k];
  return s;
}

function fleetHash(path: Record<string, string>, extra: Record<string, string> = {}): string {
  const u = new URLSearchParams({ ...path, ...extra });
  const s = u.toString();
  return `#/fleet${s ? `?${s}` : ''}`;
}

export async function fleetPage(_arg: string, params: URLSearchParams): Promise<void> {
  // The drill-down path: the first levels that have a value in the URL.
  const path: Record<string, string> = {};
  for (const level of LEVELS) {
    const v = params.get(level);
    if (v === null) break;
    path[level] = v;
  }
  const depth = Object.keys(path).length;
  const labelFilter = Object.entries(path).filter(([, v]) => v !== '').map(([k, v]) => `${k}=${v}`);
  const started = performance.now();
  const topo = await get(`/v1/fleet/topology${q({ label: labelFilter })}`);
  const cells = (topo.cells as Cell[]).filter((c) => Object.entries(path).every(([k, v]) => (c.labels[k] ?? '') === v));
  const crumbs = h('nav', { class: 'crumbs', 'aria-label': 'Topology' }, h('a', { href: '#/fleet' }, 'Fleet'));
  const soFar: Record<string, string> = {};
  for (const [k, v] of Object.entries(path)) {
    soFar[k] = v;
    crumbs.append(' › ', h('a', { href: fleetHash({ ...soFar }) }, `${k} ${v || '(none)'}`));
  }
  const total = sumCells(cells);
  const head = [
    h('h1', {}, 'Fleet'),
    crumbs,
    h(
      'p',
      { class: 'fleet-total' },
      `${plural(total.total, 'host')}: ${total.online} online, ${total.offline} offline, ${total.inRollout} in a rollout, ${total.failing} failing, ${total.drifting} with drift`,
    ),
    legend(),
    topo.truncated ? h('p', { class: 'warn' }, 'More topology cells than shown: filter further.') : null,
  ];
  if (params.get('hosts') === '1' || depth >= LEVELS.length) {
    show(head, await hostList(path, params.get('after') ?? undefined));
    return;
  }
  const level = LEVELS[depth]!;
  const groups = new Map<string, Cell[]>();
  for (const c of cells) {
    const v = c.labels[level] ?? '';
    groups.set(v, [...(groups.get(v) ?? []), c]);
  }
  const grid = h('ul', { class: 'topo', 'aria-label': `hosts by ${level}` });
  for (const [value, list] of [...groups.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    const s = sumCells(list);
    const pct = (n: number) => `${(100 * n) / Math.max(1, s.total)}%`;
    grid.append(
      h(
        'li',
        {},
        h(
          'a',
          { class: `cell c-${worst(s)}`, href: fleetHash({ ...path, [level]: value }), 'data-cell': value || '(none)' },
          h('span', { class: 'cell-name' }, value || '(none)'),
          h('span', { class: 'cell-count' }, plural(s.total, 'host')),
          h(
            'span',
            { class: 'bar', 'aria-hidden': 'true' },
            h('span', { class: 'seg bad', style: `width:${pct(s.failing)}` }),
            h('span', { class: 'seg drift', style: `width:${pct(s.drifting)}` }),
            h('span', { class: 'seg off', style: `width:${pct(s.offline)}` }),
            h('span', { class: 'seg ok', style: `width:${pct(s.online - s.failing)}` }),
          ),
          h('span', { class: 'cell-detail small' }, `${s.offline} offline · ${s.inRollout} in rollout${s.failing ? ` · ${s.failing} failing` : ''}${s.drifting ? ` · ${s.drifting} drift` : ''}`),
        ),
      ),
    );
  }
  show(
    head,
    h('h2', {}, `By ${level}`, ' ', h('a', { class: 'small', href: fleetHash(path, { hosts: '1' }) }, `list these ${plural(total.total, 'host')}`)),
    grid,
    h('p', { class: 'muted small', id: 'fleet-timing' }, `${plural(cells.length, 'topology cell')} in ${Math.round(performance.now() - started)} ms`),
  );
}

function legend(): HTMLElement {
  return h(
    'p',
    { class: 'legend small' },
    ['failing', 'drifting', 'offline', 'rollout', 'online'].map((k) => h('span', { class: `key c-${k}` }, k === 'rollout' ? 'in a rollout' : k)),
  );
}

async function hostList(path: Record<string, string>, after: string | undefined): Promise<HTMLElement> {
  const label = Object.entries(path).filter(([, v]) => v !== '').map(([k, v]) => `${k}=${v}`);
  const page = await get(`/v1/hosts${q({ label, limit: PAGE, facts: 'false', cursor: after })}`);
  const none = Object.entries(path).filter(([, v]) => v === '').map(([k]) => k);
  const hosts = (page.hosts as any[]).filter((x) => none.every((k) => x.labels[k] === undefined));
  return h(
    'section',
    {},
    h('h2', {}, 'Hosts'),
    none.length ? h('p', { class: 'muted small' }, `Hosts without ${none.join(', ')}.`) : null,
    table(
      ['Host', 'Status', 'Labels', 'Last seen'],
      hosts.map((x) => [h('a', { href: `#/hosts/${encodeURIComponent(x.name)}` }, x.name), badge(x.status), labelsText(x.labels), time(x.lastSeen)]),
    ),
    h(
      'p',
      { class: 'pager' },
      after ? h('a', { href: fleetHash(path, { hosts: '1' }) }, '« First page') : null,
      ' ',
      page.nextCursor ? h('a', { href: fleetHash(path, { hosts: '1', after: page.nextCursor }), rel: 'next' }, 'Next page »') : h('span', { class: 'muted' }, 'Last page'),
    ),
  );
}

function labelsText(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
}

export async function hostPage(name: string): Promise<void> {
  const [host, drift] = await Promise.all([get(`/v1/hosts/${encodeURIComponent(name)}`), get(`/v1/drift${q({ host: name, limit: 50 })}`)]);
  const open = (drift.hosts?.[0]?.open ?? []) as any[];
  const facts = h('pre', { class: 'facts' }, JSON.stringify(host.facts ?? {}, null, 2));
  const crumbs: Record<string, string> = {};
  const topoLinks: (HTMLElement | string)[] = [];
  for (const level of LEVELS) {
    const v = host.labels[level];
    if (v === undefined) break;
    crumbs[level] = v;
    topoLinks.push(' › ', h('a', { href: fleetHash({ ...crumbs }) }, `${level} ${v}`));
  }
  show(
    h('nav', { class: 'crumbs', 'aria-label': 'Topology' }, h('a', { href: '#/fleet' }, 'Fleet'), topoLinks),
    h('h1', {}, host.name, ' ', badge(host.status)),
    h('p', { class: 'muted' }, `Enrolled ${time(host.enrolledAt)}; last seen ${time(host.lastSeen)}.`),
    h('div', { class: 'grid2' },
      h('section', { class: 'card' }, h('h2', {}, 'Labels'), table(['Label', 'Value'], Object.entries(host.labels).map(([k, v]) => [k, String(v)]))),
      h('section', { class: 'card' }, h('h2', {}, 'Open drift'), open.length ? table(['Kind', 'Subject', 'Message', 'Since'], open.map((e) => [e.kind, e.subject, e.message, time(e.at)])) : h('p', { class: 'muted' }, 'None.')),
    ),
    h('section', { class: 'card' }, h('h2', {}, 'Steps across rollouts'),
      (host.steps as any[]).length
        ? table(['Rollout', 'Wave', 'State', 'Attempt', 'Message', 'Updated'], (host.steps as any[]).map((s) => [h('a', { href: `#/rollouts/${encodeURIComponent(s.rolloutId)}` }, s.rolloutName), s.wave ?? String(s.waveIndex), badge(s.state), String(s.attempt), s.message ?? '', time(s.updatedAt)]))
        : h('p', { class: 'muted' }, 'This host has not been in a rollout.')),
    h('section', { class: 'card' }, h('h2', {}, 'Drift events'),
      (drift.events as any[]).length ? table(['Received', 'Kind', 'Subject', 'Message', 'Resolved'], (drift.events as any[]).map((e) => [time(e.receivedAt), e.kind, e.subject, e.message, e.resolvedAt ? time(e.resolvedAt) : 'open'])) : h('p', { class: 'muted' }, 'None.')),
    h('section', { class: 'card' }, h('h2', {}, 'Facts'), h('details', {}, h('summary', {}, 'What the agent last reported'), facts)),
  );
  void clear;
}

// Rollouts: the list (state, progress) and one rollout's page: its waves as a timeline, each
// wave's hosts (failing first, with their messages), the failure budget, the event log and the
// plan, kept live by GET /v1/rollouts/:id/stream (server-sent events), and the actions an
// operator or approver may take, each behind a dialog that says what it will touch.
import { ApiError, can, get, loadSession, post, q, signedOut } from './api.ts';
import { append, badge, clear, duration, h, plural, show, time, toast, openDialog } from './dom.ts';

const put = (el: Node, ...children: Parameters<typeof append>[1]) => append(el, children);

const FINAL = ['completed', 'halted', 'rolled_back', 'aborted'];
/** Hosts shown first: the ones that need attention. */
const HOST_ORDER = ['failed', 'silent', 'rolling_back', 'applying', 'verifying', 'pending', 'healthy', 'rolled_back', 'skipped'];

// ---- list ----------------------------------------------------------------------------------

export async function rolloutsPage(): Promise<() => void> {
  const body = h('tbody', {});
  const status = h('p', { class: 'muted', role: 'status' }, 'Loading…');
  show(
    h('div', { class: 'title' }, h('h1', {}, 'Rollouts')),
    status,
    h('table', { class: 'rollouts' }, h('thead', {}, h('tr', {}, ['Rollout', 'State', 'Progress', 'Started', 'Updated'].map((x) => h('th', { scope: 'col' }, x)))), body),
  );
  const summaries = new Map<string, any>();
  let stopped = false;
  async function refresh(): Promise<void> {
    const { rollouts } = await get('/v1/rollouts');
    status.textContent = rollouts.length === 0 ? 'No rollouts yet: start one with `sluice rollout start PLAN`.' : `${plural(rollouts.length, 'rollout')}, newest first.`;
    // Progress from each shown rollout's summary (counts only, no hosts); active ones refreshed.
    const shown = rollouts.slice(0, 50);
    await Promise.all(
      shown.map(async (r: any) => {
        if (summaries.has(r.id) && FINAL.includes(r.state) && FINAL.includes(summaries.get(r.id).state)) return;
        summaries.set(r.id, await get(`/v1/rollouts/${encodeURIComponent(r.id)}/summary`).catch(() => null));
      }),
    );
    clear(body);
    for (const r of shown) {
      const s = summaries.get(r.id);
      body.append(
        h(
          'tr',
          { 'data-rollout': r.id },
          h('td', {}, h('a', { href: `#/rollouts/${encodeURIComponent(r.id)}` }, r.name), h('div', { class: 'muted mono' }, r.id)),
          h('td', {}, badge(r.state), r.reason ? h('div', { class: 'muted small' }, r.reason) : null),
          h('td', {}, s ? progress(s) : '—'),
          h('td', {}, time(r.createdAt)),
          h('td', {}, time(r.updatedAt)),
        ),
      );
    }
  }
  await refresh();
  const timer = window.setInterval(() => {
    if (!stopped) refresh().catch(() => {});
  }, 3000);
  return () => {
    stopped = true;
    window.clearInterval(timer);
  };
}

function progress(v: any): HTMLElement {
  const c = v.counts ?? {};
  const total = v.hostsTotal ?? 0;
  const done = (c.healthy ?? 0) + (c.rolled_back ?? 0) + (c.skipped ?? 0);
  const bad = (c.failed ?? 0) + (c.silent ?? 0);
  const pct = (n: number) => (total === 0 ? 0 : (100 * n) / total);
  return h(
    'div',
    { class: 'progress', title: `${c.healthy ?? 0} healthy, ${bad} failed, ${c.rolled_back ?? 0} rolled back, ${c.skipped ?? 0} skipped of ${total}` },
    h(
      'div',
      { class: 'bar', role: 'img', 'aria-label': `${done} of ${total} hosts done` },
      h('span', { class: 'seg ok', style: `width:${pct(c.healthy ?? 0)}%` }),
      h('span', { class: 'seg bad', style: `width:${pct(bad)}%` }),
      h('span', { class: 'seg back', style: `width:${pct(c.rolled_back ?? 0)}%` }),
    ),
    h('span', { class: 'small' }, `${c.healthy ?? 0}/${total} healthy${bad ? `, ${bad} failed` : ''}`),
  );
}

// ---- one rollout ----------------------------------------------------------------------------

interface Live {
  view: any | null;
  plan: any | null;
  events: any[];
  lastSeq: number;
}

export async function rolloutPage(id: string): Promise<() => void> {
  const live: Live = { view: null, plan: null, events: [], lastSeq: 0 };
  /** Waves whose host list the user opened or closed: kept across live redraws. */
  const opened = new Map<string, boolean>();
  /** A large rollout's failing hosts by wave (loadFailing). */
  let failingByWave = new Map<string, any[]>();
  let failingAt = 0;
  let failingBusy = false;

  const indicator = h('span', { class: 'live off', id: 'live', role: 'status' }, 'connecting…');
  const header = h('div', { class: 'rollout-head' });
  const actions = h('div', { class: 'actions', id: 'actions' });
  const budget = h('section', { class: 'card', 'aria-labelledby': 'h-budget' });
  const timeline = h('section', { class: 'card', 'aria-labelledby': 'h-waves' });
  const log = h('section', { class: 'card', 'aria-labelledby': 'h-events' });
  const planBox = h('section', { class: 'card', 'aria-labelledby': 'h-plan' });
  show(h('p', {}, h('a', { href: '#/rollouts' }, '← Rollouts')), header, indicator, actions, h('div', { class: 'grid2' }, budget, planBox), timeline, log);

  // The first paint without waiting for the stream (and a 404 shown as such).
  const first = await get(`/v1/rollouts/${encodeURIComponent(id)}`);
  live.view = first;
  draw();

  let es: EventSource | null = null;
  let retry: number | undefined;
  let stopped = false;
  const setLive = (on: boolean, text: string) => {
    indicator.className = `live ${on ? 'on' : 'off'}`;
    indicator.textContent = text;
  };
  function connect(): void {
    if (stopped) return;
    es = new EventSource(`/v1/rollouts/${encodeURIComponent(live.view?.id ?? id)}/stream${q({ after: live.lastSeq || undefined })}`);
    es.addEventListener('open', () => setLive(true, 'live'));
    es.addEventListener('plan', (e) => {
      live.plan = JSON.parse((e as MessageEvent).data);
      drawPlan();
      drawBudget();
    });
    es.addEventListener('rollout', (e) => {
      live.view = JSON.parse((e as MessageEvent).data);
      setLive(true, 'live');
      draw();
    });
    es.addEventListener('events', (e) => {
      const more = JSON.parse((e as MessageEvent).data) as any[];
      for (const ev of more) if (ev.seq > live.lastSeq) live.events.push(ev);
      if (more.length) live.lastSeq = Math.max(live.lastSeq, ...more.map((x) => x.seq));
      if (live.events.length > 1000) live.events.splice(0, live.events.length - 1000);
      drawLog();
    });
    es.addEventListener('signedout', () => {
      stopped = true;
      es?.close();
      signedOut('the session ended');
    });
    es.addEventListener('error', () => {
      // Closed by the server (restart, network): reconnect ourselves, after checking the session.
      es?.close();
      es = null;
      if (stopped) return;
      setLive(false, 'not live, reconnecting…');
      retry = window.setTimeout(async () => {
        try {
          const s = await loadSession();
          if (!s) {
            // The server restarted (sessions are in its memory) or the session expired.
            signedOut('the session ended, or the server restarted; sign in again to go on watching');
            return;
          }
        } catch {
          // still down: try again
        }
        connect();
      }, 2000);
    });
  }
  connect();
  // Bake time left ticks without the server.
  const ticker = window.setInterval(() => {
    for (const el of timeline.querySelectorAll<HTMLElement>('[data-bake-ends]')) {
      el.textContent = ` baking, ${duration(Number(el.dataset.bakeEnds) - Date.now())} left`;
    }
  }, 1000);

  // A large rollout's view has counts only: its failing hosts come from the paged list, at most
  // every 5 s, newest view first.
  async function loadFailing(): Promise<void> {
    if (failingBusy || Date.now() - failingAt < 5000) return;
    failingBusy = true;
    try {
      const page = await get(`/v1/rollouts/${encodeURIComponent(live.view.id)}/hosts${q({ state: 'failed,silent,rolling_back', limit: 200 })}`);
      const next = new Map<string, any[]>();
      for (const x of page.hosts as any[]) next.set(x.wave, [...(next.get(x.wave) ?? []), x]);
      failingByWave = next;
      failingAt = Date.now();
      drawTimeline();
    } catch {
      // shown at the next update
    } finally {
      failingBusy = false;
    }
  }

  function draw(): void {
    if (live.view && live.view.hostsIncluded === false) void loadFailing();
    drawHeader();
    drawActions();
    drawBudget();
    drawTimeline();
  }

  function drawHeader(): void {
    const v = live.view;
    clear(header);
    put(header, 
      h('h1', {}, v.name, ' ', badge(v.state)),
      h('p', { class: 'muted mono' }, v.id),
      v.reason ? h('p', { class: v.state === 'halted' || v.state === 'rolled_back' ? 'error' : 'muted' }, v.reason) : null,
      v.heldReason ? h('p', { class: 'warn' }, `Held by the server: ${v.heldReason}`) : null,
      v.waiting ? h('p', { class: 'warn', id: 'waiting' }, `Waiting: ${v.waiting}`) : null,
      h('div', {}, progress(v)),
    );
  }

  function drawBudget(): void {
    const v = live.view;
    const p = live.plan;
    clear(budget);
    put(budget, h('h2', { id: 'h-budget' }, 'Failure budget'));
    const c = v.counts ?? {};
    const failedNow = (c.failed ?? 0) + (c.silent ?? 0);
    const limit = p ? quantity(p.budget.failedTotal, v.hostsTotal) : null;
    put(budget, 
      h('p', { class: 'budget' }, h('strong', {}, String(v.failedTotal ?? failedNow)), ` failed of ${limit === null ? '?' : limit} allowed in the rollout`, p && 'percent' in p.budget.failedTotal ? ` (${describeQuantity(p.budget.failedTotal)})` : '', limit !== null && (v.failedTotal ?? failedNow) > limit ? h('strong', { class: 'error' }, ' — exceeded') : null),
      meter(v.failedTotal ?? failedNow, limit),
      p ? h('p', { class: 'muted small' }, `Per wave: ${describeQuantity(p.budget.failedPerWave)}; a host silent for ${duration(p.budget.silentAfter)} counts as failed. On failure: ${p.onFailure}.`) : null,
      v.rollbackHosts ? h('p', { class: 'small' }, `${plural(v.rollbackHosts, 'host')} would be rolled back.`) : null,
      v.unconfirmedRollbacks ? h('p', { class: 'error small' }, `${plural(v.unconfirmedRollbacks, 'rollback')} not confirmed.`) : null,
    );
  }

  function drawTimeline(): void {
    const v = live.view;
    clear(timeline);
    timeline.append(h('h2', { id: 'h-waves' }, 'Waves'));
    const ol = h('ol', { class: 'timeline' });
    const now = Date.now();
    for (const w of v.waves ?? []) {
      const counts = w.counts ?? {};
      let when = '';
      if (w.state === 'baking' && w.bakeEndsAt) when = `baking, ${duration(w.bakeEndsAt - now)} left`; // ticks: see `ticker`
      else if (w.state === 'awaiting_approval') when = 'waiting for approval';
      else if (w.finishedAt) when = `finished ${time(w.finishedAt)}`;
      else if (w.startedAt) when = `started ${time(w.startedAt)}`;
      const hosts: any[] = (w.hosts ?? []).slice().sort((a: any, b: any) => HOST_ORDER.indexOf(a.state) - HOST_ORDER.indexOf(b.state) || (a.name < b.name ? -1 : 1));
      const failing = hosts.filter((x) => x.state === 'failed' || x.state === 'silent').length + (v.hostsIncluded ? 0 : (counts.failed ?? 0) + (counts.silent ?? 0));
      const details = h(
        'details',
        {
          class: 'hosts',
          open: opened.get(w.name) ?? (w.state !== 'completed' && w.state !== 'skipped' && w.state !== 'pending' ? true : failing > 0),
        },
        h('summary', { onclick: (ev: Event) => opened.set(w.name, !((ev.currentTarget as HTMLElement).parentElement as HTMLDetailsElement).open) }, `${plural(w.hostCount ?? hosts.length, 'host')}: ${countsText(counts)}`),
        v.hostsIncluded
          ? h(
              'ul',
              { class: 'hostlist' },
              hosts.map((x) =>
                h('li', { class: `host s-${x.state}` }, h('a', { href: `#/hosts/${encodeURIComponent(x.name)}` }, x.name), ' ', badge(x.state), x.message ? h('span', { class: 'msg' }, x.message) : null),
              ),
            )
          : [
              h(
                'ul',
                { class: 'hostlist' },
                (failingByWave.get(w.name) ?? []).map((x: any) =>
                  h('li', { class: `host s-${x.state}` }, h('a', { href: `#/hosts/${encodeURIComponent(x.name)}` }, x.name), ' ', badge(x.state), x.message ? h('span', { class: 'msg' }, x.message) : null),
                ),
              ),
              h('p', { class: 'muted small' }, `Too many hosts to list them all: ${(failingByWave.get(w.name) ?? []).length ? 'the failing ones are shown' : 'none is failing'}; the others are counted above.`),
            ],
      );
      ol.append(
        h(
          'li',
          { class: `wave w-${w.state}`, 'data-wave': w.name },
          h('div', { class: 'wave-head' }, h('strong', {}, w.name), ' ', badge(w.state), h('span', { class: 'muted small when', 'data-bake-ends': w.state === 'baking' && w.bakeEndsAt ? w.bakeEndsAt : null }, ' ', when), w.failed ? h('span', { class: 'error small' }, ` ${w.failed} failed`) : null),
          details,
        ),
      );
    }
    for (const name of v.pendingWaves ?? []) {
      if ((v.waves ?? []).some((w: any) => w.name === name)) continue;
      ol.append(h('li', { class: 'wave w-pending', 'data-wave': name }, h('div', { class: 'wave-head' }, h('strong', {}, name), ' ', badge('not started'))));
    }
    timeline.append(ol);
  }

  function drawLog(): void {
    clear(log);
    log.append(h('h2', { id: 'h-events' }, 'Event log'));
    const rows = live.events.slice(-300).reverse();
    if (rows.length === 0) {
      log.append(h('p', { class: 'muted' }, 'No events yet.'));
      return;
    }
    log.append(
      h(
        'table',
        { class: 'events' },
        h('thead', {}, h('tr', {}, ['Time', 'Kind', 'Wave', 'Host', 'Message'].map((x) => h('th', { scope: 'col' }, x)))),
        h('tbody', {}, rows.map((e) => h('tr', { class: `k-${String(e.kind).replace(/[^a-z_.-]/gi, '')}` }, h('td', {}, time(e.at)), h('td', { class: 'mono' }, e.kind), h('td', {}, e.wave ?? ''), h('td', {}, e.host ?? ''), h('td', {}, e.message)))),
      ),
    );
  }

  function drawPlan(): void {
    const p = live.plan;
    clear(planBox);
    planBox.append(h('h2', { id: 'h-plan' }, 'Plan'));
    if (!p) return;
    const kind = Object.keys(p.change).find((k) => k !== 'timeout') ?? p.change.kind;
    planBox.append(
      h('p', {}, `Change: ${p.change.kind ?? kind}`, p.change.packages ? ` (${Object.keys(p.change.packages).join(', ')})` : ''),
      h('p', { class: 'small' }, `Targets: ${Object.keys(p.hosts?.match ?? {}).length ? JSON.stringify(p.hosts.match) : 'every host'}`),
      h(
        'table',
        { class: 'small' },
        h('thead', {}, h('tr', {}, ['Wave', 'Size', 'Parallel', 'Bake', 'Approval'].map((x) => h('th', { scope: 'col' }, x)))),
        h(
          'tbody',
          {},
          p.waves.map((w: any) =>
            h('tr', {}, h('td', {}, w.name, w.each ? ` (each ${w.each})` : ''), h('td', {}, w.size ? describeQuantity(w.size) : 'rest'), h('td', {}, w.parallel ? describeQuantity(w.parallel) : 'all'), h('td', {}, duration(w.bake ?? 0)), h('td', {}, w.approve ? 'required' : '—')),
          ),
        ),
      ),
      h('p', { class: 'small' }, `Checks: ${(p.checks ?? []).map((c: any) => c.name).join(', ') || 'none'}`),
      h('details', {}, h('summary', {}, 'Whole plan'), h('pre', { class: 'plan' }, JSON.stringify(p, null, 2))),
    );
  }

  function drawActions(): void {
    const v = live.view;
    clear(actions);
    for (const a of availableActions(v)) {
      if (!can(a.name)) continue; // hidden: the server would refuse it (403)
      actions.append(h('button', { type: 'button', class: a.danger ? 'danger' : '', 'data-action': a.name, onclick: () => confirmAction(v, a) }, a.label));
    }
  }

  return () => {
    stopped = true;
    es?.close();
    window.clearTimeout(retry);
    window.clearInterval(ticker);
  };
}

interface Action {
  readonly name: 'pause' | 'resume' | 'approve' | 'abort' | 'retry' | 'rollback';
  readonly label: string;
  readonly danger?: boolean;
  readonly touches: string;
}

/** What the engine accepts in this state (core/rollout/transition.ts guards), and what each touches. */
export function availableActions(v: any): Action[] {
  const waves: any[] = v.waves ?? [];
  const c = v.counts ?? {};
  const inFlight = (c.applying ?? 0) + (c.verifying ?? 0);
  const active = waves.filter((w) => w.state === 'applying' || w.state === 'baking').map((w) => w.name);
  const awaiting = waves.find((w) => w.state === 'awaiting_approval');
  const failedWaves = waves.filter((w) => w.state === 'failed');
  const notChanged = (c.pending ?? 0) + waves.filter((w) => w.state === 'pending').length * 0;
  const names = (xs: string[]) => (xs.length ? xs.join(', ') : 'none');
  const out: Action[] = [];
  const s = v.state;
  if (s === 'running') out.push({ name: 'pause', label: 'Pause', touches: `No new host starts. ${plural(inFlight, 'host')} in flight finish. Active waves: ${names(active)}.` });
  if (s === 'paused') out.push({ name: 'resume', label: 'Resume', touches: `Hosts start again in ${names(active.length ? active : (v.pendingWaves ?? []).slice(0, 1))}; ${plural(c.pending ?? 0, 'host')} still to change.` });
  if ((s === 'running' || s === 'paused') && awaiting) {
    out.push({ name: 'approve', label: `Approve ${awaiting.name}`, touches: `Wave ${awaiting.name} starts: its ${plural(awaiting.hostCount ?? 0, 'host')} will be changed.` });
  }
  if (s === 'halted' && failedWaves.length > 0) {
    const failing = failedWaves.reduce((n, w) => n + (w.counts?.failed ?? 0) + (w.counts?.silent ?? 0), 0);
    out.push({ name: 'retry', label: 'Retry', touches: `The ${plural(failing, 'failed host')} of ${names(failedWaves.map((w) => w.name))} are tried again, and the rollout goes on.` });
  }
  const rollbackable = s === 'running' || s === 'paused' || s === 'halted' || s === 'completed' || (s === 'rolled_back' && (v.unconfirmedRollbacks ?? 0) > 0);
  if (rollbackable) {
    const touched = waves.filter((w) => w.state !== 'pending' && w.state !== 'skipped' && w.state !== 'awaiting_approval').map((w) => w.name);
    out.push({ name: 'rollback', label: 'Roll back', danger: true, touches: `${plural(v.rollbackHosts ?? 0, 'changed host')} are returned to how they were, in reverse wave order: ${names(touched.slice().reverse())}.` });
  }
  if (!FINAL.includes(s)) {
    out.push({ name: 'abort', label: 'Abort', danger: true, touches: `The rollout stops for good: ${plural(notChanged, 'host')} not yet changed are skipped; changed hosts stay as they are. Waves not started: ${names(v.pendingWaves ?? [])}.` });
  }
  return out;
}

function confirmAction(v: any, a: Action): void {
  const dialog = h('dialog', { class: 'confirm', 'aria-labelledby': 'confirm-title' });
  const close = () => dialog.close();
  dialog.append(
    h('h2', { id: 'confirm-title' }, `${a.label}: ${v.name}?`),
    h('p', { class: 'touches' }, a.touches),
    h('p', { class: 'muted small mono' }, v.id),
    h(
      'div',
      { class: 'buttons' },
      h('button', { type: 'button', onclick: close }, 'Cancel'),
      h(
        'button',
        {
          type: 'button',
          class: a.danger ? 'danger' : 'primary',
          'data-confirm': a.name,
          onclick: async () => {
            close();
            try {
              const r = await post(`/v1/rollouts/${encodeURIComponent(v.id)}/${a.name}`);
              toast(`${a.label}: the rollout is now ${String(r.state).replace(/_/g, ' ')}.`);
            } catch (err) {
              toast(err instanceof ApiError ? `${a.label} refused: ${err.message}` : String(err), 'error');
            }
          },
        },
        a.label,
      ),
    ),
  );
  openDialog(dialog);
}

function quantity(qy: any, of: number): number {
  if (qy && typeof qy.count === 'number') return qy.count;
  if (qy && typeof qy.percent === 'number') return Math.floor((qy.percent * of) / 100);
  return 0;
}

function describeQuantity(qy: any): string {
  if (qy && typeof qy.count === 'number') return String(qy.count);
  if (qy && typeof qy.percent === 'number') return `${qy.percent}%`;
  return '?';
}

function meter(used: number, limit: number | null): HTMLElement {
  const max = Math.max(limit ?? 0, used, 1);
  const over = limit !== null && used > limit;
  return h(
    'div',
    { class: `bar budget-bar${over ? ' over' : ''}`, role: 'meter', 'aria-valuemin': 0, 'aria-valuemax': max, 'aria-valuenow': used, 'aria-label': 'failure budget used' },
    h('span', { class: `seg ${over ? 'bad' : used > 0 ? 'drift' : 'ok'}`, style: `width:${(100 * used) / max}%` }),
  );
}

function countsText(c: Record<string, number>): string {
  const parts = HOST_ORDER.filter((s) => (c[s] ?? 0) > 0).map((s) => `${c[s]} ${s.replace(/_/g, ' ')}`);
  return parts.length ? parts.join(', ') : 'none yet';
}

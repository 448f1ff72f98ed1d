// The dashboard in a real browser (issue 11): Debian's chromium driven by playwright-core against
// a real `sluice server` and real agents. Sign in, watch a rollout complete live, approve a gated
// wave, a failing canary rolled back, a viewer without buttons and refused by the API, CSRF
// refused, the page live again after a server restart, no console errors, and the fleet grid
// over 10,000 hosts enrolled through the API.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { ADMIN_TOKEN, ENROLL_TOKEN, REPO, api, startServerProc, tempDir, waitFor, type ServerProc } from './helpers/processes.ts';
import { Rig } from './helpers/engine-rig.ts';
import { startServer } from '../src/server/start-server.ts';
import { silentLogger } from '../src/server/logger.ts';
import { seedRollout } from './helpers/fleet-seed.ts';

const CHROMIUM = '/usr/bin/chromium';
const FLEET_HOSTS = 10_000;
const PROVIDERS = ['aws', 'gcp'];

let rig: Rig;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const consoleErrors: string[] = [];
let fleet: { server: ServerProc; dir: ReturnType<typeof tempDir>; seeded: Promise<number> } | null = null;

/** Runs `fn`, whose failed requests are on purpose: the browser logs those as console errors. */
async function expectingFailedRequests<T>(fn: () => Promise<T>): Promise<T> {
  const before = consoleErrors.length;
  try {
    return await fn();
  } finally {
    const mine = consoleErrors.splice(before);
    consoleErrors.push(...mine.filter((m) => !/Failed to load resource/.test(m)));
  }
}

function watchConsole(p: Page): void {
  p.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(`${p.url()}: ${m.text()}`);
  });
  p.on('pageerror', (e) => consoleErrors.push(`${p.url()}: ${e.message}`));
}

/** Enrolls `n` hosts through POST /v1/agent/enroll with the enrollment token, 24 at a time. */
async function enrollFleet(url: string, n: number): Promise<number> {
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      const res = await fetch(`${url}/v1/agent/enroll`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ENROLL_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          name: `f-${String(i).padStart(5, '0')}`,
          labels: { provider: PROVIDERS[i % 2]!, region: `r${Math.floor(i / 2) % 3}`, zone: `z${Math.floor(i / 6) % 3}`, cluster: `k${Math.floor(i / 18) % 4}` },
        }),
      });
      if (!res.ok) throw new Error(`enroll ${i}: ${res.status} ${await res.text()}`);
      await res.arrayBuffer();
    }
  };
  await Promise.all(Array.from({ length: 24 }, worker));
  return n;
}

async function signIn(p: Page, url: string, token = ADMIN_TOKEN): Promise<void> {
  await p.goto(`${url}/ui/`);
  await p.locator('#token').fill(token);
  await p.getByRole('button', { name: 'Sign in' }).click();
  await p.locator('.principal').waitFor();
}

function plan(name: string, waves: string, extra = '', applyFails?: string): string {
  return rig.plan({ name, waves, extra: `confirmWindow: 0s\n${extra}`, ...(applyFails ? { applyFails } : {}) });
}

const rolloutState = (p: Page) => p.locator('.rollout-head h1 .badge');

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium`);
  // The 10,000-host fleet is enrolled while the rollout tests run (its own server).
  const dir = tempDir('dash-fleet');
  // SLUICE_LIMIT_ENROLL=off: every enrollment comes from 127.0.0.1 (the per-address limit of issue 10).
  const server = await startServerProc(join(dir.path, 'server'), 0, { SLUICE_LOG_LEVEL: 'warn', SLUICE_LIMIT_ENROLL: 'off' });
  fleet = { server, dir, seeded: enrollFleet(server.url, FLEET_HOSTS) };
  fleet.seeded.catch(() => {}); // awaited by the fleet test
  [rig, browser] = await Promise.all([
    Rig.start([
      { name: 'd-a', labels: { provider: 'aws', region: 'eu', zone: 'a', cluster: 'web' } },
      { name: 'd-b', labels: { provider: 'aws', region: 'eu', zone: 'b', cluster: 'web' } },
      { name: 'd-c', labels: { provider: 'gcp', region: 'us', zone: 'a', cluster: 'web' } },
    ]),
    chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] }),
  ]);
  context = await browser.newContext();
  page = await context.newPage();
  watchConsole(page);
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await rig?.cleanup();
  if (fleet) {
    await fleet.seeded.catch(() => {});
    await fleet.server.kill();
    fleet.dir.remove();
  }
});

describe('dashboard', () => {
  it('signs in with a token: an HttpOnly, SameSite=Strict session cookie; a wrong token is refused', async () => {
    await page.goto(`${rig.server.url}/ui/`);
    await page.locator('#token').fill('sla_not_a_token');
    await expectingFailedRequests(async () => {
      await page.getByRole('button', { name: 'Sign in' }).click();
      await expect.poll(() => page.locator('#signin-message').textContent()).toMatch(/not valid/);
    });
    await signIn(page, rig.server.url);
    expect(await page.locator('.principal').textContent()).toMatch(/admin \(admin\)/);
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === 'sluice_session');
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict', secure: false, path: '/' });
    // The page's own assets carry a CSP without inline script.
    const res = await fetch(`${rig.server.url}/ui/`);
    expect(res.headers.get('content-security-policy')).toMatch(/script-src 'self';/);
    expect(res.headers.get('content-security-policy')).not.toMatch(/unsafe-inline/);
  });

  it('watches a rollout complete live: baking with time left, then completed, without a reload', async () => {
    const started = await api(rig.server.url, 'POST', '/v1/rollouts', { plan: plan('live-one', '  - { name: canary, size: 1, bake: 3s }\n  - { name: rest, bake: 1s }') });
    await page.goto(`${rig.server.url}/ui/#/rollouts/${started.id}`);
    await expect.poll(() => page.locator('#live').textContent(), { timeout: 10_000 }).toBe('live');
    await page.evaluate(() => ((window as any).__noReload = true));
    await page.locator('.wave[data-wave="canary"] .when', { hasText: /baking, \d+s left/ }).waitFor({ timeout: 30_000 });
    await page.locator('.rollout-head h1 .badge', { hasText: 'completed' }).waitFor({ timeout: 40_000 });
    expect(await page.evaluate(() => (window as any).__noReload)).toBe(true);
    expect(await page.locator('.wave[data-wave="rest"] .hostlist li').count()).toBe(2);
    expect(await page.locator('table.events tbody tr').count()).toBeGreaterThan(3);
    // A finished rollout offers no pause, resume or approve.
    expect(await page.locator('[data-action="pause"], [data-action="approve"]').count()).toBe(0);
    // The list shows it with its progress.
    await page.goto(`${rig.server.url}/ui/#/rollouts`);
    await page.locator(`tr[data-rollout="${started.id}"]`, { hasText: '3/3 healthy' }).waitFor();
  });

  it('approves a gated wave through the dialog, which says what it touches', async () => {
    const started = await api(rig.server.url, 'POST', '/v1/rollouts', { plan: plan('gated', '  - { name: canary, size: 1, bake: 0s }\n  - { name: prod, approve: true }') });
    await page.goto(`${rig.server.url}/ui/#/rollouts/${started.id}`);
    const approve = page.locator('[data-action="approve"]');
    await approve.waitFor({ timeout: 30_000 });
    expect(await page.locator('.wave[data-wave="prod"] .badge').first().textContent()).toBe('awaiting approval');
    await approve.focus();
    await page.keyboard.press('Enter'); // keyboard-usable
    const dialog = page.locator('dialog.confirm');
    await dialog.waitFor();
    expect(await dialog.locator('.touches').textContent()).toMatch(/Wave prod starts: its 2 hosts will be changed/);
    await page.keyboard.press('Escape'); // closes it; focus goes back to the button
    await expect.poll(() => page.locator('dialog.confirm').count()).toBe(0);
    expect(await page.evaluate(() => document.activeElement?.getAttribute('data-action'))).toBe('approve');
    await approve.click();
    await page.locator('dialog.confirm button', { hasText: 'Cancel' }).click();
    await expect.poll(() => page.locator('dialog.confirm').count()).toBe(0);
    expect((await rig.view(started.id)).state).toBe('running');
    await approve.click();
    await page.locator('dialog.confirm [data-confirm="approve"]').click();
    await rolloutState(page).filter({ hasText: 'completed' }).waitFor({ timeout: 30_000 });
    const events = await rig.events(started.id);
    expect(events.some((e) => e.kind === 'wave.approved' && /approved by admin/.test(e.message))).toBe(true);
  });

  it('shows a failing canary rolled back, the failing host and its message first', async () => {
    const started = await api(rig.server.url, 'POST', '/v1/rollouts', {
      plan: plan('bad-canary', '  - { name: canary, size: 1, bake: 1s }\n  - { name: rest }', 'budget: { failedPerWave: 0, failedTotal: 0, silentAfter: 10s }\nonFailure: rollback', 'd-a d-b d-c'),
    });
    await page.goto(`${rig.server.url}/ui/#/rollouts/${started.id}`);
    await rolloutState(page).filter({ hasText: 'rolled back' }).waitFor({ timeout: 40_000 });
    const canary = page.locator('.wave[data-wave="canary"]');
    expect(await canary.locator('.wave-head .badge').textContent()).toMatch(/failed|rolled back/);
    const first = canary.locator('.hostlist li').first();
    expect(await first.locator('.msg').textContent()).toBeTruthy();
    expect(await page.locator('.budget').textContent()).toMatch(/1 failed of 0 allowed/);
    // No pause/approve/retry on a rolled back rollout whose rollback was confirmed.
    expect(await page.locator('[data-action="pause"], [data-action="retry"], [data-action="abort"]').count()).toBe(0);
  });

  it('refuses a cookie-authenticated change without the CSRF header (403); the header or a bearer token passes', async () => {
    const latest = await api(rig.server.url, 'GET', '/v1/rollouts/latest');
    const results = await expectingFailedRequests(() => page.evaluate(async (id) => {
      const s = await (await fetch('/ui/session')).json();
      const none = await fetch(`/v1/rollouts/${id}/pause`, { method: 'POST' });
      const wrong = await fetch(`/v1/rollouts/${id}/pause`, { method: 'POST', headers: { 'x-csrf-token': 'nope' } });
      const right = await fetch(`/v1/rollouts/${id}/pause`, { method: 'POST', headers: { 'x-csrf-token': s.csrfToken } });
      const signOutNoHeader = await fetch('/ui/session', { method: 'DELETE' });
      return { none: none.status, noneBody: await none.json(), wrong: wrong.status, right: right.status, signOut: signOutNoHeader.status };
    }, latest.id));
    expect(results.none).toBe(403);
    expect(results.noneBody.error.message).toMatch(/x-csrf-token/i);
    expect(results.wrong).toBe(403);
    expect(results.right).toBe(409); // past CSRF and the role check: a rolled back rollout cannot be paused
    expect(results.signOut).toBe(403);
    const bearer = await fetch(`${rig.server.url}/v1/rollouts/${latest.id}/pause`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(bearer.status).toBe(409);
  });

  it('a viewer sees no action buttons, and the API refuses a viewer its action (403)', async () => {
    const started = await api(rig.server.url, 'POST', '/v1/rollouts', { plan: plan('for-viewer', '  - { name: canary, size: 1, bake: 0s }\n  - { name: prod, approve: true }') });
    await rig.waitView('the gated wave', started.id, (v) => v.waves.some((w: any) => w.state === 'awaiting_approval'));
    await page.goto(`${rig.server.url}/ui/#/rollouts/${started.id}`);
    await page.locator('[data-action="approve"]').waitFor(); // the admin sees it
    const created = await fetch(`${rig.server.url}/v1/tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'watcher', owner: 'dashboard test', role: 'viewer' }),
    });
    const viewerContext = await browser.newContext();
    const viewer = await viewerContext.newPage();
    watchConsole(viewer);
    try {
      expect(created.status).toBe(201);
      await signIn(viewer, rig.server.url, (await created.json()).secret);
      expect(await viewer.locator('.principal').textContent()).toMatch(/watcher \(viewer\)/);
      await viewer.goto(`${rig.server.url}/ui/#/rollouts/${started.id}`);
      await viewer.locator('.wave[data-wave="prod"]').waitFor();
      await expect.poll(() => viewer.locator('#live').textContent()).toBe('live');
      expect(await viewer.locator('#actions button').count()).toBe(0);
      const status = await expectingFailedRequests(() =>
        viewer.evaluate(async (id) => {
          const s = await (await fetch('/ui/session')).json();
          return (await fetch(`/v1/rollouts/${id}/approve`, { method: 'POST', headers: { 'x-csrf-token': s.csrfToken } })).status;
        }, started.id),
      );
      expect(status).toBe(403);
      // An approver may approve, and only that: the one button it sees.
      const approver = await fetch(`${rig.server.url}/v1/tokens`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'gatekeeper', owner: 'dashboard test', role: 'approver' }),
      });
      expect(approver.status).toBe(201);
      await viewer.locator('button', { hasText: 'Sign out' }).click();
      await signIn(viewer, rig.server.url, (await approver.json()).secret);
      await viewer.goto(`${rig.server.url}/ui/#/rollouts/${started.id}`);
      await viewer.locator('[data-action="approve"]').waitFor();
      expect(await viewer.locator('#actions button').evaluateAll((bs) => bs.map((b) => b.getAttribute('data-action')))).toEqual(['approve']);
    } finally {
      await viewerContext.close();
      await api(rig.server.url, 'POST', `/v1/rollouts/${started.id}/abort`);
    }
  });

  it('shows "not live" while the server is down, asks to sign in again after its restart, then is live again', async () => {
    const started = await api(rig.server.url, 'POST', '/v1/rollouts', { plan: plan('restart', '  - { name: all, bake: 30s }') });
    await page.goto(`${rig.server.url}/ui/#/rollouts/${started.id}`);
    await expect.poll(() => page.locator('#live').textContent(), { timeout: 10_000 }).toBe('live');
    await expectingFailedRequests(async () => {
      await rig.stopServer('SIGTERM');
      await expect.poll(() => page.locator('#live').textContent(), { timeout: 10_000 }).toMatch(/not live, reconnecting/);
      await rig.startServer();
      // Sessions are in the server's memory: the restart ended this one.
      await page.locator('#token').waitFor({ timeout: 20_000 });
    });
    expect(await page.locator('#signin-message').textContent()).toMatch(/server restarted/);
    await page.locator('#token').fill(ADMIN_TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.locator('#live').textContent(), { timeout: 10_000 }).toBe('live');
    expect(page.url()).toContain(`#/rollouts/${started.id}`);
    await api(rig.server.url, 'POST', `/v1/rollouts/${started.id}/abort`);
  });

  it('the fleet grid over 10,000 hosts enrolled through the API: aggregate cells, drill-down to a host', async () => {
    const { server, seeded } = fleet!;
    expect(await seeded).toBe(FLEET_HOSTS);
    const fleetContext = await browser.newContext();
    const p = await fleetContext.newPage();
    watchConsole(p);
    try {
      await signIn(p, server.url);
      // How fast is bench/dashboard-load.ts's to say (docs/dashboard.md); this test says what it shows.
      await p.goto(`${server.url}/ui/#/fleet`);
      await p.locator('#fleet-timing').waitFor();
      expect(await p.locator('.fleet-total').textContent()).toMatch(/^10000 hosts: \d+ online, \d+ offline, 0 in a rollout, 0 failing, 0 with drift/);
      expect(await p.locator('.topo .cell').count()).toBe(2); // aws, gcp: aggregates, not 10,000 elements
      expect(await p.locator('.cell[data-cell="aws"] .cell-count').textContent()).toBe('5000 hosts');
      await p.locator('.cell[data-cell="aws"]').click();
      await p.locator('.cell[data-cell="r0"]').waitFor();
      expect(await p.locator('.topo .cell').count()).toBe(3);
      await p.locator('.cell[data-cell="r0"]').click();
      await p.locator('.cell[data-cell="z0"]').click();
      await p.locator('.cell[data-cell="k0"]').click();
      // The last level lists its hosts, paged by the server.
      const rows = p.locator('table tbody tr');
      await rows.first().waitFor();
      const listed = await rows.count();
      expect(listed).toBeGreaterThan(0);
      expect(listed).toBeLessThanOrEqual(100);
      await rows.first().locator('a').click();
      await p.locator('h1', { hasText: /^f-\d{5}/ }).waitFor();
      expect(await p.locator('.crumbs').textContent()).toMatch(/provider aws › region r0 › zone z0 › cluster k0/);
      const topo = await api(server.url, 'GET', '/v1/fleet/topology');
      expect(topo.total).toBe(FLEET_HOSTS);
      expect(topo.cells.length).toBe(2 * 3 * 3 * 4);
    } finally {
      await fleetContext.close();
    }
  });

  it('rehearses a plan over a built-in scenario: the worst case and the waves, nothing run', async () => {
    const planYaml = readFileSync(join(REPO, 'scenarios/plans/datadog-2023.yaml'), 'utf8');
    await page.goto(`${rig.server.url}/ui/#/rehearse`);
    await page.locator('#plan-source').fill(planYaml);
    await page.locator('#plan-fleet').selectOption('datadog-2023');
    await page.locator('#plan-hosts').fill('3000');
    await page.getByRole('button', { name: 'Analyze' }).click();
    await page.locator('#analysis .worst').waitFor({ timeout: 15_000 });
    expect(await page.locator('#analysis h2').textContent()).toMatch(/over the datadog-2023 fleet \(3000 simulated hosts\)/);
    expect(await page.locator('#analysis table tbody tr').count()).toBeGreaterThan(1);
    // ...and the incident rehearsed through it: the comparison, and the simulator's report framed in the page.
    await page.getByRole('button', { name: 'Simulate the incident' }).click();
    await page.locator('#analysis iframe.sim-report').waitFor({ timeout: 30_000 });
    expect(await page.locator('#analysis h2').textContent()).toMatch(/^datadog-2023 rehearsed through the plan \(3000 simulated hosts, seed 1\)/);
    expect(await page.locator('#analysis table').textContent()).toMatch(/rolled_back/);
    const report = page.frameLocator('#analysis iframe.sim-report');
    await expect.poll(async () => (await report.locator('body').textContent({ timeout: 10_000 })) ?? '', { timeout: 15_000 }).toMatch(/datadog-2023/);
  });

  it('a rollout over 1,000 hosts (counts only in its view) lists its failing hosts from the paged list', async () => {
    const big = await startServer({ listen: '127.0.0.1:0', memory: true, log: silentLogger(), adminToken: ADMIN_TOKEN });
    const bigContext = await browser.newContext();
    const p = await bigContext.newPage();
    watchConsole(p);
    try {
      const names = Array.from({ length: 1200 }, (_, i) => `big-${String(i).padStart(4, '0')}`);
      for (const name of names) await big.store.enrollHost({ name, labels: { zone: 'a' }, facts: {}, credentialHash: `h-${name}`, now: Date.now() });
      await seedRollout(big, 'r_dash_big', names, (i) => (i === 7 || i === 700 ? 'failed' : 'healthy'));
      await signIn(p, big.url);
      await p.goto(`${big.url}/ui/#/rollouts/r_dash_big`);
      const rest = p.locator('.wave[data-wave="rest"]');
      await rest.locator('.hostlist li').first().waitFor({ timeout: 10_000 });
      expect(await rest.locator('.hostlist li').allTextContents()).toEqual([expect.stringMatching(/^big-0007 failed/), expect.stringMatching(/^big-0700 failed/)]);
      expect(await rest.locator('summary').textContent()).toMatch(/1199 hosts: 2 failed, 1197 healthy/);
    } finally {
      await bigContext.close();
      await big.close();
    }
  });

  it('had no console errors on any page', () => {
    expect(consoleErrors).toEqual([]);
  });
});

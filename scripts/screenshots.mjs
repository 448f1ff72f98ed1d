// Regenerates the dashboard screenshots in docs/img/ (README, docs/dashboard.md): a real
// `sluice server` on a temporary data dir, three real agents, 2,000 more hosts enrolled through
// the API, a finished rollout, a rolled back one and one waiting for approval; then Debian's
// chromium (playwright-core) signs in and photographs each page, light and dark.
//   npm run build && node scripts/screenshots.mjs [--chromium /usr/bin/chromium]
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'docs/img');
const exe = process.argv.includes('--chromium') ? process.argv[process.argv.indexOf('--chromium') + 1] : '/usr/bin/chromium';
const ADMIN = 'sla_screenshots_admin_token_000000';
const ENROLL = 'sle_screenshots_enroll_token_00000';
const tmp = mkdtempSync(join(tmpdir(), 'sluice-screenshots-'));
const procs = [];

function start(args, env = {}) {
  const child = spawn(join(root, 'bin/sluice'), args, { env: { ...process.env, SLUICE_LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  child.stdout.on('data', (c) => (text += c));
  child.stderr.on('data', (c) => (text += c));
  procs.push(child);
  return { child, output: () => text };
}

async function until(what, fn, ms = 60_000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = await fn().catch(() => null);
    if (v) return v;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function api(url, method, path, body) {
  const res = await fetch(url + path, { method, headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

function plan(name, waves, extra = '', fails = '') {
  const apply = `${fails ? `case " ${fails} " in *" $SLUICE_HOST "*) echo "health check failed: port 443 closed" >&2; exit 3;; esac; ` : ''}true`;
  return `name: ${name}\nchange:\n  command:\n    apply: ["sh", "-c", ${JSON.stringify(apply)}]\n    rollback: ["true"]\n    timeout: 20s\nhosts:\n  match: { role: web }\nwaves:\n${waves}\nchecks:\n  - name: probe\n    command: ["true"]\ncheckInterval: 1s\nconfirmWindow: 0s\n${extra}\n`;
}

try {
  mkdirSync(out, { recursive: true });
  const server = start(['server', '--listen', '127.0.0.1:0', '--data-dir', join(tmp, 'server')], { SLUICE_ADMIN_TOKEN: ADMIN, SLUICE_ENROLL_TOKEN: ENROLL, SLUICE_LOG_LEVEL: 'info', SLUICE_LIMIT_ENROLL: 'off' });
  const url = await until('the server', async () => /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(server.output())?.[1]);
  const agents = [
    ['web-eu-1', 'provider=aws,region=eu-west-1,zone=eu-west-1a,cluster=web'],
    ['web-eu-2', 'provider=aws,region=eu-west-1,zone=eu-west-1b,cluster=web'],
    ['web-us-1', 'provider=gcp,region=us-east1,zone=us-east1-b,cluster=web'],
  ];
  for (const [name, labels] of agents) {
    start(['agent', '--server', url, '--name', name, '--labels', `${labels},role=web`, '--allow', 'command', '--state-dir', join(tmp, name), '--heartbeat', '1s'], { SLUICE_ENROLL_TOKEN: ENROLL });
  }
  // A larger fleet for the grid: enrolled through the API like agents do (offline: they never heartbeat).
  const providers = { aws: ['eu-west-1', 'us-east-1'], gcp: ['us-east1', 'europe-west4'], hetzner: ['fsn1'] };
  let n = 0;
  const jobs = [];
  for (const [provider, regions] of Object.entries(providers)) {
    for (const region of regions) {
      for (const z of ['a', 'b', 'c']) {
        for (const cluster of ['web', 'db', 'batch']) {
          for (let i = 0; i < 45; i++) {
            const name = `${provider}-${region}-${z}-${cluster}-${i}`;
            jobs.push({ name, labels: { provider, region, zone: `${region}${z}`, cluster } });
            n++;
          }
        }
      }
    }
  }
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < jobs.length) {
        const job = jobs[next++];
        const res = await fetch(`${url}/v1/agent/enroll`, { method: 'POST', headers: { authorization: `Bearer ${ENROLL}`, 'content-type': 'application/json' }, body: JSON.stringify(job) });
        await res.arrayBuffer();
      }
    }),
  );
  await until('the agents', async () => (await api(url, 'GET', '/v1/hosts?label=role=web')).hosts.filter((h) => h.status === 'online').length === 3);

  const final = (id) => until(`rollout ${id}`, async () => ['completed', 'rolled_back', 'halted'].includes((await api(url, 'GET', `/v1/rollouts/${id}`)).state));
  const done = await api(url, 'POST', '/v1/rollouts', { plan: plan('nginx-1.27.3', '  - { name: canary, size: 1, bake: 1s }\n  - { name: rest }') });
  await final(done.id);
  const bad = await api(url, 'POST', '/v1/rollouts', {
    plan: plan('tls-ciphers', '  - { name: canary, size: 1, bake: 1s }\n  - { name: rest }', 'budget: { failedPerWave: 0, failedTotal: 0, silentAfter: 10s }\nonFailure: rollback', 'web-eu-1 web-eu-2 web-us-1'),
  });
  await final(bad.id);
  const gated = await api(url, 'POST', '/v1/rollouts', { plan: plan('kernel-6.8.0-51', '  - { name: canary, size: 1, bake: 2s }\n  - { name: prod, approve: true }') });
  await until('the gate', async () => (await api(url, 'GET', `/v1/rollouts/${gated.id}`)).waves.some((w) => w.state === 'awaiting_approval'));

  const browser = await chromium.launch({ executablePath: exe, args: ['--no-sandbox'] });
  for (const scheme of ['light', 'dark']) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, colorScheme: scheme, deviceScaleFactor: 1 });
    const page = await context.newPage();
    const suffix = scheme === 'dark' ? '-dark' : '';
    const shot = async (name) => {
      await page.waitForTimeout(300);
      await page.screenshot({ path: join(out, `dashboard-${name}${suffix}.png`) });
    };
    await page.goto(`${url}/ui/`);
    await page.locator('#token').waitFor();
    if (scheme === 'light') await shot('signin');
    await page.locator('#token').fill(ADMIN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('.principal').waitFor();
    await page.locator('table.rollouts tbody tr').nth(2).waitFor();
    await shot('rollouts');
    await page.goto(`${url}/ui/#/rollouts/${gated.id}`);
    await page.locator('[data-action="approve"]').waitFor();
    await page.locator('#live.on').waitFor();
    await shot('rollout');
    if (scheme === 'light') {
      await page.locator('[data-action="approve"]').click();
      await page.locator('dialog.confirm').waitFor();
      await shot('approve');
      await page.locator('dialog.confirm button', { hasText: 'Cancel' }).click();
      await page.goto(`${url}/ui/#/rollouts/${bad.id}`);
      await page.locator('.rollout-head h1 .badge').waitFor();
      await shot('rolled-back');
    }
    await page.goto(`${url}/ui/#/fleet`);
    await page.locator('#fleet-timing').waitFor();
    await shot('fleet');
    if (scheme === 'light') {
      await page.goto(`${url}/ui/#/fleet?provider=aws&region=eu-west-1`);
      await page.locator('#fleet-timing').waitFor();
      await shot('fleet-region');
      await page.goto(`${url}/ui/#/hosts/web-eu-1`);
      await page.locator('h1').waitFor();
      await shot('host');
      await page.goto(`${url}/ui/#/drift`);
      await page.locator('h1').waitFor();
      await shot('drift');
      await page.goto(`${url}/ui/#/updates`);
      await page.locator('h1').waitFor();
      await shot('updates');
      await page.goto(`${url}/ui/#/rehearse`);
      await page.locator('#plan-source').fill(readFileSync(join(root, 'scenarios/plans/datadog-2023.yaml'), 'utf8'));
      await page.locator('#plan-fleet').selectOption('datadog-2023');
      await page.locator('#plan-hosts').fill('20000');
      await page.getByRole('button', { name: 'Analyze' }).click();
      await page.locator('#analysis .worst').waitFor();
      await page.locator('#analysis').scrollIntoViewIfNeeded();
      await shot('rehearse');
    }
    await context.close();
  }
  await browser.close();
  console.log(`wrote docs/img/dashboard-*.png (${n} enrolled hosts, 3 agents)`);
} finally {
  for (const p of procs.reverse()) p.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 1500));
  for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
}

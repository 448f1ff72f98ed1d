// How long the dashboard's pages take to load with 10,000 hosts (issue: under 1 s on the local
// machine), in Debian's chromium driven by playwright-core against a real server on PGlite. Each
// page is loaded from scratch (about:blank first, the session cookie kept) RUNS times, from
// `goto` to the element that says the page has its data; min / median / max.
//
// Run: ./bin/sluice-node bench/dashboard-load.ts      (env: DASH_HOSTS=10000 DASH_RUNS=5)
import { chromium } from 'playwright-core';
import { ADMIN, benchStore, fmtMs, machine, median } from './lib/bench-fleet.ts';
import { hashSecret } from '../src/server/tokens.ts';

const HOSTS = Number(process.env.DASH_HOSTS ?? 10_000);
const RUNS = Number(process.env.DASH_RUNS ?? 5);
const PROVIDERS = ['aws', 'gcp', 'azure'];

const store = await benchStore('pglite');
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium' });
try {
  const now = Date.now();
  await store.withSql(async (sql) => {
    for (let from = 0; from < HOSTS; from += 5000) {
      const rows = [];
      for (let i = from; i < Math.min(HOSTS, from + 5000); i++) {
        const provider = PROVIDERS[i % 3]!;
        rows.push({
          name: `d-${String(i).padStart(6, '0')}`,
          labels: { env: 'prod', provider, region: `${provider}-r${Math.floor(i / 3) % 4}`, zone: `z${Math.floor(i / 12) % 3}`, cluster: `k${Math.floor(i / 36) % 5}` },
          facts: { allow: ['command'], os: 'ubuntu-22.04' },
          hash: hashSecret(`shc_dash_${i}`),
        });
      }
      await sql.query(
        `insert into hosts (name, labels, facts, credential_hash, enrolled_at, last_seen)
         select name, labels, facts, hash, $2, $2 from jsonb_to_recordset($1::jsonb) as h(name text, labels jsonb, facts jsonb, hash text)`,
        [JSON.stringify(rows), now],
      );
    }
  });
  const server = await store.startServer({ tickMs: 1000 });
  try {
    // A rollout over every host, one at a time: a rollout page with 10,000 steps to page through.
    const plan = `name: dash-bench\nchange: { command: { apply: ["true"], rollback: ["true"] } }\nwaves:\n  - { name: all, parallel: 1 }\nconfirmWindow: 0s\n`;
    const res = await fetch(`${server.url}/v1/rollouts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ plan, file: 'bench.yaml' }),
    });
    const { id } = (await res.json()) as { id: string };
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    await page.goto(`${server.url}/ui/`);
    await page.locator('#token').fill(ADMIN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('.principal').waitFor();

    const pages: Array<[string, string, string]> = [
      ['rollouts list', '#/rollouts', `tr[data-rollout="${id}"]`],
      [`rollout page (${HOSTS} hosts)`, `#/rollouts/${id}`, '.rollout-head h1 .badge'],
      ['fleet grid', '#/fleet', '#fleet-timing'],
      ['host page', '#/hosts/d-000042', 'h1'],
    ];
    console.log(`dashboard load, ${HOSTS} hosts on PGlite, ${RUNS} loads each; ${machine()}`);
    for (const [what, hash, ready] of pages) {
      const times: number[] = [];
      for (let run = 0; run < RUNS; run++) {
        await page.goto('about:blank');
        const t0 = performance.now();
        await page.goto(`${server.url}/ui/${hash}`);
        await page.locator(ready).first().waitFor({ timeout: 30_000 });
        times.push(performance.now() - t0);
      }
      times.sort((a, b) => a - b);
      console.log(`  ${what.padEnd(28)} min ${fmtMs(times[0]!)} / median ${fmtMs(median(times))} / max ${fmtMs(times.at(-1)!)}`);
    }
    if (errors.length > 0) console.log(`  console errors: ${errors.length} (${errors[0]})`);
    await context.close();
  } finally {
    await server.close();
  }
} finally {
  await browser.close();
  await store.remove();
}

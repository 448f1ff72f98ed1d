// Benchmark: datadog-2023 over 48 simulated hours, every run (uncontrolled, guarded, controlled), for two
// plans: the halting plan (the real change: the canary fails, the rollout stops there) and the
// full rollout (the same change fixed, breaking no host: the plan goes through every wave, every
// host baked). Each case runs in its own Node process so its peak RSS (the kernel's maxRSS) is its
// own; the heap is capped at 640 MiB (V8 otherwise lets it grow well past what the run keeps live).
// The cases run the code as `bin/sluice` ships it: this file bundled by esbuild the way
// scripts/build.mjs builds dist/ (plain Node, no TypeScript loader, whose keepNames wrappers cost
// ~12% here), into a temporary directory removed at the end.
// Run: npm run bench:sim [-- HOSTS...]   (default 100000 1000000)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUILTIN_SCENARIOS_DIR } from '../src/sim/load-scenario.ts';
import { loadScenario } from '../src/sim/load-scenario.ts';
import { simulate } from '../src/sim/simulate.ts';
import { withHarmlessChange } from '../src/sim/variants.ts';

const HEAP_MB = 640;
type Case = 'halting' | 'full';

if (process.argv[2] === '--case') {
  const which = process.argv[3] as Case;
  const hosts = Number(process.argv[4]);
  const { scenario, plan } = loadScenario(process.argv[5]!);
  const t0 = performance.now();
  const result = simulate(which === 'full' ? withHarmlessChange(scenario) : scenario, plan, { hosts, seed: 1 });
  const ms = performance.now() - t0;
  const c = result.runs.controlled;
  const out = {
    ms,
    events: result.runs.uncontrolled.events + (result.runs.guarded?.events ?? 0) + c.events,
    controlledEvents: c.events,
    state: c.rollout?.state,
    waves: c.rollout?.waves.length,
    changed: c.hostsChanged,
    maxRss: process.resourceUsage().maxRSS * 1024,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
} else {
  const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0);
  const here = fileURLToPath(import.meta.url);
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-sim-'));
  const removeDir = () => {
    if (!process.env.KEEP) rmSync(dir, { recursive: true, force: true });
  };
  // Stopped (Ctrl-C, a timeout's SIGTERM): the bundle goes too.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => (removeDir(), process.exit(130)));
  const bundle = join(dir, 'sim-datadog.mjs');
  const { build } = await import('esbuild');
  // As scripts/build.mjs: CommonJS dependencies call require() for Node built-ins.
  const banner = { js: "import { createRequire as __sluiceCreateRequire } from 'node:module'; const require = __sluiceCreateRequire(import.meta.url);" };
  await build({ entryPoints: [here], bundle: true, platform: 'node', target: 'node20', format: 'esm', outfile: bundle, logLevel: 'warning', external: ['esbuild'], minifySyntax: true, banner });
  const scenarioFile = join(BUILTIN_SCENARIOS_DIR, 'datadog-2023.yaml');
  const mib = (b: number) => (b / 1024 / 1024).toFixed(0);
  console.log('datadog-2023, 48 simulated hours, every run (uncontrolled, uncontrolled + guard, controlled), seed 1, one process per case');
  console.log('plan        hosts      events     events/s    simulate()   process wall   peak RSS   controlled rollout');
  for (const hosts of sizes.length > 0 ? sizes : [100_000, 1_000_000]) {
    for (const which of ['halting', 'full'] as const) {
      const w0 = performance.now();
      const child = spawnSync(process.execPath, [`--max-old-space-size=${HEAP_MB}`, bundle, '--case', which, String(hosts), scenarioFile], { encoding: 'utf8', maxBuffer: 1 << 20 });
      const wall = performance.now() - w0;
      if (child.status !== 0) {
        console.log(`${which} ${hosts}: failed (${child.status ?? child.signal}): ${child.stderr.trim().split('\n').slice(-3).join(' | ')}`);
        continue;
      }
      const r = JSON.parse(child.stdout.trim().split('\n').pop()!) as { ms: number; events: number; state: string; waves: number; changed: number; maxRss: number };
      console.log(
        [
          which.padEnd(8),
          String(hosts).padStart(8),
          String(r.events).padStart(11),
          Math.round(r.events / (r.ms / 1000)).toLocaleString('en').padStart(12),
          `${(r.ms / 1000).toFixed(2)} s`.padStart(12),
          `${(wall / 1000).toFixed(2)} s`.padStart(14),
          `${mib(r.maxRss)} MiB`.padStart(10),
          `  ${r.state}, ${r.waves} waves, ${r.changed} hosts changed`,
        ].join(' '),
      );
    }
  }
  removeDir();
}

// Benchmark: datadog-2023 at 100,000 hosts over 48 simulated hours, both runs.
// Run: ./bin/sluice-node bench/sim-datadog.ts [hosts]. Prints wall time, simulated events per
// second and peak memory. The simulation runs in a worker thread so the main thread can sample
// the process's RSS while it computes; the kernel's own high-water mark (maxRSS) is printed too.
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { loadScenario } from '../src/sim/load-scenario.ts';
import { simulate } from '../src/sim/simulate.ts';

if (!isMainThread) {
  const { hosts } = workerData as { hosts: number };
  const { scenario, plan } = loadScenario('datadog-2023');
  const t0 = performance.now();
  const result = simulate(scenario, plan, { hosts, seed: 1 });
  const ms = performance.now() - t0;
  const events = result.runs.uncontrolled.events + result.runs.controlled.events;
  parentPort!.postMessage({ ms, events, peak: result.runs.uncontrolled.peakImpairedPct, terminated: result.runs.uncontrolled.terminatedPct });
} else {
  const hosts = Number(process.argv[2] ?? 100_000);
  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 10);
  const wall0 = performance.now();
  // Workers do not inherit tsx's loader: register it inside the worker, then load this file.
  const boot = `import('tsx/esm/api').then((m) => m.tsImport(${JSON.stringify(import.meta.url)}, ${JSON.stringify(import.meta.url)}))`;
  const worker = new Worker(boot, { eval: true, workerData: { hosts } });
  const out = await new Promise<{ ms: number; events: number; peak: number; terminated: number }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  await worker.terminate();
  clearInterval(sampler);
  const wall = performance.now() - wall0;
  const mib = (b: number) => (b / 1024 / 1024).toFixed(0);
  console.log(`datadog-2023, ${hosts} hosts, 48 simulated hours, uncontrolled + controlled`);
  console.log(`  simulate():        ${(out.ms / 1000).toFixed(2)} s (wall with worker start and scenario load: ${(wall / 1000).toFixed(2)} s)`);
  console.log(`  simulated events:  ${out.events} (${Math.round(out.events / (out.ms / 1000)).toLocaleString('en')} events/s)`);
  console.log(`  peak RSS sampled:  ${mib(peakRss)} MiB; kernel maxRSS ${mib(process.resourceUsage().maxRSS * 1024)} MiB`);
  console.log(`  (uncontrolled peak impaired ${out.peak}%, terminated ${out.terminated}%)`);
}

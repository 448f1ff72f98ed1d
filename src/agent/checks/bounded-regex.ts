// A regular expression from a plan, matched without letting it stall the agent: a catastrophic
// pattern (`^(a+)+$`) backtracks for as long as it likes in a worker thread, which is terminated
// at the deadline while the main thread keeps heartbeating. A worker costs ~20 ms to start and
// its memory only while it runs: fine for a check that runs every few seconds.
import { Worker } from 'node:worker_threads';

// Evaluated as a script (no file to ship next to the bundle). The body arrives by structured clone.
const WORKER = `const { parentPort, workerData } = require('node:worker_threads');
parentPort.postMessage(new RegExp(workerData.source, workerData.flags).test(workerData.body));`;

export type RegexOutcome = { readonly matched: boolean } | { readonly timedOut: true } | { readonly error: string };

export function testRegexBounded(source: string, flags: string, body: string, timeoutMs: number): Promise<RegexOutcome> {
  return new Promise((resolve) => {
    let settled = false;
    const worker = new Worker(WORKER, {
      eval: true,
      workerData: { source, flags, body },
      // Its own small heap: a pattern cannot grow the agent's memory without bound either.
      resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 4 },
      stdout: true,
      stderr: true,
    });
    const settle = (outcome: RegexOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void worker.terminate();
      resolve(outcome);
    };
    const timer = setTimeout(() => settle({ timedOut: true }), Math.max(1, timeoutMs));
    worker.once('message', (matched: unknown) => settle({ matched: matched === true }));
    worker.once('error', (err) => settle({ error: err.message }));
    worker.once('exit', () => settle({ error: 'the regular expression worker exited without an answer' }));
  });
}

import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // End-to-end suites start real processes and bind ports; run files in parallel, tests in a file in order.
    pool: 'forks',
    // Most end-to-end time is waiting (bakes, silence, confirm windows), not CPU: on a 2-core machine
    // vitest's default of one worker per core less one ran the files one at a time (~14 min).
    maxWorkers: 3,
    minWorkers: 1,
    // The run's own TMPDIR, removed at the end: nothing is left in /tmp (test/helpers/global-setup.ts).
    globalSetup: ['test/helpers/global-setup.ts'],
    // ...and each file its own TMPDIR under it, removed when the file ends (test/helpers/per-file-tmp.ts).
    setupFiles: ['test/helpers/per-file-tmp.ts'],
  },
});

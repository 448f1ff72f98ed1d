import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // End-to-end suites start real processes and bind ports; run files in parallel, tests in a file in order.
    pool: 'forks',
    // The run's own TMPDIR, removed at the end: nothing is left in /tmp (test/helpers/global-setup.ts).
    globalSetup: ['test/helpers/global-setup.ts'],
    // ...and each file its own TMPDIR under it, removed when the file ends (test/helpers/per-file-tmp.ts).
    setupFiles: ['test/helpers/per-file-tmp.ts'],
  },
});

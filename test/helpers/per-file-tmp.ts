// Vitest setupFiles: each test file gets its own TMPDIR under the run's root (global-setup.ts) and
// removes it when the file is done, after the file's own afterAll hooks (after hooks run in
// reverse order). Whatever a file creates through os.tmpdir(), it removes, even when it forgets.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

const dir = mkdtempSync(join(process.env.SLUICE_TEST_TMP_ROOT ?? tmpdir(), 'file-'));
process.env.TMPDIR = dir;

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

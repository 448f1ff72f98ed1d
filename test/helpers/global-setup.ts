// Vitest globalSetup: the whole run gets its own temporary root, removed at the end. Every test
// file, and every server and agent process it starts, inherits TMPDIR, so os.tmpdir() (mkdtemp,
// tempDir()) lands under it: a run leaves nothing in /tmp, even when a test forgets to clean up
// or is killed half-way. Tests still remove what they create; this is the net under them.
//
// It also builds dist/ from the current source first (scripts/build.mjs, about a second): the
// end-to-end tests run bin/sluice, which runs the built JavaScript, so they test what ships.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export default function setup(): () => void {
  execFileSync(process.execPath, [resolve(import.meta.dirname, '../../scripts/build.mjs')], { stdio: 'inherit' });
  const previous = process.env.TMPDIR;
  const root = mkdtempSync(join(tmpdir(), 'sluice-test-run-'));
  chmodSync(root, 0o755);
  process.env.TMPDIR = root;
  process.env.SLUICE_TEST_TMP_ROOT = root;
  return () => {
    rmSync(root, { recursive: true, force: true });
    if (previous === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previous;
    delete process.env.SLUICE_TEST_TMP_ROOT;
  };
}

// The file change on a real filesystem: atomic write with mode and owner, rollback, confinement.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFileRunner, fileRunner } from '../src/agent/changes/file.ts';
import type { ChangeContext } from '../src/agent/changes/change-runner.ts';
import type { FileChange } from '../src/core/types.ts';
import type { ArgvRunner } from '../src/agent/facts/argv-runner.ts';
import { runArgv } from '../src/agent/exec.ts';

const log = { info() {}, warn() {}, error() {} };
let dir = '';
let allowed = '';
let ctx: ChangeContext;
const isRoot = process.getuid?.() === 0;

function change(path: string, content: string, extra: Partial<FileChange> = {}): FileChange {
  return { kind: 'file', path, content, mode: 0o640, timeout: 10_000, ...extra };
}

describe('file change', () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-linux-file-'));
    allowed = join(dir, 'etc-app');
    await mkdir(allowed);
    ctx = { stateDir: join(dir, 'state'), stepKey: 'r_1', timeout: 10_000, fileDirs: [allowed], root: '/', log };
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('replaces a file with mode and owner, keeps the old content, and rolls back exactly', async () => {
    const path = join(allowed, 'app.conf');
    await writeFile(path, 'old\n', { mode: 0o600 });
    const c = change(path, 'new\n', isRoot ? { owner: 'nobody', group: '0' } : {});
    const res = await fileRunner.apply(c, ctx);
    expect(res.ok, res.message).toBe(true);
    expect(await readFile(path, 'utf8')).toBe('new\n');
    const st = await stat(path);
    expect(st.mode & 0o7777).toBe(0o640);
    if (isRoot) expect(st.uid).toBe(65534);
    // No temp file left next to it.
    expect((await readdir(allowed)).sort()).toEqual(['app.conf']);

    const again = await fileRunner.apply(c, ctx);
    expect(again.message).toMatch(/^already applied/);
    expect(again.record).toEqual(res.record);

    const back = await fileRunner.rollback(c, ctx, null); // from the record on disk
    expect(back.ok, back.message).toBe(true);
    expect(await readFile(path, 'utf8')).toBe('old\n');
    expect((await stat(path)).mode & 0o7777).toBe(0o600);
    if (isRoot) expect((await stat(path)).uid).toBe(0);
  });

  it('rolls back a file that did not exist by removing it', async () => {
    const path = join(allowed, 'new.conf');
    const c = change(path, 'x=1\n');
    const res = await fileRunner.apply(c, { ...ctx, stepKey: 'r_2' });
    expect(res.message).toBe(`created ${path} (mode 0640)`);
    const back = await fileRunner.rollback(c, { ...ctx, stepKey: 'r_2' }, res.record ?? null);
    expect(back.ok).toBe(true);
    await expect(lstat(path)).rejects.toThrow(/ENOENT/);
  });

  it('runs the reload argv after writing and after rolling back, and reports a failing reload', async () => {
    const calls: string[][] = [];
    const run: ArgvRunner = async (argv, opts) => {
      calls.push([...argv]);
      return runArgv(argv, opts);
    };
    const path = join(allowed, 'reload.conf');
    const ok = await createFileRunner(run).apply(change(path, 'a', { reload: ['true'] }), { ...ctx, stepKey: 'r_3' });
    expect(ok.ok).toBe(true);
    expect(calls).toEqual([['true']]);
    const bad = await createFileRunner(run).apply(change(path, 'b', { reload: ['false'] }), { ...ctx, stepKey: 'r_4' });
    expect(bad.ok).toBe(false);
    expect(bad.message).toMatch(/replaced .*reload \["false"\] exited with code 1/);
    expect(bad.record).toBeDefined(); // the file did change: the way back is there
  });

  it('refuses paths outside the allowed directories, with .., or through symlinks', async () => {
    const outside = join(dir, 'outside');
    await mkdir(outside);
    await symlink(outside, join(allowed, 'escape-dir'));
    await writeFile(join(outside, 'target'), 'untouched');
    await symlink(join(outside, 'target'), join(allowed, 'escape-file'));
    const cases: Array<[string, RegExp]> = [
      [join(outside, 'x.conf'), /outside the allowed directories/],
      [`${allowed}/../outside/x.conf`, /must not contain '\.\.'/],
      [join(allowed, 'escape-dir', 'x.conf'), /outside the allowed directories.*resolves to/],
      [join(allowed, 'escape-file'), /symbolic link/],
      ['relative/x.conf', /must be absolute/],
      [allowed, /outside the allowed directories/],
    ];
    for (const [path, why] of cases) {
      const res = await fileRunner.apply(change(path, 'pwned'), { ...ctx, stepKey: 'r_bad' });
      expect(res.ok, path).toBe(false);
      expect(res.message).toMatch(why);
    }
    expect(await readFile(join(outside, 'target'), 'utf8')).toBe('untouched');
    expect(await readdir(outside)).toEqual(['target']);
    const none = await fileRunner.apply(change(join(allowed, 'a'), 'x'), { ...ctx, fileDirs: [] });
    expect(none.message).toMatch(/no --file-dir configured/);
  });
});

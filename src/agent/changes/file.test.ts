import { mkdir, mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { FileChange } from '../../core/types.ts';
import { createMemoryLog } from '../log.ts';
import { aptEnvironment } from './apt.ts';
import type { ChangeContext } from './change-runner.ts';
import { fileRunner } from './file.ts';
import { recordPath } from './records.ts';

afterEach(() => {
  delete process.env.SLUICE_TOKEN;
  delete process.env.SLUICE_SERVER;
});

async function setup(): Promise<{ dir: string; ctx: ChangeContext }> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-file-'));
  await mkdir(join(dir, 'etc'));
  await mkdir(join(dir, 'state'));
  const ctx: ChangeContext = { stateDir: join(dir, 'state'), stepKey: 'r_1', host: 'h', timeout: 5000, fileDirs: [join(dir, 'etc')], root: '/', log: createMemoryLog() };
  return { dir, ctx };
}

describe('file change runner', () => {
  it("runs the reload without the agent's token in its environment", async () => {
    const { dir, ctx } = await setup();
    process.env.SLUICE_TOKEN = 'agent-secret';
    process.env.SLUICE_SERVER = 'http://127.0.0.1:1';
    const change: FileChange = {
      kind: 'file',
      path: join(dir, 'etc/app.conf'),
      content: 'x=1\n',
      mode: 0o640,
      reload: ['sh', '-c', `env > ${dir}/reload-env`],
      timeout: 5000,
    };
    expect(await fileRunner.apply(change, ctx)).toMatchObject({ ok: true });
    const env = await readFile(join(dir, 'reload-env'), 'utf8');
    expect(env).toMatch(/^PATH=/m);
    expect(env).not.toContain('agent-secret');
    expect(env).not.toMatch(/^SLUICE_/m);
  });

  it('keeps its rollback record private (0600) and restores the previous state from it', async () => {
    const { dir, ctx } = await setup();
    const change: FileChange = { kind: 'file', path: join(dir, 'etc/new.conf'), content: 'y\n', mode: 0o644, timeout: 5000 };
    const applied = await fileRunner.apply(change, ctx);
    expect(applied.ok).toBe(true);
    expect((await stat(recordPath(ctx.stateDir, ctx.stepKey, 'file'))).mode & 0o777).toBe(0o600);
    // The record on disk is enough: rollback without the in-memory one.
    expect(await fileRunner.rollback(change, ctx, null)).toMatchObject({ ok: true });
    await expect(stat(change.path)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('apt environment', () => {
  it("never carries the agent's token to apt-get and maintainer scripts", async () => {
    process.env.SLUICE_TOKEN = 'agent-secret';
    const root = await mkdtemp(join(tmpdir(), 'sluice-aptenv-'));
    for (const env of [await aptEnvironment('/'), await aptEnvironment(root)]) {
      expect(env).toMatchObject({ DEBIAN_FRONTEND: 'noninteractive', LC_ALL: 'C' });
      expect(env['PATH']).toBeTruthy();
      expect(Object.keys(env).filter((k) => k.startsWith('SLUICE_'))).toEqual([]);
      expect(Object.values(env)).not.toContain('agent-secret');
    }
    expect((await aptEnvironment(root))['APT_CONFIG']).toBe(join(root, 'etc/apt/sluice-root.conf'));
  });
});

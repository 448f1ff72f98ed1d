import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CommandChange } from '../../core/types.ts';
import { createMemoryLog } from '../log.ts';
import type { ChangeContext } from './change-runner.ts';
import { commandRunner } from './command.ts';
import { createChangeRunners } from './index.ts';

const ctx = (dir: string): ChangeContext => ({
  stateDir: dir,
  stepKey: 'r_9',
  host: 'db-2',
  timeout: 5000,
  fileDirs: [],
  root: '/',
  log: createMemoryLog(),
});

describe('command change runner', () => {
  it('runs apply and rollback with the step environment and nothing else', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-cmd-'));
    const argv = ['sh', '-c', `echo "$SLUICE_HOST $SLUICE_ROLLOUT_ID $SLUICE_ACTION \${SLUICE_TOKEN:-none}" >> ${dir}/out`];
    const change: CommandChange = { kind: 'command', apply: argv, rollback: argv, timeout: 5000 };
    process.env.SLUICE_TOKEN = 'agent-secret'; // the agent's own environment must not leak into commands
    try {
      expect((await commandRunner.apply(change, ctx(dir))).ok).toBe(true);
      expect((await commandRunner.rollback(change, ctx(dir), null)).ok).toBe(true);
    } finally {
      delete process.env.SLUICE_TOKEN;
    }
    expect(await readFile(join(dir, 'out'), 'utf8')).toBe('db-2 r_9 apply none\ndb-2 r_9 rollback none\n');
  });

  it('says why a command failed: exit code and the tail of stderr, or the timeout', async () => {
    const fail: CommandChange = { kind: 'command', apply: ['sh', '-c', 'echo nope >&2; exit 7'], timeout: 5000 };
    const outcome = await commandRunner.apply(fail, ctx('/tmp'));
    expect(outcome).toMatchObject({ ok: false });
    expect(outcome.message).toBe('apply command "sh" exited with code 7: nope');
    const slow: CommandChange = { kind: 'command', apply: ['sleep', '10'], timeout: 100 };
    expect((await commandRunner.apply(slow, ctx('/tmp'))).message).toMatch(/timed out after 100 ms/);
  });

  it('treats a missing rollback command as nothing to undo', async () => {
    const change: CommandChange = { kind: 'command', apply: ['true'], timeout: 5000 };
    expect(await commandRunner.rollback(change, ctx('/tmp'), null)).toEqual({ ok: true, message: 'no rollback command; nothing to undo' });
  });

  it('is registered under its kind', () => {
    expect(createChangeRunners().get('command')).toBe(commandRunner);
  });
});

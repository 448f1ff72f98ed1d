import { mkdtemp, readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../core/errors.ts';
import { runArgv } from './exec.ts';

/** Alive = exists and is not a zombie (an init that does not reap must not fool the test). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

describe('runArgv', () => {
  it('on timeout kills the whole process group, children included', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-exec-'));
    const pidFile = join(dir, 'child.pid');
    const result = await runArgv(['sh', '-c', `sleep 30 & echo $! > ${pidFile}; wait`], { timeoutMs: 300 });
    expect(result.timedOut).toBe(true);
    expect(result.exitCode).toBeNull();
    const childPid = Number((await readFile(pidFile, 'utf8')).trim());
    expect(childPid).toBeGreaterThan(0);
    expect(alive(childPid)).toBe(false);
  });

  it('kills with SIGKILL a group that ignores SIGTERM', async () => {
    const result = await runArgv(['sh', '-c', 'trap "" TERM; while :; do sleep 0.05; done'], { timeoutMs: 200 });
    expect(result.timedOut).toBe(true);
    expect(result.signal).toBe('SIGKILL');
  });

  it('keeps only the first maxOutputBytes of each stream and says so', async () => {
    const result = await runArgv(['sh', '-c', 'head -c 200000 /dev/zero | tr "\\0" a; echo err >&2'], {
      timeoutMs: 10_000,
      maxOutputBytes: 1000,
    });
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe('a'.repeat(1000));
    expect(result.stderr).toBe('err\n');
    expect(result.truncated).toBe(true);
  });

  it('reports a failing command without throwing', async () => {
    const result = await runArgv(['sh', '-c', 'echo boom >&2; exit 3'], { timeoutMs: 10_000 });
    expect(result).toMatchObject({ exitCode: 3, timedOut: false, truncated: false, stderr: 'boom\n', error: null });
  });

  it('reports a missing program without throwing', async () => {
    const result = await runArgv(['/nonexistent/sluice-no-such-program'], { timeoutMs: 10_000 });
    expect(result.exitCode).toBeNull();
    expect(result.error).toMatch(/ENOENT/);
  });

  it('never uses a shell: metacharacters reach the program as they are', async () => {
    const result = await runArgv(['echo', '$(id)', ';', 'ls', '*'], { timeoutMs: 10_000 });
    expect(result.stdout).toBe('$(id) ; ls *\n');
  });

  it('passes only the environment it is given', async () => {
    const result = await runArgv(['sh', '-c', 'echo "$SLUICE_X:$HOME"'], { timeoutMs: 10_000, env: { PATH: process.env.PATH ?? '', SLUICE_X: 'x' } });
    expect(result.stdout).toBe('x:\n');
  });

  it('rejects an argv with a NUL byte, an empty argv and non-strings', () => {
    expect(() => runArgv(['echo', 'a\0b'], { timeoutMs: 1000 })).toThrow(ValidationError);
    expect(() => runArgv([], { timeoutMs: 1000 })).toThrow(/non-empty/);
    expect(() => runArgv([''], { timeoutMs: 1000 })).toThrow(ValidationError);
    expect(() => runArgv(['echo', 3 as unknown as string], { timeoutMs: 1000 })).toThrow(/argv\[1\]/);
  });

  it('abort kills the command', async () => {
    const controller = new AbortController();
    const running = runArgv(['sleep', '30'], { timeoutMs: 60_000, signal: controller.signal });
    controller.abort();
    const result = await running;
    expect(result.timedOut).toBe(false);
    expect(result.signal).toBe('SIGTERM');
  });
});

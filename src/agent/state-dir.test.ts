import { mkdtemp, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createMemoryLog } from './log.ts';
import { StateDir } from './state-dir.ts';

async function open() {
  const dir = join(await mkdtemp(join(tmpdir(), 'sluice-state-')), 'state');
  const log = createMemoryLog();
  return { dir, log, state: await StateDir.open(dir, log) };
}

const report = { id: 'a1b2c3d4-0000-4000-8000-000000000001', rolloutId: 'r_1', attempt: 1, kind: 'apply' as const, ok: true, message: 'ok', at: 2 };

describe('StateDir', () => {
  it('creates the directory 0700 and writes the credential 0600', async () => {
    const { dir, state } = await open();
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    await state.writeCredential({ server: 'http://s', host: 'h', credential: 'shc_x' });
    expect((await stat(join(dir, 'credential.json'))).mode & 0o777).toBe(0o600);
    expect(await state.readCredential()).toEqual({ server: 'http://s', host: 'h', credential: 'shc_x' });
  });

  it('refuses a credential with whitespace, naming the file, so the agent enrolls again', async () => {
    const { dir, state, log } = await open();
    await writeFile(join(dir, 'credential.json'), JSON.stringify({ server: 'http://s', host: 'h', credential: 'shc_x # pasted' }));
    expect(await state.readCredential()).toBeNull();
    expect(log.lines).toContainEqual(
      expect.objectContaining({
        level: 'error',
        data: expect.objectContaining({ file: join(dir, 'credential.json'), problem: expect.stringContaining('the host credential contains whitespace') }),
      }),
    );
  });

  it('moves a corrupt credential aside and logs it instead of crashing', async () => {
    const { dir, state, log } = await open();
    await writeFile(join(dir, 'credential.json'), '{"server": ');
    expect(await state.readCredential()).toBeNull();
    const names = await readdir(dir);
    expect(names.some((n) => n.startsWith('credential.json.corrupt-'))).toBe(true);
    expect(names).not.toContain('credential.json');
    expect(log.lines.some((l) => l.level === 'error' && l.msg === 'corrupt state file moved aside')).toBe(true);
  });

  it('turns a corrupt journal into "host state unknown" so nothing is applied twice', async () => {
    const { dir, state } = await open();
    await writeFile(join(dir, 'steps', 'r_1.json'), 'garbage');
    const journal = await state.readJournal('r_1');
    expect(journal?.unknown).toMatch(/unreadable .*host state unknown/);
    // The replacement is durable: the next read still knows.
    expect((await state.readJournal('r_1'))?.unknown).toMatch(/host state unknown/);
  });

  it('keeps outbox reports until deleted, and skips a corrupt one', async () => {
    const { dir, state } = await open();
    await state.putReport(report);
    await state.putReport({ ...report, id: 'a1b2c3d4-0000-4000-8000-000000000000', at: 1 });
    await writeFile(join(dir, 'outbox', 'broken.json'), '{');
    expect((await state.listReports()).map((r) => r.at)).toEqual([1, 2]);
    await state.deleteReport(report.id);
    expect(await state.listReports()).toHaveLength(1);
  });

  it('refuses rollout ids that are not plain file names', async () => {
    const { state } = await open();
    await expect(state.readJournal('../../etc/passwd')).rejects.toThrow(/not a safe file name/);
    await expect(state.readJournal('.hidden')).rejects.toThrow(/not a safe file name/);
  });

  it('leaves no temp files behind and rewrites atomically', async () => {
    const { dir, state } = await open();
    const journal = { rolloutId: 'r_2', apply: null, rollback: null, baseline: null, unknown: null };
    await state.writeJournal(journal);
    await state.writeJournal({ ...journal, unknown: 'x' });
    expect(await readdir(join(dir, 'steps'))).toEqual(['r_2.json']);
    expect(JSON.parse(await readFile(join(dir, 'steps', 'r_2.json'), 'utf8')).unknown).toBe('x');
  });
});

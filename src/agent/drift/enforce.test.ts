import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { APT_DROPIN, APT_DROPIN_TEXT, MARKER, enforce, relax } from './enforce.ts';

describe('enforce', () => {
  it('writes its marker only when something changed, and relax undoes it all', async () => {
    const root = await mkdtemp(join(tmpdir(), 'sluice-enforce-'));
    const first = await enforce(root);
    expect(first.actions.length).toBeGreaterThan(0);
    expect(await readFile(join(root, APT_DROPIN), 'utf8')).toBe(APT_DROPIN_TEXT);
    const marker = await stat(join(root, MARKER));
    expect(marker.mode & 0o777).toBe(0o600);

    const again = await enforce(root);
    expect(again).toEqual({ actions: [], problems: [] });
    // An atomic write replaces the inode: the same one means the marker was left alone.
    expect((await stat(join(root, MARKER))).ino).toBe(marker.ino);

    const undone = await relax(root);
    expect(undone.problems).toEqual([]);
    await expect(stat(join(root, MARKER))).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(stat(join(root, APT_DROPIN))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

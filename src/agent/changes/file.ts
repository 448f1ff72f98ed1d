// The `file` change: write one file atomically (temp file in the same directory, fsync, rename)
// with mode and owner, confined to the agent's --file-dir directories; the record keeps the
// previous content (or its absence) so rollback can put it back exactly.
import { constants } from 'node:fs';
import { open, readFile, rename, unlink, type FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { FileChange } from '../../core/types.ts';
import type { ChangeContext, ChangeRunner, StepOutcome } from './change-runner.ts';
import { loadRecord, recordPath, saveRecord } from './records.ts';
import { defaultRunner } from '../facts/argv-runner.ts';
import type { ArgvRunner } from '../facts/argv-runner.ts';
import { describeResult, tail, validateArgv } from '../exec.ts';
import { ValidationError } from '../../core/errors.ts';
import { openConfined, type ConfinedFile } from './confined-dir.ts';

/** Largest content (new or previous) the runner handles; records keep it whole. */
export const MAX_FILE_BYTES = 4 * 1024 * 1024;

export interface FileState {
  readonly exists: boolean;
  /** base64 of the content, when it exists. */
  readonly content: string | null;
  readonly mode: number | null;
  readonly uid: number | null;
  readonly gid: number | null;
}

export interface FileRecord {
  readonly kind: 'file';
  readonly path: string;
  readonly previous: FileState;
}

function isFileRecord(x: unknown): x is FileRecord {
  if (typeof x !== 'object' || x === null) return false;
  const r = x as Record<string, unknown>;
  return r['kind'] === 'file' && typeof r['path'] === 'string' && typeof r['previous'] === 'object' && r['previous'] !== null;
}

/** The file's state, read through the held directory (O_NOFOLLOW: a symlink swapped in is refused). */
async function readState(file: ConfinedFile): Promise<FileState> {
  let fh: FileHandle;
  try {
    fh = await open(file.at(file.name), constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { exists: false, content: null, mode: null, uid: null, gid: null };
    if (code === 'ELOOP') throw new ValidationError(`${file.path} is a symbolic link; refusing to write through it`);
    throw err;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new ValidationError(`${file.path} exists and is not a regular file`);
    if (st.size > MAX_FILE_BYTES) throw new ValidationError(`${file.path} is larger than ${MAX_FILE_BYTES} bytes`);
    const content = await fh.readFile();
    return { exists: true, content: content.toString('base64'), mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
  } finally {
    await fh.close();
  }
}

/** Owner/group: a number, or a name from root/etc/passwd (group) files. */
export async function resolveId(root: string, kind: 'passwd' | 'group', name: string | undefined): Promise<number | null> {
  if (name === undefined) return null;
  if (/^[0-9]{1,10}$/.test(name)) return Number(name);
  if (!/^[a-z_][a-z0-9_.-]{0,31}\$?$/i.test(name)) throw new ValidationError(`invalid ${kind === 'passwd' ? 'owner' : 'group'} ${JSON.stringify(name)}`);
  const text = await readFile(join(root, 'etc', kind), 'utf8').catch(() => '');
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f[0] === name && f[2] !== undefined && /^[0-9]+$/.test(f[2])) return Number(f[2]);
  }
  throw new ValidationError(`unknown ${kind === 'passwd' ? 'user' : 'group'} ${name}`);
}

/**
 * Writes `content` to the file atomically, all through the held directory: temp file next to it
 * (O_EXCL|O_NOFOLLOW, so never through a planted link), mode/owner, fsync, rename, fsync dir.
 */
export async function writeAtomic(file: ConfinedFile, content: Buffer, mode: number, uid: number | null, gid: number | null): Promise<void> {
  const tmp = file.at(`.${file.name}.sluice-${randomBytes(6).toString('hex')}`);
  const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    await fh.writeFile(content);
    if (uid !== null || gid !== null) await fh.chown(uid ?? -1, gid ?? -1);
    await fh.chmod(mode);
    await fh.sync();
  } catch (err) {
    await fh.close();
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await fh.close();
  try {
    await rename(tmp, file.at(file.name));
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await file.syncDir();
}

async function removeDurably(file: ConfinedFile): Promise<void> {
  await unlink(file.at(file.name)).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
  await file.syncDir();
}

function sameState(a: FileState, b: FileState): boolean {
  if (!a.exists || !b.exists) return a.exists === b.exists;
  return a.content === b.content && a.mode === b.mode && (a.uid === null || b.uid === null || a.uid === b.uid) && (a.gid === null || b.gid === null || a.gid === b.gid);
}

export function createFileRunner(run: ArgvRunner = defaultRunner): ChangeRunner<FileChange> {
  const reload = async (change: FileChange, ctx: ChangeContext): Promise<string | null> => {
    if (!change.reload || change.reload.length === 0) return null;
    validateArgv(change.reload);
    const res = await run(change.reload, { timeoutMs: ctx.timeout, ...(ctx.signal ? { signal: ctx.signal } : {}) });
    if (res.exitCode === 0) return null;
    return `reload ${JSON.stringify(change.reload)} ${describeResult(res, ctx.timeout)}: ${tail(res.stderr || res.stdout, 300)}`;
  };

  return {
    kind: 'file',

    async apply(change, ctx): Promise<StepOutcome> {
      let want: FileState;
      try {
        if (!Number.isInteger(change.mode) || change.mode < 0 || change.mode > 0o7777) throw new ValidationError(`invalid mode ${change.mode}`);
        const bytes = Buffer.from(change.content, 'utf8');
        if (bytes.length > MAX_FILE_BYTES) throw new ValidationError(`content larger than ${MAX_FILE_BYTES} bytes`);
        want = {
          exists: true, content: bytes.toString('base64'), mode: change.mode,
          uid: await resolveId(ctx.root, 'passwd', change.owner), gid: await resolveId(ctx.root, 'group', change.group),
        };
      } catch (err) {
        if (err instanceof ValidationError) return { ok: false, message: `file change refused: ${err.message}` };
        throw err;
      }
      const written = await withConfined(change.path, ctx.fileDirs, 'file change refused', async (file): Promise<{ done: string; record: FileRecord } | { what: string; record: FileRecord }> => {
        const recPath = recordPath(ctx.stateDir, ctx.stepKey, 'file');
        const existing = await loadRecord(recPath);
        const current = await readState(file);
        const record: FileRecord = isFileRecord(existing) && existing.path === file.path ? existing : { kind: 'file', path: file.path, previous: current };
        if (sameState(current, want)) return { done: `already applied: ${file.path} has the wanted content and mode`, record };
        // The way back is on disk before the file changes.
        await saveRecord(recPath, record);
        await writeAtomic(file, Buffer.from(change.content, 'utf8'), change.mode, want.uid, want.gid);
        return { what: `${current.exists ? 'replaced' : 'created'} ${file.path} (mode ${change.mode.toString(8).padStart(4, '0')})`, record };
      });
      if ('refused' in written) return { ok: false, message: written.refused };
      if ('done' in written) return { ok: true, message: written.done, record: written.record };
      const reloadProblem = await reload(change, ctx);
      if (reloadProblem) return { ok: false, message: `${written.what}, but ${reloadProblem}`, record: written.record };
      return { ok: true, message: `${written.what}${change.reload?.length ? ', reloaded' : ''}`, record: written.record };
    },

    async rollback(change, ctx, recordArg): Promise<StepOutcome> {
      const record = isFileRecord(recordArg) ? recordArg : await loadRecord(recordPath(ctx.stateDir, ctx.stepKey, 'file'));
      if (!isFileRecord(record)) return { ok: true, message: 'nothing to roll back: the change was never applied on this host' };
      const prev = record.previous;
      // The record's path is confined again: a record is data on disk, not trusted more than the change.
      const restored = await withConfined(record.path, ctx.fileDirs, 'rollback refused', async (file): Promise<{ done: string } | { what: string }> => {
        const current = await readState(file);
        if (sameState(current, prev)) return { done: `already rolled back: ${file.path} ${prev.exists ? 'has its previous content' : 'is absent'}` };
        if (prev.exists && prev.content !== null) {
          await writeAtomic(file, Buffer.from(prev.content, 'base64'), prev.mode ?? 0o644, prev.uid, prev.gid);
        } else {
          await removeDurably(file);
        }
        return { what: prev.exists ? `restored the previous content of ${file.path}` : `removed ${file.path}, which did not exist before` };
      });
      if ('refused' in restored) return { ok: false, message: restored.refused };
      if ('done' in restored) return { ok: true, message: restored.done };
      const reloadProblem = await reload(change, ctx);
      if (reloadProblem) return { ok: false, message: `${restored.what}, but ${reloadProblem}` };
      return { ok: true, message: restored.what };
    },
  };
}

/** Runs `work` with the file's directory held open; a confinement problem (also one met half-way) is a refusal. */
async function withConfined<T>(path: string, fileDirs: readonly string[], refusedAs: string, work: (file: ConfinedFile) => Promise<T>): Promise<T | { refused: string }> {
  let file: ConfinedFile;
  try {
    file = await openConfined(path, fileDirs);
  } catch (err) {
    if (err instanceof ValidationError) return { refused: `${refusedAs}: ${err.message}` };
    throw err;
  }
  try {
    return await work(file);
  } catch (err) {
    if (err instanceof ValidationError) return { refused: `${refusedAs}: ${err.message}` };
    const code = (err as NodeJS.ErrnoException).code;
    // A symlink or file planted under the temp name between our calls: refused, nothing written.
    if (code === 'ELOOP' || code === 'EEXIST') return { refused: `${refusedAs}: ${file.path} changed while being written (${code}); nothing was written` };
    throw err;
  } finally {
    await file.close().catch(() => undefined);
  }
}

export const fileRunner: ChangeRunner<FileChange> = createFileRunner();

// The `file` change: write one file atomically (temp file in the same directory, fsync, rename)
// with mode and owner, confined to the agent's --file-dir directories; the record keeps the
// previous content (or its absence) so rollback can put it back exactly.
import { lstat, open, readFile, realpath, rename, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, isAbsolute, join, relative, sep } from 'node:path';
import type { FileChange } from '../../core/types.ts';
import type { ChangeContext, ChangeRunner, StepOutcome } from './change-runner.ts';
import { loadRecord, recordPath, saveRecord } from './records.ts';
import { defaultRunner } from '../facts/argv-runner.ts';
import type { ArgvRunner } from '../facts/argv-runner.ts';
import { describeResult, tail, validateArgv } from '../exec.ts';
import { ValidationError } from '../../core/errors.ts';

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

function within(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel === '' ? false : !rel.startsWith('..') && !isAbsolute(rel) && !rel.split(sep).includes('..');
}

/**
 * The real path to write, or a ValidationError: absolute, no '..' segments, parent directory
 * existing and (after resolving symlinks) inside one of `fileDirs`, the file itself not a symlink.
 */
export async function confinePath(path: string, fileDirs: readonly string[]): Promise<string> {
  if (typeof path !== 'string' || !isAbsolute(path) || path.includes('\0')) throw new ValidationError(`file path must be absolute: ${JSON.stringify(path)}`);
  if (path.split('/').includes('..')) throw new ValidationError(`file path must not contain '..': ${path}`);
  if (fileDirs.length === 0) throw new ValidationError('no --file-dir configured: this agent writes no files');
  let parent: string;
  try {
    parent = await realpath(dirname(path));
  } catch {
    throw new ValidationError(`directory ${dirname(path)} does not exist`);
  }
  const target = join(parent, basename(path));
  const roots: string[] = [];
  for (const d of fileDirs) roots.push(await realpath(d).catch(() => d));
  if (!roots.some((r) => within(r, target))) {
    throw new ValidationError(`${path} is outside the allowed directories (${fileDirs.join(', ')})${target !== path ? `; it resolves to ${target}` : ''}`);
  }
  const st = await lstat(target).catch(() => null);
  if (st?.isSymbolicLink()) throw new ValidationError(`${path} is a symbolic link; refusing to write through it`);
  if (st && !st.isFile()) throw new ValidationError(`${path} exists and is not a regular file`);
  return target;
}

async function readState(path: string): Promise<FileState> {
  const st = await lstat(path).catch(() => null);
  if (!st) return { exists: false, content: null, mode: null, uid: null, gid: null };
  if (st.size > MAX_FILE_BYTES) throw new ValidationError(`${path} is larger than ${MAX_FILE_BYTES} bytes`);
  const content = await readFile(path);
  return { exists: true, content: content.toString('base64'), mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
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

/** Writes `content` to `path` atomically: temp file in the same directory, mode/owner, fsync, rename, fsync dir. */
export async function writeAtomic(path: string, content: Buffer, mode: number, uid: number | null, gid: number | null): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.sluice-${randomBytes(6).toString('hex')}`);
  const fh = await open(tmp, 'wx', 0o600);
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
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  const dir = await open(dirname(path), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

async function removeDurably(path: string): Promise<void> {
  await unlink(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
  const dir = await open(dirname(path), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
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
      let path: string;
      let want: FileState;
      try {
        path = await confinePath(change.path, ctx.fileDirs);
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
      const recPath = recordPath(ctx.stateDir, ctx.stepKey, 'file');
      const existing = await loadRecord(recPath);
      const current = await readState(path);
      const record: FileRecord = isFileRecord(existing) && existing.path === path ? existing : { kind: 'file', path, previous: current };
      if (sameState(current, want)) return { ok: true, message: `already applied: ${path} has the wanted content and mode`, record };
      // The way back is on disk before the file changes.
      await saveRecord(recPath, record);
      await writeAtomic(path, Buffer.from(change.content, 'utf8'), change.mode, want.uid, want.gid);
      const reloadProblem = await reload(change, ctx);
      const what = `${current.exists ? 'replaced' : 'created'} ${path} (mode ${change.mode.toString(8).padStart(4, '0')})`;
      if (reloadProblem) return { ok: false, message: `${what}, but ${reloadProblem}`, record };
      return { ok: true, message: `${what}${change.reload?.length ? ', reloaded' : ''}`, record };
    },

    async rollback(change, ctx, recordArg): Promise<StepOutcome> {
      const record = isFileRecord(recordArg) ? recordArg : await loadRecord(recordPath(ctx.stateDir, ctx.stepKey, 'file'));
      if (!isFileRecord(record)) return { ok: true, message: 'nothing to roll back: the change was never applied on this host' };
      let path: string;
      try {
        // The record's path is re-checked: a record is data on disk, not trusted more than the change.
        path = await confinePath(record.path, ctx.fileDirs);
      } catch (err) {
        if (err instanceof ValidationError) return { ok: false, message: `rollback refused: ${err.message}` };
        throw err;
      }
      const prev = record.previous;
      const current = await readState(path);
      if (sameState(current, prev)) return { ok: true, message: `already rolled back: ${path} ${prev.exists ? 'has its previous content' : 'is absent'}` };
      if (prev.exists && prev.content !== null) {
        await writeAtomic(path, Buffer.from(prev.content, 'base64'), prev.mode ?? 0o644, prev.uid, prev.gid);
      } else {
        await removeDurably(path);
      }
      const reloadProblem = await reload(change, ctx);
      const what = prev.exists ? `restored the previous content of ${path}` : `removed ${path}, which did not exist before`;
      if (reloadProblem) return { ok: false, message: `${what}, but ${reloadProblem}` };
      return { ok: true, message: what };
    },
  };
}

export const fileRunner: ChangeRunner<FileChange> = createFileRunner();

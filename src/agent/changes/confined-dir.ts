// Where a `file` change may write: below one of the agent's --file-dir roots, reached through
// directory handles opened one component at a time from the root down, never by re-resolving a
// path. Each component is opened with O_DIRECTORY|O_NOFOLLOW relative to the handle of its parent
// (through /proc/self/fd/N/NAME: Node has no openat, and the /proc magic link resolves NAME in the
// very directory the handle holds, whatever its path has become since). Every later operation on
// the file (read, temp file with O_EXCL, rename, unlink, fsync) goes through the last handle too,
// so a local user who can write inside the file dir and swaps a directory for a symlink between
// the check and the write gets a refusal (ELOOP), not a write elsewhere.
import { constants } from 'node:fs';
import { lstat, open, realpath, type FileHandle } from 'node:fs/promises';
import { isAbsolute, normalize, relative, sep } from 'node:path';
import { ValidationError } from '../../core/errors.ts';

const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW } = constants;

/** The directory a confined file lives in, held open, and the file's name in it. */
export interface ConfinedFile {
  /** The path as the plan names it (below a root, no symlinks in it). */
  readonly path: string;
  readonly name: string;
  /** A path that reaches `entry` in the held directory, for fs calls that take paths. */
  at(entry: string): string;
  /** fsync of the held directory: a rename or unlink in it is durable after this. */
  syncDir(): Promise<void>;
  close(): Promise<void>;
}

function within(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) && !rel.split(sep).includes('..');
}

/** The root `path` is below: a --file-dir as given, or as it resolves (the admin's own symlinks are trusted). */
async function rootFor(path: string, fileDirs: readonly string[]): Promise<string | null> {
  for (const d of fileDirs) {
    const given = normalize(d).replace(/\/+$/, '') || '/';
    if (within(given, path)) return given;
    const real = await realpath(d).catch(() => null);
    if (real && within(real, path)) return real;
  }
  return null;
}

function refusal(path: string, component: string, err: NodeJS.ErrnoException, resolved: string | null): ValidationError {
  switch (err.code) {
    case 'ELOOP':
      return new ValidationError(
        `${path} is outside the allowed directories: ${component} is a symbolic link${resolved ? `; it resolves to ${resolved}` : ''} (no symbolic links below a --file-dir)`,
      );
    case 'ENOENT':
      return new ValidationError(`directory ${component} does not exist`);
    case 'ENOTDIR':
      return new ValidationError(`${component} is not a directory`);
    default:
      return new ValidationError(`cannot open ${component}: ${err.code ?? err.message}`);
  }
}

/**
 * Opens the directory of `path` from its --file-dir root down, or throws a ValidationError: the
 * path absolute, without '..', below a root, every directory below the root a real directory (not
 * a symlink), the file itself (if it exists) a regular file. The caller closes what it gets.
 */
export async function openConfined(path: string, fileDirs: readonly string[]): Promise<ConfinedFile> {
  if (typeof path !== 'string' || !isAbsolute(path) || path.includes('\0')) throw new ValidationError(`file path must be absolute: ${JSON.stringify(path)}`);
  if (path.split('/').includes('..')) throw new ValidationError(`file path must not contain '..': ${path}`);
  if (fileDirs.length === 0) throw new ValidationError('no --file-dir configured: this agent writes no files');
  const clean = normalize(path);
  const root = await rootFor(clean, fileDirs);
  if (!root) {
    const real = await realpath(clean).catch(() => null);
    throw new ValidationError(`${path} is outside the allowed directories (${fileDirs.join(', ')})${real && real !== clean ? `; it resolves to ${real}` : ''}`);
  }
  const parts = relative(root, clean).split(sep);
  const name = parts.pop()!;
  let dir: FileHandle;
  try {
    dir = await open(root, O_RDONLY | O_DIRECTORY);
  } catch (err) {
    throw refusal(path, root, err as NodeJS.ErrnoException, null);
  }
  let walked = root;
  try {
    for (const part of parts) {
      walked = `${walked === '/' ? '' : walked}/${part}`;
      let next: FileHandle;
      try {
        next = await open(`/proc/self/fd/${dir.fd}/${part}`, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        // O_NOFOLLOW on a symlink to a directory fails with ELOOP; to a file, ENOTDIR: both are symlinks.
        const isLink = (await lstat(`/proc/self/fd/${dir.fd}/${part}`).catch(() => null))?.isSymbolicLink() ?? false;
        throw refusal(path, walked, isLink ? Object.assign(e, { code: 'ELOOP' }) : e, isLink ? await realpath(walked).catch(() => null) : null);
      }
      await dir.close();
      dir = next;
    }
    const held = dir;
    const file: ConfinedFile = {
      path: clean,
      name,
      at: (entry) => `/proc/self/fd/${held.fd}/${entry}`,
      syncDir: () => held.sync(),
      close: () => held.close(),
    };
    const st = await lstat(file.at(name)).catch(() => null);
    if (st?.isSymbolicLink()) throw new ValidationError(`${path} is a symbolic link; refusing to write through it`);
    if (st && !st.isFile()) throw new ValidationError(`${path} exists and is not a regular file`);
    return file;
  } catch (err) {
    await dir.close().catch(() => undefined);
    throw err;
  }
}

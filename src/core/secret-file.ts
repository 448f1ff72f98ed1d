// A secret kept in a file (--token-file, --enroll-token-file, SLUICE_TOKEN_FILE, ...): the file
// holds the token alone; surrounding whitespace (a trailing newline) is dropped. Reading it, not
// passing it as an argument, keeps it out of /proc/PID/cmdline, which every user can read.
import { readFileSync } from 'node:fs';
import { ValidationError } from './errors.ts';

export function readSecretFile(path: string, flag: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ValidationError(`${flag} ${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : (err as Error).message}`);
  }
  const token = text.trim();
  if (token === '') throw new ValidationError(`${flag} ${path}: the file is empty`);
  if (/\s/.test(token)) throw new ValidationError(`${flag} ${path}: the file must hold the token alone (it contains whitespace)`);
  return token;
}

// apt's configuration syntax (`A::B "v";` and `A { B "v"; };`), read the way apt reads it: every
// file of apt.conf.d in lexical order, then apt.conf; the last assignment wins.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Lower-cased full key -> value, in assignment order (a later assignment replaces an earlier one). */
export function parseAptConf(text: string): Map<string, string> {
  const tokens = tokenize(text);
  const values = new Map<string, string>();
  const scope: string[] = [];
  let i = 0;
  // Bounded: every iteration consumes at least one token.
  while (i < tokens.length) {
    const t = tokens[i]!;
    if (t === '}') {
      scope.pop();
      i++;
      continue;
    }
    if (t === ';' || t === '{') {
      i++;
      continue;
    }
    if (t.startsWith('#')) {
      // #clear / #include: rare in drop-ins; skip the directive up to its ';'.
      while (i < tokens.length && tokens[i] !== ';') i++;
      continue;
    }
    const key = unquote(t);
    const next = tokens[i + 1];
    if (next === '{') {
      scope.push(key);
      i += 2;
      continue;
    }
    if (next !== undefined && next !== ';' && next !== '}') {
      values.set([...scope, key].join('::').toLowerCase(), unquote(next));
      i += 2;
      continue;
    }
    // A bare value inside a list block (`List { "a"; "b"; };`): record under the list's key.
    if (scope.length > 0) values.set(scope.join('::').toLowerCase(), key);
    i++;
  }
  return values;
}

function unquote(t: string): string {
  return t.startsWith('"') && t.endsWith('"') && t.length >= 2 ? t.slice(1, -1) : t;
}

function tokenize(text: string): string[] {
  const tokens: string[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) { i++; continue; }
    if (c === '/' && text[i + 1] === '/') { i = nextLine(text, i); continue; }
    if (c === '/' && text[i + 1] === '*') { const end = text.indexOf('*/', i + 2); i = end < 0 ? text.length : end + 2; continue; }
    if (c === '#' && !/^#(clear|include)\b/.test(text.slice(i, i + 8))) { i = nextLine(text, i); continue; }
    if (c === '{' || c === '}' || c === ';') { tokens.push(c); i++; continue; }
    if (c === '"') {
      const end = text.indexOf('"', i + 1);
      const stop = end < 0 ? text.length : end + 1;
      tokens.push(text.slice(i, stop));
      i = stop;
      continue;
    }
    let j = i;
    while (j < text.length && !/[\s{};"]/.test(text[j]!)) j++;
    tokens.push(text.slice(i, j));
    i = j;
  }
  return tokens;
}

function nextLine(text: string, i: number): number {
  const n = text.indexOf('\n', i);
  return n < 0 ? text.length : n + 1;
}

/** apt reads only names of [A-Za-z0-9_.-] and skips backup leftovers (apt's Dir::Ignore-Files-Silently). */
export function aptConfPartIsRead(name: string): boolean {
  if (!/^[A-Za-z0-9_.-]+$/.test(name)) return false;
  if (/(~|\.disabled|\.bak|\.dpkg-[a-z]+|\.ucf-[a-z]+|\.save|\.orig|\.distUpgrade)$/.test(name)) return false;
  // With a dot, only the `conf` extension is read (apt's GetListOfFilesInDir with AllowNoExt).
  const dot = name.lastIndexOf('.');
  return dot < 0 || name.slice(dot + 1) === 'conf';
}

export interface AptSetting {
  readonly value: string | null;
  /** The file whose assignment won, shown as an absolute path on the host. */
  readonly file: string | null;
}

/** The effective value of `key` across root/etc/apt/apt.conf.d (lexical order) and apt.conf. */
export async function readAptSetting(root: string, key: string): Promise<AptSetting> {
  const want = key.toLowerCase();
  let result: AptSetting = { value: null, file: null };
  const dir = join(root, 'etc/apt/apt.conf.d');
  let names: string[] = [];
  try {
    names = (await readdir(dir)).filter(aptConfPartIsRead).sort();
  } catch {
    names = [];
  }
  const files = [...names.map((n) => ({ path: join(dir, n), shown: `/etc/apt/apt.conf.d/${n}` })),
    { path: join(root, 'etc/apt/apt.conf'), shown: '/etc/apt/apt.conf' }];
  for (const f of files) {
    let text: string;
    try {
      text = await readFile(f.path, 'utf8');
    } catch {
      continue;
    }
    const v = parseAptConf(text).get(want);
    if (v !== undefined) result = { value: v, file: f.shown };
  }
  return result;
}

/** apt.systemd.daily treats an interval of 0 (or unset) as off; anything else (days, "always") as on. */
export function periodicEnabled(value: string | null): boolean {
  if (value === null) return false;
  const v = value.trim().toLowerCase();
  return !(v === '' || v === '0' || v === 'false' || v === 'no' || v === 'off');
}

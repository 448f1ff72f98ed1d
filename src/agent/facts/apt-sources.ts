// apt sources from sources.list (one-line format) and sources.list.d (*.list and deb822 *.sources).
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface AptSource {
  readonly file: string;
  readonly type: string; // deb | deb-src
  readonly uri: string;
  readonly suite: string;
  readonly components: readonly string[];
  readonly options: Readonly<Record<string, string>>;
}

export function parseOneLineSources(text: string, file: string): AptSource[] {
  const out: AptSource[] = [];
  for (const raw of text.split('\n')) {
    const line = (raw.split('#')[0] ?? '').trim();
    if (line === '') continue;
    const m = /^(deb|deb-src)\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)(?:\s+(.*))?$/.exec(line);
    if (!m) continue;
    const options: Record<string, string> = {};
    for (const opt of (m[2] ?? '').trim().split(/\s+/).filter(Boolean)) {
      const [k, ...v] = opt.split('=');
      if (k) options[k] = v.join('=');
    }
    out.push({
      file, type: m[1] ?? 'deb', uri: m[3] ?? '', suite: m[4] ?? '',
      components: (m[5] ?? '').split(/\s+/).filter(Boolean), options,
    });
  }
  return out;
}

/** deb822 stanzas: one source per (type, URI, suite); `Enabled: no` stanzas are skipped. */
export function parseDeb822Sources(text: string, file: string): AptSource[] {
  const out: AptSource[] = [];
  const stanzas = text.split(/\n\s*\n/);
  for (const stanza of stanzas) {
    const fields = new Map<string, string>();
    let last: string | null = null;
    for (const raw of stanza.split('\n')) {
      if (raw.startsWith('#') || raw.trim() === '') continue;
      if (/^\s/.test(raw) && last !== null) {
        fields.set(last, `${fields.get(last) ?? ''} ${raw.trim()}`);
        continue;
      }
      const i = raw.indexOf(':');
      if (i <= 0) continue;
      last = raw.slice(0, i).trim().toLowerCase();
      fields.set(last, raw.slice(i + 1).trim());
    }
    if ((fields.get('enabled') ?? 'yes').toLowerCase() === 'no') continue;
    const words = (k: string) => (fields.get(k) ?? '').split(/\s+/).filter(Boolean);
    const options: Record<string, string> = {};
    for (const [k, v] of fields) if (!['types', 'uris', 'suites', 'components', 'enabled'].includes(k)) options[k] = v;
    for (const type of words('types')) {
      for (const uri of words('uris')) {
        for (const suite of words('suites')) {
          out.push({ file, type, uri, suite, components: words('components'), options });
        }
      }
    }
  }
  return out;
}

async function readText(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return null;
  }
}

export async function readAptSources(root: string): Promise<AptSource[]> {
  const out: AptSource[] = [];
  const main = join(root, 'etc/apt/sources.list');
  const text = await readText(main);
  if (text !== null) out.push(...parseOneLineSources(text, '/etc/apt/sources.list'));
  const dir = join(root, 'etc/apt/sources.list.d');
  let names: string[] = [];
  try {
    names = (await readdir(dir)).sort();
  } catch {
    names = [];
  }
  for (const name of names) {
    const shown = `/etc/apt/sources.list.d/${name}`;
    if (name.endsWith('.list')) {
      const t = await readText(join(dir, name));
      if (t !== null) out.push(...parseOneLineSources(t, shown));
    } else if (name.endsWith('.sources')) {
      const t = await readText(join(dir, name));
      if (t !== null) out.push(...parseDeb822Sources(t, shown));
    }
  }
  return out;
}

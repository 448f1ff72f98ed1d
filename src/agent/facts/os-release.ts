// Parses /etc/os-release (shell-like KEY=value lines, values optionally quoted).
export interface OsRelease {
  readonly id: string | null;
  readonly versionId: string | null;
  readonly versionCodename: string | null;
  readonly prettyName: string | null;
}

export function parseOsRelease(text: string): OsRelease {
  const values = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line);
    if (!m) continue;
    let v = m[2] ?? '';
    const q = v[0];
    if ((q === '"' || q === "'") && v.endsWith(q) && v.length >= 2) {
      v = v.slice(1, -1);
      if (q === '"') v = v.replace(/\\(["\\$`])/g, '$1');
    }
    values.set(m[1] ?? '', v);
  }
  return {
    id: values.get('ID') ?? null,
    versionId: values.get('VERSION_ID') ?? null,
    versionCodename: values.get('VERSION_CODENAME') ?? null,
    prettyName: values.get('PRETTY_NAME') ?? null,
  };
}

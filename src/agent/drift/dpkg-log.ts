// dpkg's log (/var/log/dpkg.log): `2023-03-08 06:00:12 upgrade systemd:amd64 249.11-0ubuntu3.6 249.11-0ubuntu3.7`.
export interface DpkgLogAction {
  readonly at: string; // "YYYY-MM-DD HH:MM:SS", the host's local time as dpkg wrote it
  readonly action: 'install' | 'upgrade' | 'remove' | 'purge';
  readonly package: string; // without the :arch suffix
  readonly from: string | null;
  readonly to: string | null;
}

export function parseDpkgLogLine(line: string): DpkgLogAction | null {
  const m = /^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) (install|upgrade|remove|purge) (\S+) (\S+) (\S+)\s*$/.exec(line);
  if (!m) return null;
  const version = (v: string | undefined) => (v === undefined || v === '<none>' ? null : v);
  return {
    at: m[1] ?? '',
    action: m[2] as DpkgLogAction['action'],
    package: (m[3] ?? '').split(':')[0] ?? '',
    from: version(m[4]),
    to: version(m[5]),
  };
}

export function parseDpkgLog(lines: readonly string[]): DpkgLogAction[] {
  const out: DpkgLogAction[] = [];
  for (const l of lines) {
    const a = parseDpkgLogLine(l);
    if (a) out.push(a);
  }
  return out;
}

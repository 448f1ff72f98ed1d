// dpkg's log (/var/log/dpkg.log): `2023-03-08 06:00:12 upgrade systemd:amd64 249.11-0ubuntu3.6 249.11-0ubuntu3.7`.
import { canonicalPackageName } from '../facts/package-names.ts';

export interface DpkgLogAction {
  readonly at: string; // "YYYY-MM-DD HH:MM:SS", the host's local time as dpkg wrote it
  readonly action: 'install' | 'upgrade' | 'remove' | 'purge';
  /** Canonical (package-names.ts) for the native architecture given; without it, the bare name. */
  readonly package: string;
  readonly from: string | null;
  readonly to: string | null;
}

export function parseDpkgLogLine(line: string, nativeArch: string | null = null): DpkgLogAction | null {
  const m = /^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) (install|upgrade|remove|purge) (\S+) (\S+) (\S+)\s*$/.exec(line);
  if (!m) return null;
  const version = (v: string | undefined) => (v === undefined || v === '<none>' ? null : v);
  return {
    at: m[1] ?? '',
    action: m[2] as DpkgLogAction['action'],
    package: nativeArch === null ? ((m[3] ?? '').split(':')[0] ?? '') : canonicalPackageName(m[3] ?? '', nativeArch),
    from: version(m[4]),
    to: version(m[5]),
  };
}

export function parseDpkgLog(lines: readonly string[], nativeArch: string | null = null): DpkgLogAction[] {
  const out: DpkgLogAction[] = [];
  for (const l of lines) {
    const a = parseDpkgLogLine(l, nativeArch);
    if (a) out.push(a);
  }
  return out;
}

/** A time as dpkg writes it in its log: the host's local time, to the second. */
export function dpkgLocalTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

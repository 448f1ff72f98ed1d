// The subset of systemd's OnCalendar= the scenarios need, in UTC (cloud images run timers on
// UTC): `*-*-* H[,H...]:MM[:SS]`, `*-*-* *:MM[:SS]`, `hourly`, `daily`. Pure functions on epoch ms.

const DAY = 86_400_000;

export interface CalendarSpec {
  readonly text: string;
  /** Sorted offsets within a UTC day, in ms. */
  readonly offsets: readonly number[];
}

/** Returns null when `text` is outside the supported subset. */
export function parseCalendar(text: string): CalendarSpec | null {
  const t = text.trim();
  if (t === 'daily') return { text: t, offsets: [0] };
  if (t === 'hourly') return { text: t, offsets: Array.from({ length: 24 }, (_, h) => h * 3_600_000) };
  const m = /^(?:\*-\*-\*\s+)?(\*|\d{1,2}(?:,\d{1,2})*):(\d{1,2})(?::(\d{1,2}))?$/.exec(t);
  if (!m) return null;
  const minute = Number(m[2]);
  const second = m[3] === undefined ? 0 : Number(m[3]);
  if (minute > 59 || second > 59) return null;
  const hours = m[1] === '*' ? Array.from({ length: 24 }, (_, h) => h) : m[1]!.split(',').map(Number);
  if (hours.some((h) => h > 23)) return null;
  const offsets = [...new Set(hours.map((h) => h * 3_600_000 + minute * 60_000 + second * 1000))].sort((a, b) => a - b);
  return { text: t, offsets };
}

/** The first occurrence strictly after `t` (or at `t` when `inclusive`). */
export function nextOccurrence(spec: CalendarSpec, t: number, inclusive = false): number {
  const day = Math.floor(t / DAY) * DAY;
  for (let d = day; ; d += DAY) {
    for (const off of spec.offsets) {
      const at = d + off;
      if (inclusive ? at >= t : at > t) return at;
    }
  }
}

/** The last occurrence at or before `t`. */
export function previousOccurrence(spec: CalendarSpec, t: number): number {
  const day = Math.floor(t / DAY) * DAY;
  for (let d = day; ; d -= DAY) {
    for (let i = spec.offsets.length - 1; i >= 0; i--) {
      const at = d + spec.offsets[i]!;
      if (at <= t) return at;
    }
  }
}

// `--drift enforce`: switch off unattended-upgrades (apt.conf.d drop-in), mask apt-daily-upgrade.timer,
// optionally stop networkd from managing foreign rules and routes. `relax` undoes exactly that: it
// removes only what enforce created (listed in a marker file, and recognisable by their header).
import { lstat, mkdir, readFile, readlink, rmdir, symlink, unlink } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { defaultRunner } from '../facts/argv-runner.ts';
import type { ArgvRunner } from '../facts/argv-runner.ts';
import { UNATTENDED_TIMER } from '../facts/facts.ts';
import { writeFileAtomic } from '../state-dir.ts';

export const HEADER = '// Written by sluice-agent (--drift enforce); removed by --drift report. Do not edit.';
export const APT_DROPIN = 'etc/apt/apt.conf.d/99sluice-no-unattended';
export const TIMER_MASK = `etc/systemd/system/${UNATTENDED_TIMER}`;
export const NETWORKD_DROPIN = 'etc/systemd/networkd.conf.d/90-sluice-foreign.conf';
export const MARKER = 'var/lib/sluice-agent/drift-enforced.json';

export const APT_DROPIN_TEXT = `${HEADER}
// Updates reach this host through Sluice rollouts, in waves, not all at once from a timer.
APT::Periodic::Unattended-Upgrade "0";
APT::Periodic::Update-Package-Lists "0";
`;

export const NETWORKD_DROPIN_TEXT = `${HEADER.replace('//', '#')}
# networkd must not delete routing-policy rules and routes it did not create (CNI rules, boot-time routes).
[Network]
ManageForeignRoutes=no
ManageForeignRoutingPolicyRules=no
`;

interface Marker {
  created: string[];
  /** Directories enforce had to create (relative to root), removed again by relax when empty. */
  dirs: string[];
  timerWasActive: boolean | null;
}

/** mkdir -p that remembers every directory it created, so relax can leave the tree as it found it. */
async function ensureDir(root: string, dir: string, marker: Marker): Promise<void> {
  const first = await mkdir(dir, { recursive: true });
  if (first === undefined) return;
  for (let d = dir; ; d = dirname(d)) {
    const rel = relative(root, d);
    if (!marker.dirs.includes(rel)) marker.dirs.push(rel);
    if (d === first || d === dirname(d)) break;
  }
}

export interface EnforceOptions {
  /** Also install the networkd drop-in. */
  readonly networkd?: boolean;
  readonly run?: ArgvRunner;
}

export interface EnforceResult {
  /** What was done, for people and logs. Empty when there was nothing to do. */
  readonly actions: readonly string[];
  readonly problems: readonly string[];
}

/** The marker, and its text on disk (null: none), so an unchanged marker is not written again. */
async function readMarker(root: string): Promise<{ marker: Marker; text: string | null }> {
  const text = await readFile(join(root, MARKER), 'utf8').catch(() => null);
  try {
    const m = JSON.parse(text ?? '') as Partial<Marker>;
    const strings = (x: unknown) => (Array.isArray(x) ? x.filter((p): p is string => typeof p === 'string') : []);
    return { marker: { created: strings(m.created), dirs: strings(m.dirs), timerWasActive: m.timerWasActive ?? null }, text };
  } catch {
    return { marker: { created: [], dirs: [], timerWasActive: null }, text };
  }
}

async function writeMarker(root: string, m: Marker): Promise<void> {
  const path = join(root, MARKER);
  await ensureDir(root, dirname(path), m);
  await writeFileAtomic(path, JSON.stringify(m), 0o600);
}

async function writeIfOurs(root: string, rel: string, text: string, actions: string[], problems: string[], marker: Marker): Promise<void> {
  const path = join(root, rel);
  const current = await readFile(path, 'utf8').catch(() => null);
  if (current === text) {
    if (!marker.created.includes(rel)) marker.created.push(rel);
    return;
  }
  if (current !== null && !current.startsWith(HEADER) && !current.startsWith(HEADER.replace('//', '#'))) {
    problems.push(`/${rel} exists and is not Sluice's; left alone`);
    return;
  }
  await ensureDir(root, dirname(path), marker);
  await writeFileAtomic(path, text, 0o644);
  if (!marker.created.includes(rel)) marker.created.push(rel);
  actions.push(`wrote /${rel}`);
}

export async function enforce(root: string, opts: EnforceOptions = {}): Promise<EnforceResult> {
  const run = opts.run ?? defaultRunner;
  const actions: string[] = [];
  const problems: string[] = [];
  const { marker, text: markerText } = await readMarker(root);

  await writeIfOurs(root, APT_DROPIN, APT_DROPIN_TEXT, actions, problems, marker);

  const maskPath = join(root, TIMER_MASK);
  const st = await lstat(maskPath).catch(() => null);
  if (st === null) {
    if (root === '/' && marker.timerWasActive === null) {
      const res = await run(['systemctl', 'is-active', '--', UNATTENDED_TIMER], { timeoutMs: 5000, maxOutputBytes: 1024 });
      marker.timerWasActive = res.stdout.trim() === 'active';
    }
    await ensureDir(root, dirname(maskPath), marker);
    await symlink('/dev/null', maskPath);
    marker.created.push(TIMER_MASK);
    actions.push(`masked ${UNATTENDED_TIMER}`);
    if (root === '/') {
      // Best effort: without a running systemd the mask link alone is what counts.
      await run(['systemctl', 'daemon-reload'], { timeoutMs: 30_000 });
      await run(['systemctl', 'stop', '--', UNATTENDED_TIMER], { timeoutMs: 30_000 });
    }
  } else if (!(st.isSymbolicLink() && (await readlink(maskPath)) === '/dev/null')) {
    problems.push(`/${TIMER_MASK} is a local unit file; not masked (the apt.conf.d drop-in still turns unattended-upgrades off)`);
  }

  if (opts.networkd) {
    await writeIfOurs(root, NETWORKD_DROPIN, NETWORKD_DROPIN_TEXT, actions, problems, marker);
    // networkd is deliberately not restarted: a restart is what flushes the rules. The drop-in
    // takes effect at its next start, which is exactly the moment that matters.
  }
  // Every round calls enforce: the marker is written only when something in it changed.
  if (actions.length > 0 || JSON.stringify(marker) !== markerText) await writeMarker(root, marker);
  return { actions, problems };
}

export async function relax(root: string, opts: { run?: ArgvRunner } = {}): Promise<EnforceResult> {
  const run = opts.run ?? defaultRunner;
  const actions: string[] = [];
  const problems: string[] = [];
  const { marker } = await readMarker(root);
  const candidates = new Set([...marker.created, APT_DROPIN, NETWORKD_DROPIN]);
  let unmasked = false;
  for (const rel of candidates) {
    const path = join(root, rel);
    const st = await lstat(path).catch(() => null);
    if (st === null) continue;
    if (rel === TIMER_MASK) {
      if (st.isSymbolicLink() && (await readlink(path)) === '/dev/null') {
        await unlink(path);
        unmasked = true;
        actions.push(`unmasked ${UNATTENDED_TIMER}`);
      }
      continue;
    }
    const text = await readFile(path, 'utf8').catch(() => '');
    if (text.startsWith(HEADER) || text.startsWith(HEADER.replace('//', '#'))) {
      await unlink(path);
      actions.push(`removed /${rel}`);
    } else if (marker.created.includes(rel)) {
      problems.push(`/${rel} was changed by someone else since; left alone`);
    }
  }
  if (unmasked && root === '/') {
    await run(['systemctl', 'daemon-reload'], { timeoutMs: 30_000 });
    if (marker.timerWasActive) await run(['systemctl', 'start', '--', UNATTENDED_TIMER], { timeoutMs: 30_000 });
  }
  await unlink(join(root, MARKER)).catch(() => undefined);
  // Deepest first; a directory someone else put files in stays.
  for (const rel of [...marker.dirs].sort((a, b) => b.length - a.length)) {
    if (rel === '' || rel.split('/').includes('..')) continue;
    await rmdir(join(root, rel)).catch(() => undefined);
  }
  return { actions, problems };
}

// apt preflight with stale, missing and unrefreshable package lists: `sluice agent` processes on
// per-host dpkg roots against a stand-in server. The repository publishes version 2 after the
// host's lists were fetched; preflight must refresh the lists (plan `maxListAge`, default 6h)
// before it downloads the exact versions, or fail saying exactly why it cannot. Needs root.
import { cp, lstat, readFile, rm, utimes, writeFile, mkdir, readdir } from 'node:fs/promises';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { defaultRunner } from '../src/agent/facts/argv-runner.ts';
import { readPackageInventory } from '../src/agent/facts/dpkg-packages.ts';
import { LISTS_STAMP, readListsState } from '../src/agent/changes/apt-lists.ts';
import { startFakePeer, waitFor, type FakePeer, type PeerReport } from './agent-fake-peer.ts';
import { startProc, type Proc } from './helpers/processes.ts';
import { MULTIARCH_PACKAGE, buildTestRepo, createHostRoot } from './helpers/test-debs.ts';

const canRun = process.getuid?.() === 0 || process.env['CI'] === 'true';
if (!canRun) console.warn('[linux-apt-lists] SKIPPED: dpkg and apt on a test root need root');

const HOUR = 3600_000;
let dir = '';
let repo = '';
let peer: FakePeer | undefined;
let proc: Proc | undefined;

afterEach(async () => {
  await proc?.kill();
  proc = undefined;
  await peer?.close();
  peer = undefined;
});

/** A host whose lists were fetched when the repository had only version 1 of the library. */
async function staleHost(name: string): Promise<{ root: string; live: string }> {
  const live = join(dir, name, 'repo');
  await cp(repo, live, { recursive: true });
  const full = await readFile(join(repo, 'Packages'), 'utf8');
  const old = full
    .split(/\n\n+/)
    .filter((s) => s.trim() !== '' && !(s.includes(`Package: ${MULTIARCH_PACKAGE}\n`) && /\nVersion: 2\n/.test(`${s}\n`)))
    .join('\n\n');
  await writeFile(join(live, 'Packages'), `${old}\n`);
  const root = await createHostRoot(join(dir, name, 'root'), live);
  // apt links a file: repository's index into its lists; a real mirror leaves a copy, which goes stale.
  const listsDir = join(root, 'var/lib/apt/lists');
  for (const n of await readdir(listsDir)) {
    if (!(await lstat(join(listsDir, n))).isSymbolicLink()) continue;
    const text = await readFile(join(listsDir, n));
    await rm(join(listsDir, n));
    await writeFile(join(listsDir, n), text);
  }
  await writeFile(join(live, 'Packages'), full); // now version 2 is published
  return { root, live };
}

async function stampAge(root: string, ageMs: number): Promise<void> {
  await mkdir(join(root, 'var/lib/apt/periodic'), { recursive: true });
  await writeFile(join(root, LISTS_STAMP), '');
  const t = new Date(Date.now() - ageMs);
  await utimes(join(root, LISTS_STAMP), t, t);
}

/** Starts an agent process on `root`, assigns an apt install of the library's version 2, returns the apply report. */
async function applyOn(root: string, name: string, extra: string[], change: Record<string, unknown> = {}): Promise<PeerReport> {
  peer = await startFakePeer();
  proc = startProc(['agent', '--name', name, '--allow', 'apt', '--root', root, '--state-dir', join(dir, name, 'agent'), '--heartbeat', '200ms', ...extra], {
    SLUICE_SERVER: peer.url,
    SLUICE_ENROLL_TOKEN: peer.enrollToken,
  });
  const p = peer;
  await waitFor('enrollment', () => p.enrolls.length === 1, 30_000);
  p.setAssignments([
    {
      rolloutId: 'r_1',
      rolloutName: 'lib-2',
      attempt: 1,
      action: 'apply',
      change: { kind: 'apt', install: { [MULTIARCH_PACKAGE]: '2' }, remove: [], timeout: 120_000, ...change },
      checks: [],
      checkInterval: 60_000,
      confirmWindow: 0,
      preflight: 'block',
    },
  ]);
  await waitFor('the apply report', () => p.processed.some((r) => r.kind === 'apply'), 120_000);
  return p.processed.find((r) => r.kind === 'apply')!;
}

async function installed(root: string): Promise<string | undefined> {
  return (await readPackageInventory(root, defaultRunner)).packages[MULTIARCH_PACKAGE];
}

describe.skipIf(!canRun)('apt preflight refreshes stale package lists', () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-linux-apt-lists-'));
    repo = await buildTestRepo(dir);
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it.each([
    ['report', ['--drift', 'report']],
    ['enforce', ['--drift', 'enforce', '--drift-interval', '1s']],
  ])('lists 7h old (plan allows 6h), --drift %s: preflight refreshes them and the apply succeeds', async (policy, flags) => {
    const { root } = await staleHost(`stale-${policy}`);
    await stampAge(root, 7 * HOUR);
    const report = await applyOn(root, `stale-${policy}`, flags);
    expect(report, report.message).toMatchObject({ ok: true });
    expect(report.message).toContain(`${MULTIARCH_PACKAGE} (not installed) -> 2`);
    expect(await installed(root)).toBe('2');
    const lists = await readListsState(root);
    expect(lists.ageMs).toBeLessThan(HOUR); // the agent stamped its refresh
  }, 180_000);

  it('missing lists: refreshed, the apply succeeds', async () => {
    const { root } = await staleHost('missing');
    await stampAge(root, 0);
    const listsDir = join(root, 'var/lib/apt/lists');
    for (const n of await readdir(listsDir)) if (n.includes('_Packages')) await rm(join(listsDir, n), { force: true });
    const report = await applyOn(root, 'missing', []);
    expect(report, report.message).toMatchObject({ ok: true });
    expect(await installed(root)).toBe('2');
  }, 180_000);

  it('maxListAge 0 refreshes even fresh lists', async () => {
    const { root } = await staleHost('always');
    await stampAge(root, 0);
    const report = await applyOn(root, 'always', [], { maxListAge: 0 });
    expect(report, report.message).toMatchObject({ ok: true });
    expect(await installed(root)).toBe('2');
  }, 180_000);

  it('an unreachable repository: preflight fails saying why, nothing is installed', async () => {
    const { root } = await staleHost('unreachable');
    await stampAge(root, 7 * HOUR);
    await writeFile(join(root, 'etc/apt/sources.list'), `deb [trusted=yes] file:${join(dir, 'no-such-repo')} ./\n`);
    const report = await applyOn(root, 'unreachable', []);
    expect(report.ok).toBe(false);
    expect(report.message).toMatch(
      /^preflight: cannot refresh the package lists: apt package lists 7h old \(the plan allows 6h\), and apt-get update failed \(.*\): .*no-such-repo/,
    );
    expect(await installed(root)).toBeUndefined();
  }, 180_000);
});

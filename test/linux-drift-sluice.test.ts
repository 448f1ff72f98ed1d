// Drift catches every package change Sluice did not make, however soon after a Sluice step: a
// `sluice agent` process (--drift report) on a per-host dpkg root, a stand-in server, real apt.
// Sluice applies and rolls back the library; seconds after the rollback someone upgrades it by
// hand. The guard must report exactly that upgrade, and nothing of Sluice's own. Needs root.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aptEnvironment, createAptRunner } from '../src/agent/changes/apt.ts';
import { runArgv } from '../src/agent/exec.ts';
import { startFakePeer, waitFor, type FakePeer } from './agent-fake-peer.ts';
import { startProc, type Proc } from './helpers/processes.ts';
import { MULTIARCH_PACKAGE, buildTestRepo, createHostRoot } from './helpers/test-debs.ts';

const canRun = process.getuid?.() === 0 || process.env['CI'] === 'true';
if (!canRun) console.warn('[linux-drift-sluice] SKIPPED: dpkg and apt on a test root need root');

const log = { info() {}, warn() {}, error() {} };
let dir = '';
let peer: FakePeer | undefined;
let proc: Proc | undefined;

function step(action: 'apply' | 'rollback', attempt: number): Record<string, unknown> {
  return {
    rolloutId: 'r_1',
    rolloutName: 'lib-2',
    attempt,
    action,
    change: { kind: 'apt', install: { [MULTIARCH_PACKAGE]: '2' }, remove: [], timeout: 120_000 },
    checks: [],
    checkInterval: 60_000,
    confirmWindow: 0,
    preflight: 'warn',
  };
}

const packageEvents = () => (peer?.drift.events ?? []).filter((e) => e.kind === 'package-changed');

describe.skipIf(!canRun)('drift guard and Sluice apt steps', () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-linux-drift-sluice-'));
  });
  afterAll(async () => {
    await proc?.kill();
    await peer?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('reports a manual upgrade made seconds after a Sluice rollback of the same package, and nothing Sluice did', async () => {
    const repo = await buildTestRepo(dir);
    const root = await createHostRoot(join(dir, 'host', 'root'), repo);
    const setup = await createAptRunner().apply(
      { kind: 'apt', install: { [MULTIARCH_PACKAGE]: '1' }, remove: [], timeout: 120_000 },
      { stateDir: join(dir, 'setup'), stepKey: 'setup', timeout: 120_000, fileDirs: [], root, log },
    );
    expect(setup.ok, setup.message).toBe(true);

    peer = await startFakePeer();
    const p = peer;
    proc = startProc(
      ['agent', '--name', 'web-1', '--allow', 'apt', '--root', root, '--state-dir', join(dir, 'host', 'agent'), '--heartbeat', '200ms', '--drift', 'report', '--drift-interval', '1s'],
      { SLUICE_SERVER: p.url, SLUICE_ENROLL_TOKEN: p.enrollToken },
    );
    await waitFor('enrollment', () => p.enrolls.length === 1, 30_000);
    // The guard's first round has taken its inventory (it reports that unattended-upgrades is off: nothing).
    await waitFor('a first drift round', async () => (await runArgv(['test', '-f', join(dir, 'host', 'agent', 'drift.json')], { timeoutMs: 5000 })).exitCode === 0, 30_000);

    p.setAssignments([step('apply', 1)]);
    await waitFor('the apply report', () => p.processed.some((r) => r.kind === 'apply'), 120_000);
    expect(p.processed.find((r) => r.kind === 'apply'), JSON.stringify(p.processed)).toMatchObject({ ok: true });

    p.setAssignments([step('rollback', 2)]);
    await waitFor('the rollback report', () => p.processed.some((r) => r.kind === 'rollback'), 120_000);
    expect(p.processed.find((r) => r.kind === 'rollback')).toMatchObject({ ok: true });

    // Seconds later, by hand, while the rollback is still the host's assignment.
    const manual = await runArgv(['apt-get', 'install', '-y', '-q', '--allow-downgrades', `${MULTIARCH_PACKAGE}=2`], { timeoutMs: 120_000, env: await aptEnvironment(root) });
    expect(manual.exitCode, manual.stderr).toBe(0);

    await waitFor('the manual upgrade reported as drift', () => packageEvents().length > 0, 30_000);
    // A few more rounds: nothing else comes (Sluice's apply and rollback are not drift).
    const rounds = p.heartbeats.length;
    await waitFor('more rounds', () => p.heartbeats.length >= rounds + 15, 30_000);
    expect(packageEvents()).toEqual([
      expect.objectContaining({
        subject: MULTIARCH_PACKAGE,
        open: true,
        details: expect.objectContaining({ package: MULTIARCH_PACKAGE, from: '1', to: '2' }),
        // Either source may see it first: the dpkg.log line (with dpkgAt) or the next dpkg database diff.
      }),
    ]);
    expect(packageEvents()[0]?.message).toMatch(/^sluice-malib changed with no Sluice step: (dpkg upgrade )?1 -> 2/);
    // Resolved only by a later Sluice step, not by the rollback that preceded it.
    expect(p.drift.resolved.filter((x) => x.kind === 'package-changed')).toEqual([]);
  }, 300_000);
});

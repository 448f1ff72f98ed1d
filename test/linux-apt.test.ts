// The apt change on a real dpkg/apt, each "host" a root with its own dpkg database, packages from a
// local repository of test .debs. Needs root (dpkg refuses otherwise); skips visibly when not root,
// except with CI=true.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { aptRunner } from '../src/agent/changes/apt.ts';
import type { ChangeContext } from '../src/agent/changes/change-runner.ts';
import type { AptChange } from '../src/core/types.ts';
import { readPackageInventory } from '../src/agent/facts/dpkg-packages.ts';
import { defaultRunner } from '../src/agent/facts/argv-runner.ts';
import { runArgv } from '../src/agent/exec.ts';
import { preflight } from '../src/agent/preflight/preflight.ts';
import { BROKEN_PACKAGE, TEST_PACKAGE, buildTestRepo, createHostRoot } from './helpers/test-debs.ts';

const canRun = process.getuid?.() === 0 || process.env['CI'] === 'true';
if (!canRun) console.warn('[linux-apt] SKIPPED: dpkg and apt on a test root need root');

const log = { info() {}, warn() {}, error() {} };
let dir = '';
let repo = '';

function apt(install: Record<string, string>, remove: string[] = []): AptChange {
  return { kind: 'apt', install, remove, timeout: 120_000 };
}

async function host(name: string): Promise<ChangeContext> {
  const root = await createHostRoot(join(dir, name, 'root'), repo);
  return { stateDir: join(dir, name, 'state'), stepKey: 'r_1', timeout: 120_000, fileDirs: [], root, log };
}

async function versions(root: string): Promise<Record<string, string>> {
  return { ...(await readPackageInventory(root, defaultRunner)).packages };
}

describe.skipIf(!canRun)('apt change on a per-host dpkg root', () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-linux-apt-'));
    repo = await buildTestRepo(dir);
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('installs, upgrades and rolls back to exactly the previous version, idempotently', async () => {
    const ctx = await host('a');
    const v1 = await aptRunner.apply(apt({ [TEST_PACKAGE]: '1' }), { ...ctx, stepKey: 'r_v1' });
    expect(v1.ok, v1.message).toBe(true);
    expect(v1.message).toContain('sluice-testpkg (not installed) -> 1');
    expect(await readFile(join(ctx.root, 'usr/share/sluice-testpkg/version'), 'utf8')).toBe('1\n');

    const up = await aptRunner.apply(apt({ [TEST_PACKAGE]: '2' }), ctx);
    expect(up.ok, up.message).toBe(true);
    expect(up.record).toEqual({ kind: 'apt', before: { [TEST_PACKAGE]: '1' }, pulledIn: {} });
    expect(await versions(ctx.root)).toEqual({ [TEST_PACKAGE]: '2' });

    const again = await aptRunner.apply(apt({ [TEST_PACKAGE]: '2' }), ctx);
    expect(again.ok).toBe(true);
    expect(again.message).toMatch(/^already applied/);
    expect(again.record).toEqual(up.record); // a repeat keeps the way back to 1

    const back = await aptRunner.rollback(apt({ [TEST_PACKAGE]: '2' }), ctx, up.record ?? null);
    expect(back.ok, back.message).toBe(true);
    expect(await versions(ctx.root)).toEqual({ [TEST_PACKAGE]: '1' });
    expect(await readFile(join(ctx.root, 'usr/share/sluice-testpkg/version'), 'utf8')).toBe('1\n');

    const backAgain = await aptRunner.rollback(apt({ [TEST_PACKAGE]: '2' }), ctx, null); // record from the state dir
    expect(backAgain.ok).toBe(true);
    expect(backAgain.message).toMatch(/^already rolled back/);
  });

  it('rolls back a fresh install by purging it, and a removal by reinstalling', async () => {
    const ctx = await host('b');
    const fresh = await aptRunner.apply(apt({ [TEST_PACKAGE]: '2' }), ctx);
    expect(fresh.ok, fresh.message).toBe(true);
    const back = await aptRunner.rollback(apt({ [TEST_PACKAGE]: '2' }), ctx, fresh.record ?? null);
    expect(back.ok, back.message).toBe(true);
    expect(await versions(ctx.root)).toEqual({});

    await aptRunner.apply(apt({ [TEST_PACKAGE]: '1' }), { ...ctx, stepKey: 'setup' });
    const removal = await aptRunner.apply(apt({}, [TEST_PACKAGE]), { ...ctx, stepKey: 'r_rm' });
    expect(removal.ok, removal.message).toBe(true);
    expect(await versions(ctx.root)).toEqual({});
    const undo = await aptRunner.rollback(apt({}, [TEST_PACKAGE]), { ...ctx, stepKey: 'r_rm' }, removal.record ?? null);
    expect(undo.ok, undo.message).toBe(true);
    expect(await versions(ctx.root)).toEqual({ [TEST_PACKAGE]: '1' });
  });

  it('fails clearly before changing anything when a version is not available', async () => {
    const ctx = await host('c');
    await aptRunner.apply(apt({ [TEST_PACKAGE]: '1' }), { ...ctx, stepKey: 'setup' });
    const res = await aptRunner.apply(apt({ [TEST_PACKAGE]: '9.9' }), ctx);
    expect(res.ok).toBe(false);
    expect(res.message).toBe('not available from the apt sources: sluice-testpkg=9.9 (available: 2, 1); nothing was changed');
    expect(await versions(ctx.root)).toEqual({ [TEST_PACKAGE]: '1' });
  });

  it('reports a package dpkg left half-configured, and rollback clears it', async () => {
    const ctx = await host('d');
    const res = await aptRunner.apply(apt({ [BROKEN_PACKAGE]: '1' }), ctx);
    expect(res.ok).toBe(false);
    expect(res.message).toContain('sluice-brokenpkg: expected 1, seen 1 (half-configured)');
    expect(res.message).toMatch(/dpkg --audit reports packages left half-done: .*sluice-brokenpkg/);
    const back = await aptRunner.rollback(apt({ [BROKEN_PACKAGE]: '1' }), ctx, res.record ?? null);
    expect(back.ok, back.message).toBe(true);
    expect(await versions(ctx.root)).toEqual({});
  });

  it('refuses names and versions that could inject options, running nothing', async () => {
    const ctx = await host('e');
    for (const change of [apt({ '-oAPT::Foo=1': '1' }), apt({ [TEST_PACKAGE]: '--reinstall' }), apt({}, ['--purge']), apt({ [TEST_PACKAGE]: '1 2' })]) {
      const res = await aptRunner.apply(change, ctx);
      expect(res.ok).toBe(false);
      expect(res.message).toMatch(/^apt change refused: invalid/);
    }
    expect(await versions(ctx.root)).toEqual({});
  });

  it('preflight flags version 2 (its postinst deletes ip rules) and not version 1', async () => {
    const ctx = await host('f');
    const facts = { networkd: { manageForeignRoutingPolicyRules: false, manageForeignRoutes: false, files: [] }, routing: null };
    const risky = await preflight(facts, apt({ [TEST_PACKAGE]: '2' }), { root: ctx.root });
    expect(risky).toEqual([expect.objectContaining({ code: 'maintainer-script-network', package: TEST_PACKAGE })]);
    expect(risky[0]?.evidence?.[0]).toMatch(/^postinst: ip \$fam rule del priority/);
    expect(await preflight(facts, apt({ [TEST_PACKAGE]: '1' }), { root: ctx.root })).toEqual([]);
    expect(await versions(ctx.root)).toEqual({}); // preflight installs nothing
  });

  it("never touches the machine's own package database", async () => {
    const res = await runArgv(['dpkg-query', '-W', '-f=${Status}', TEST_PACKAGE], { timeoutMs: 10_000 });
    expect(res.stdout).not.toMatch(/installed/);
    expect(res.stdout + res.stderr).toMatch(/no packages found|not-installed|no information/i);
  });
});

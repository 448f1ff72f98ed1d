// Drift guard on a test root: unattended-upgrades enabled is reported as drift; enforce turns it
// off (apt.conf.d drop-in, masked timer, optional networkd drop-in); relax restores the tree exactly.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collectFacts } from '../src/agent/facts/facts.ts';
import { detectDrift } from '../src/agent/drift/drift.ts';
import { enforce, relax } from '../src/agent/drift/enforce.ts';

let root = '';

/** Every path under dir with its type and content (or link target): equal trees give equal maps. */
async function tree(dir: string, prefix = ''): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of (await readdir(join(dir, prefix))).sort()) {
    const rel = join(prefix, name);
    const st = await lstat(join(dir, rel));
    if (st.isSymbolicLink()) out[rel] = `link -> ${await readlink(join(dir, rel))}`;
    else if (st.isDirectory()) Object.assign(out, { [rel]: 'dir' }, await tree(dir, rel));
    else out[rel] = `file ${(st.mode & 0o7777).toString(8)} ${await readFile(join(dir, rel), 'utf8')}`;
  }
  return out;
}

async function facts() {
  return collectFacts({ root, routing: false });
}

describe('drift guard on a test root', () => {
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'sluice-linux-drift-'));
    // What Ubuntu's unattended-upgrades package leaves: 20auto-upgrades and an enabled timer.
    await mkdir(join(root, 'etc/apt/apt.conf.d'), { recursive: true });
    await writeFile(join(root, 'etc/apt/apt.conf.d/20auto-upgrades'), 'APT::Periodic::Update-Package-Lists "1";\nAPT::Periodic::Unattended-Upgrade "1";\n');
    await mkdir(join(root, 'etc/systemd/system/timers.target.wants'), { recursive: true });
    await symlink('/lib/systemd/system/apt-daily-upgrade.timer', join(root, 'etc/systemd/system/timers.target.wants/apt-daily-upgrade.timer'));
    await mkdir(join(root, 'var/lib/dpkg'), { recursive: true });
    await writeFile(join(root, 'var/lib/dpkg/status'), '');
  });
  afterAll(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('reports unattended-upgrades as drift, enforce turns it off, relax restores the tree exactly', async () => {
    const before = await tree(root);
    const f0 = await facts();
    expect(f0.unattendedUpgrades).toMatchObject({ setting: '1', settingFile: '/etc/apt/apt.conf.d/20auto-upgrades', canRun: true });
    expect(f0.unattendedUpgrades.timer).toMatchObject({ enabled: true, masked: false });
    expect(detectDrift(null, f0, [], []).map((e) => e.kind)).toEqual(['unattended-upgrades-enabled']);

    const done = await enforce(root, { networkd: true });
    expect(done.problems).toEqual([]);
    expect(done.actions).toEqual([
      'wrote /etc/apt/apt.conf.d/99sluice-no-unattended',
      'masked apt-daily-upgrade.timer',
      'wrote /etc/systemd/networkd.conf.d/90-sluice-foreign.conf',
    ]);
    const f1 = await facts();
    expect(f1.unattendedUpgrades).toMatchObject({ setting: '0', settingFile: '/etc/apt/apt.conf.d/99sluice-no-unattended', canRun: false });
    expect(f1.unattendedUpgrades.timer.masked).toBe(true);
    expect(f1.networkd).toMatchObject({ manageForeignRoutingPolicyRules: false, manageForeignRoutes: false });
    expect(detectDrift(null, f1, [], [])).toEqual([]);
    expect((await enforce(root, { networkd: true })).actions).toEqual([]); // idempotent

    const undone = await relax(root);
    expect([...undone.actions].sort()).toEqual([
      'removed /etc/apt/apt.conf.d/99sluice-no-unattended',
      'removed /etc/systemd/networkd.conf.d/90-sluice-foreign.conf',
      'unmasked apt-daily-upgrade.timer',
    ]);
    expect(await tree(root)).toEqual(before);
    expect((await facts()).unattendedUpgrades.canRun).toBe(true);
  });

  it("leaves files that are not Sluice's alone", async () => {
    await writeFile(join(root, 'etc/apt/apt.conf.d/99sluice-no-unattended'), 'APT::Periodic::Unattended-Upgrade "1"; // admin\n');
    const res = await enforce(root);
    expect(res.problems).toEqual(["/etc/apt/apt.conf.d/99sluice-no-unattended exists and is not Sluice's; left alone"]);
    await relax(root);
    expect(await readFile(join(root, 'etc/apt/apt.conf.d/99sluice-no-unattended'), 'utf8')).toContain('// admin');
    await rm(join(root, 'etc/apt/apt.conf.d/99sluice-no-unattended'));
  });

  it('reports a package that changed outside Sluice, from the inventory and dpkg.log', async () => {
    const f = await facts();
    const events = detectDrift(
      { packages: { 'sluice-testpkg': '1' }, routing: null },
      { ...f, packages: { 'sluice-testpkg': '2' } },
      ['2026-01-01 06:12:00 upgrade sluice-testpkg:all 1 2'],
      [],
    );
    expect(events.map((e) => e.message)).toContain('sluice-testpkg changed with no Sluice step: 1 -> 2 (dpkg upgrade at 2026-01-01 06:12:00)');
  });
});

// Test packages and a local apt repository, built with dpkg-deb and dpkg-scanpackages, plus
// per-host roots with their own dpkg database that use the repository through a `file:` source.
import { createHash } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runArgv } from '../../src/agent/exec.ts';
import { aptEnvironment } from '../../src/agent/changes/apt.ts';
import type { ArgvRunner } from '../../src/agent/facts/argv-runner.ts';

export const TEST_PACKAGE = 'sluice-testpkg';
export const BROKEN_PACKAGE = 'sluice-brokenpkg';
/** Its postinst deletes only the per-pod rules (FLUSH_POD_RULES_POSTINST). */
export const KOPS_PACKAGE = 'sluice-kopspkg';
/**
 * Built for the machine's native architecture with `Multi-Arch: same`, like libssl3: dpkg-query
 * lists it as `sluice-malib:amd64`, apt as `sluice-malib`. Versions 1 and 2.
 */
export const MULTIARCH_PACKAGE = 'sluice-malib';

/**
 * What a systemd-networkd restart with ManageForeignRoutingPolicyRules=yes does: delete every
 * routing-policy rule it does not own (all but priorities 0, 32766, 32767 and `proto kernel`).
 */
export const FLUSH_FOREIGN_RULES_POSTINST = `#!/bin/sh
# sluice-testpkg 2: behaves like "systemctl restart systemd-networkd" did on 2023-03-08.
set -u
for fam in -4 -6; do
  ip $fam -d rule show 2>/dev/null | while IFS= read -r line; do
    prio=\${line%%:*}
    case "$prio" in 0|32766|32767) continue ;; esac
    case "$line" in *"proto kernel"*) continue ;; esac
    ip $fam rule del priority "$prio" 2>/dev/null || true
  done
done
exit 0
`;

/**
 * The kops case of June 2025 (aws-vpc-cni): only the per-pod rules go (111 and the fwmark rule at
 * 9); `lookup local` stays, so the host stays reachable and a reachability check stays green.
 */
export const FLUSH_POD_RULES_POSTINST = `#!/bin/sh
# sluice-kopspkg 1: deletes only the per-pod rules, like the networkd restart on kops nodes.
for prio in 111 9; do
  while ip -4 rule del priority "$prio" 2>/dev/null; do :; done
done
exit 0
`;

interface DebSpec {
  readonly name: string;
  readonly version: string;
  readonly postinst: string;
  readonly description: string;
  /** Default `all`; `native`: the machine's dpkg architecture, with Multi-Arch: same. */
  readonly arch?: 'native';
}

const DEBS: readonly DebSpec[] = [
  { name: TEST_PACKAGE, version: '1', postinst: '#!/bin/sh\nset -e\necho "sluice-testpkg 1 configured"\n', description: 'harmless test package' },
  { name: TEST_PACKAGE, version: '2', postinst: FLUSH_FOREIGN_RULES_POSTINST, description: 'test package whose postinst deletes foreign ip rules' },
  { name: KOPS_PACKAGE, version: '1', postinst: FLUSH_POD_RULES_POSTINST, description: 'test package whose postinst deletes only per-pod ip rules' },
  { name: BROKEN_PACKAGE, version: '1', postinst: '#!/bin/sh\necho "configuration failed" >&2\nexit 1\n', description: 'test package whose postinst fails' },
  { name: MULTIARCH_PACKAGE, version: '1', postinst: '#!/bin/sh\nexit 0\n', description: 'Multi-Arch: same test library', arch: 'native' },
  { name: MULTIARCH_PACKAGE, version: '2', postinst: '#!/bin/sh\nexit 0\n', description: 'Multi-Arch: same test library', arch: 'native' },
];

async function must(argv: string[], opts: { cwd?: string; env?: Record<string, string>; run?: ArgvRunner } = {}): Promise<string> {
  const run = opts.run ?? runArgv;
  const res = await run(argv, { timeoutMs: 60_000, ...(opts.cwd ? { cwd: opts.cwd } : {}), ...(opts.env ? { env: opts.env } : {}) });
  if (res.exitCode !== 0) throw new Error(`${argv.join(' ')}: ${res.error ?? ''} ${res.stderr.trim()} ${res.stdout.trim().slice(-500)}`);
  return res.stdout;
}

/** Installs dpkg-dev and iproute2 with apt when missing (the machine's tools, not test packages). */
export async function ensureDebTools(): Promise<void> {
  const have = async (p: string) => (await runArgv(['sh', '-c', `command -v ${p}`], { timeoutMs: 5000 })).exitCode === 0;
  if ((await have('dpkg-deb')) && (await have('dpkg-scanpackages')) && (await have('ip'))) return;
  await must(['apt-get', 'update', '-q']);
  await must(['apt-get', 'install', '-y', '-q', 'dpkg-dev', 'iproute2']);
}

export interface TestRepoOptions {
  /**
   * Also write a Release file naming this suite (origin `Sluice`), e.g. `sluice-security`: apt then
   * labels the repository's candidates `Sluice:sluice-security/sluice-security`, which counts as a
   * security source. Without it the repository is a bare flat one.
   */
  readonly suite?: string;
  /** The directory under `dir` (default `repo`). */
  readonly name?: string;
}

/** Builds every test .deb into `dir/repo` and indexes it; returns the repository directory. */
export async function buildTestRepo(dir: string, opts: TestRepoOptions = {}): Promise<string> {
  await ensureDebTools();
  const repo = join(dir, opts.name ?? 'repo');
  await mkdir(repo, { recursive: true });
  const native = (await must(['dpkg', '--print-architecture'])).trim();
  for (const d of DEBS) {
    const arch = d.arch === 'native' ? native : 'all';
    const tree = join(dir, 'build', `${d.name}_${d.version}`);
    await mkdir(join(tree, 'DEBIAN'), { recursive: true });
    await mkdir(join(tree, 'usr/share', d.name), { recursive: true });
    await writeFile(join(tree, 'usr/share', d.name, 'version'), `${d.version}\n`);
    await writeFile(
      join(tree, 'DEBIAN/control'),
      `Package: ${d.name}\nVersion: ${d.version}\nArchitecture: ${arch}\n${d.arch === 'native' ? 'Multi-Arch: same\n' : ''}` +
        `Maintainer: Sluice tests <tests@sluice.invalid>\nDescription: ${d.description}\n`,
    );
    await writeFile(join(tree, 'DEBIAN/postinst'), d.postinst);
    await chmod(join(tree, 'DEBIAN/postinst'), 0o755);
    await must(['dpkg-deb', '--root-owner-group', '-Zgzip', '-b', tree, join(repo, `${d.name}_${d.version}_${arch}.deb`)]);
  }
  const packages = await must(['dpkg-scanpackages', '--multiversion', '.'], { cwd: repo });
  await writeFile(join(repo, 'Packages'), packages);
  if (opts.suite !== undefined) await writeRelease(repo, opts.suite);
  return repo;
}

/** A flat repository's Release file: origin, suite and the hashes apt checks the index against. */
async function writeRelease(repo: string, suite: string): Promise<void> {
  const body = await readFile(join(repo, 'Packages'));
  const line = (algo: string) => ` ${createHash(algo).update(body).digest('hex')} ${body.length} Packages`;
  await writeFile(
    join(repo, 'Release'),
    [`Origin: Sluice`, `Label: Sluice`, `Suite: ${suite}`, `Codename: ${suite}`, `Date: ${new Date().toUTCString()}`, `MD5Sum:`, line('md5'), `SHA256:`, line('sha256'), ''].join('\n'),
  );
}

/**
 * A host root with its own empty dpkg database and apt state, whose only source is the test
 * repository; the package lists are fetched. `run` lets apt run inside a namespace.
 */
export async function createHostRoot(root: string, repo: string, run?: ArgvRunner): Promise<string> {
  for (const d of [
    'etc/apt/apt.conf.d', 'etc/apt/preferences.d', 'etc/apt/sources.list.d', 'etc/apt/trusted.gpg.d',
    'var/lib/apt/lists/partial', 'var/cache/apt/archives/partial', 'var/lib/dpkg/info', 'var/lib/dpkg/updates',
    'var/log/apt', 'etc/systemd/system',
  ]) {
    await mkdir(join(root, d), { recursive: true });
  }
  await writeFile(join(root, 'var/lib/dpkg/status'), '');
  await writeFile(join(root, 'var/lib/dpkg/available'), '');
  await writeFile(join(root, 'etc/apt/sources.list'), `deb [trusted=yes] file:${repo} ./\n`);
  await writeFile(join(root, 'etc/os-release'), 'PRETTY_NAME="Sluice Test 1"\nID=sluicetest\nVERSION_ID="1"\n');
  await must(['apt-get', '-q', 'update'], { env: await aptEnvironment(root), ...(run ? { run } : {}) });
  return root;
}

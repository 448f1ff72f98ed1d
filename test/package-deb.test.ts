// The sluice-agent .deb as a host gets it: built by packaging/build-deb.sh, installed with dpkg into
// a disposable root (its own admin dir: never this machine's dpkg database), run from there with a
// PATH that has no node, against a real server; a rollout goes through it; then the package is
// upgraded in place (credential and journal kept, nothing applied twice) and purged (nothing left).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, ENROLL_TOKEN, REPO, api, runCli, startServerProc, tempDir, waitFor, type ServerProc } from './helpers/processes.ts';

const hasDpkg = spawnSync('dpkg-deb', ['--version']).status === 0 && process.getuid?.() === 0;

function sh(cmd: string, args: string[], env: Record<string, string> = {}): string {
  const r = spawnSync(cmd, args, { cwd: REPO, env: { ...process.env, ...env }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** A directory of links to every command on this machine except node (and its npm tools). */
function pathWithoutNode(dir: string): string {
  mkdirSync(dir);
  for (const d of ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin']) {
    if (!existsSync(d) || lstatSync(d).isSymbolicLink()) continue;
    for (const f of readdirSync(d)) {
      if (['node', 'nodejs', 'npm', 'npx', 'corepack'].includes(f) || existsSync(join(dir, f))) continue;
      symlinkSync(join(d, f), join(dir, f));
    }
  }
  return dir;
}

describe.skipIf(!hasDpkg)('sluice-agent .deb', () => {
  const dir = tempDir('deb');
  const root = join(dir.path, 'root');
  const mark = join(dir.path, 'applied.log');
  let debV1 = '';
  let debV2 = '';
  let noNodePath = '';
  let server: ServerProc;
  let agent: { child: ChildProcess; out: () => string } | null = null;
  const dpkg = (...args: string[]) => sh('dpkg', [`--root=${root}`, '--force-script-chrootless', '--log=/dev/null', ...args]);

  function startInstalledAgent() {
    const child = spawn(join(root, 'usr/bin/sluice-agent'), ['--config', join(root, 'etc/sluice/agent.env'), '--state-dir', join(root, 'var/lib/sluice-agent'), '--heartbeat', '1s'], {
      env: { PATH: noNodePath, HOME: dir.path, TMPDIR: process.env.TMPDIR ?? '/tmp', SLUICE_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    agent = { child, out: () => out };
    return agent;
  }
  async function stopAgent() {
    if (!agent || agent.child.exitCode !== null) return;
    const done = new Promise((r) => agent!.child.once('exit', r));
    agent.child.kill('SIGTERM');
    await done;
  }

  beforeAll(async () => {
    const out = join(dir.path, 'out');
    debV1 = sh(join(REPO, 'packaging/build-deb.sh'), [], { OUT: out, VERSION: '0.1.0~test1', DEB_COMPRESSION: 'none' }).trim();
    debV2 = sh(join(REPO, 'packaging/build-deb.sh'), [], { OUT: out, VERSION: '0.1.0~test2', DEB_COMPRESSION: 'none' }).trim();
    mkdirSync(join(root, 'var/lib/dpkg/updates'), { recursive: true });
    mkdirSync(join(root, 'var/lib/dpkg/info'), { recursive: true });
    writeFileSync(join(root, 'var/lib/dpkg/status'), '');
    noNodePath = pathWithoutNode(join(dir.path, 'bin'));
    server = await startServerProc(join(dir.path, 'server'));
  }, 300_000);

  afterAll(async () => {
    await stopAgent();
    await server?.kill();
    dir.remove();
  });

  it('installs into a disposable root: agent, its own node, unit, config 0600, state dir 0700', () => {
    expect(spawnSync('sh', ['-c', 'command -v node'], { env: { PATH: noNodePath } }).status).not.toBe(0);
    // The disposable root has none of the package's dependencies (libc6...): --force-depends.
    dpkg('--force-depends', '-i', debV1);
    expect(statSync(join(root, 'etc/sluice/agent.env')).mode & 0o777).toBe(0o600);
    expect(statSync(join(root, 'etc/sluice')).mode & 0o777).toBe(0o700);
    expect(statSync(join(root, 'var/lib/sluice-agent')).mode & 0o777).toBe(0o700);
    expect(existsSync(join(root, 'lib/systemd/system/sluice-agent.service'))).toBe(true);
    expect(readFileSync(join(root, 'usr/share/doc/sluice-agent/copyright'), 'utf8')).toContain('Node.js');
  });

  it('an unconfigured agent refuses to start, naming what is missing', () => {
    const r = spawnSync(join(root, 'usr/bin/sluice-agent'), ['--config', join(root, 'etc/sluice/agent.env'), '--state-dir', join(root, 'var/lib/sluice-agent')], {
      env: { PATH: noNodePath },
      encoding: 'utf8',
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--server URL (or SLUICE_SERVER) is required');
  });

  it('runs without node on the PATH, enrolls through agent.env (inline comment and all) and takes a rollout', async () => {
    writeFileSync(
      join(root, 'etc/sluice/agent.env'),
      [
        '# written by the test, as an operator would',
        `SLUICE_SERVER=${server.url}   # the control plane`,
        `SLUICE_ENROLL_TOKEN=${ENROLL_TOKEN} # enrollment token, an inline comment systemd would have kept`,
        'SLUICE_NAME=deb-host-1',
        'SLUICE_LABELS=env=staging,zone=a',
        'SLUICE_ALLOW=command',
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    const a = startInstalledAgent();
    await waitFor('the installed agent to enroll', async () => ((await api(server.url, 'GET', '/v1/hosts')).hosts as { name: string }[]).some((h) => h.name === 'deb-host-1'), 60_000);
    expect(a.out()).not.toContain(ENROLL_TOKEN);
    const plan = join(dir.path, 'plan.yaml');
    writeFileSync(
      plan,
      [
        'name: deb-e2e',
        'change:',
        '  command:',
        `    apply: ["sh", "-c", "echo applied >> ${mark}"]`,
        `    rollback: ["sh", "-c", "rm -f ${mark}"]`,
        '    timeout: 30s',
        'waves:',
        '  - { name: all, bake: 2s }',
        'confirmWindow: 2s',
        'checks:',
        `  - { name: applied, command: ["test", "-f", "${mark}"] }`,
        'checkInterval: 1s',
        'budget: { failedPerWave: 0, failedTotal: 0, silentAfter: 30s }',
        'onFailure: rollback',
        '',
      ].join('\n'),
    );
    const r = await runCli(['rollout', 'start', plan, '--wait'], { SLUICE_SERVER: server.url, SLUICE_TOKEN: ADMIN_TOKEN });
    expect(r.code, r.stderr + a.out()).toBe(0);
    expect(readFileSync(mark, 'utf8')).toBe('applied\n');
  }, 180_000);

  it('upgrades in place: credential and journal kept, the change not applied again', async () => {
    const stateDir = join(root, 'var/lib/sluice-agent');
    await stopAgent();
    const credential = readFileSync(join(stateDir, 'credential.json'), 'utf8');
    const stateFiles = readdirSync(stateDir).sort();
    expect(stateFiles.length).toBeGreaterThan(1); // the credential and the rollout's journal
    dpkg('--force-depends', '--force-confold', '-i', debV2);
    expect(sh('dpkg-query', [`--admindir=${join(root, 'var/lib/dpkg')}`, '-W', '-f', '${Version}', 'sluice-agent'])).toBe('0.1.0~test2');
    expect(readFileSync(join(stateDir, 'credential.json'), 'utf8')).toBe(credential);
    expect(readdirSync(stateDir).sort()).toEqual(stateFiles);
    // The operator's agent.env survives (a conffile): the token line is still there.
    expect(readFileSync(join(root, 'etc/sluice/agent.env'), 'utf8')).toContain('SLUICE_NAME=deb-host-1');
    const a = startInstalledAgent();
    await waitFor('the upgraded agent to start', () => a.out().includes('"msg":"agent starting"'), 30_000);
    // A few heartbeats and assignment polls: time enough to re-enroll or re-apply, if it were going to.
    await new Promise((r) => setTimeout(r, 5000));
    expect(a.child.exitCode, a.out()).toBeNull();
    expect(a.out()).not.toMatch(/"msg":"enrolled"/); // same host, same credential: no new enrollment
    expect((await api(server.url, 'GET', '/v1/hosts')).hosts).toHaveLength(1);
    expect(readFileSync(mark, 'utf8')).toBe('applied\n');
  }, 120_000);

  it('purges cleanly: nothing of the package is left', async () => {
    await stopAgent();
    dpkg('--purge', 'sluice-agent');
    const left: string[] = [];
    const walk = (d: string) => {
      for (const f of readdirSync(d)) {
        const p = join(d, f);
        if (p.startsWith(join(root, 'var/lib/dpkg'))) continue;
        if (lstatSync(p).isDirectory()) walk(p);
        else left.push(p);
      }
    };
    walk(root);
    expect(left).toEqual([]);
    expect(existsSync(join(root, 'var/lib/sluice-agent'))).toBe(false);
    expect(existsSync(join(root, 'etc/sluice'))).toBe(false);
    expect(existsSync(join(root, 'usr/lib/sluice-agent'))).toBe(false);
  });
});

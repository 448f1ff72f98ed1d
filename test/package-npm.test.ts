// The npm tarball as a user gets it: `npm pack`, then `npm install -g` into a temporary prefix, and
// the installed `sluice` runs --help, plan check and a server (PGlite, its wasm found in the
// installed node_modules). dist/ is already built by the test run's global setup.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, tempDir, waitFor } from './helpers/processes.ts';

function run(cmd: string, args: string[], cwd = REPO, timeout = 300_000) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout, env: { ...process.env, npm_config_update_notifier: 'false' } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

describe('npm tarball', () => {
  const dir = tempDir('npm-pack');
  const prefix = join(dir.path, 'prefix');
  const sluice = join(prefix, 'bin', 'sluice');

  beforeAll(() => {
    // --ignore-scripts: no second build here (prepare builds dist/ when a release is packed).
    run('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', dir.path]);
    const tgz = readdirSync(dir.path).find((f) => /^sluice-.*\.tgz$/.test(f));
    expect(tgz).toBeDefined();
    run('npm', ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', '--prefer-offline', join(dir.path, tgz!)], dir.path);
  }, 600_000);

  afterAll(() => dir.remove());

  it('installs a working sluice: --help and plan check, with no TypeScript loader', () => {
    expect(existsSync(join(prefix, 'lib/node_modules/sluice/node_modules/tsx'))).toBe(false);
    const help = run(sluice, ['--help'], dir.path);
    expect(help).toContain('Usage: sluice');
    const check = run(sluice, ['plan', 'check', join(prefix, 'lib/node_modules/sluice/examples/flag-on.yaml')], dir.path);
    expect(check).toContain('valid');
  });

  it('starts a server on the embedded store from the installed package', async () => {
    const child = spawn(sluice, ['server', '--listen', '127.0.0.1:0', '--data-dir', join(dir.path, 'data')], { cwd: dir.path, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    try {
      const url = await waitFor('the installed server to listen', () => /listening on (http:\/\/[\d.:]+)/.exec(out)?.[1] ?? (child.exitCode !== null ? Promise.reject(new Error(out)) : null), 120_000);
      const res = await fetch(`${url}/healthz`);
      expect(res.status).toBe(200);
      // The dashboard ships in the package (dist/web) and is served from it.
      const ui = await fetch(`${url}/ui/app.js`);
      expect(ui.status).toBe(200);
      expect(ui.headers.get('content-type')).toMatch(/javascript/);
    } finally {
      const done = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await done;
    }
  }, 180_000);
});

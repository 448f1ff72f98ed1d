import { describe, expect, it } from 'vitest';
import { parseLimit, serverBanner } from './server-command.ts';

describe('serverBanner', () => {
  it('with the defaults, says the CLI finds everything by itself', () => {
    const text = serverBanner({
      url: 'http://127.0.0.1:7400',
      storeKind: 'pglite',
      dataDir: '/srv/app/.sluice',
      tokens: { adminTokenFile: '/srv/app/.sluice/admin.token', enrollTokenFile: '/srv/app/.sluice/enroll.token' },
      cwd: '/srv/app',
    });
    expect(text).toContain('listening on http://127.0.0.1:7400 (store: embedded, /srv/app/.sluice)');
    expect(text).toContain('finds ./.sluice/admin.token by itself');
    expect(text).toContain('dashboard:        http://127.0.0.1:7400/ui/ (sign in with the admin token: cat /srv/app/.sluice/admin.token)');
    expect(text).not.toContain('export');
  });

  it('with --listen and --data-dir, prints the real address and token paths to use', () => {
    const text = serverBanner({
      url: 'http://127.0.0.1:7501',
      storeKind: 'pglite',
      dataDir: '/var/lib/my sluice',
      tokens: { adminTokenFile: '/var/lib/my sluice/admin.token', enrollTokenFile: '/var/lib/my sluice/enroll.token' },
      cwd: '/srv/app',
    });
    expect(text).toContain("SLUICE_ENROLL_TOKEN_FILE='/var/lib/my sluice/enroll.token' sluice agent --server http://127.0.0.1:7501");
    expect(text).not.toContain('--token');
    expect(text).toContain('export SLUICE_SERVER=http://127.0.0.1:7501');
    expect(text).toContain("export SLUICE_TOKEN_FILE='/var/lib/my sluice/admin.token'");
    expect(text).not.toContain('by itself');
  });

  it('with tokens from the environment, says so', () => {
    const text = serverBanner({ url: 'http://127.0.0.1:7400', storeKind: 'postgres', dataDir: '/x', tokens: { adminTokenFile: null, enrollTokenFile: null }, cwd: '/x' });
    expect(text).toContain('admin token:      from SLUICE_ADMIN_TOKEN');
    expect(text).toContain('export SLUICE_TOKEN="$SLUICE_ADMIN_TOKEN"');
    expect(text).toContain('store: PostgreSQL');
  });

  it('over https, tells agents and the CLI about the CA', () => {
    const text = serverBanner({ url: 'https://127.0.0.1:7400', storeKind: 'pglite', dataDir: '/x', tokens: { adminTokenFile: '/x/admin.token', enrollTokenFile: '/x/enroll.token' }, cwd: '/y' });
    expect(text).toContain('--ca-file CA.pem');
    expect(text).toContain('SLUICE_CA_FILE');
  });
});

describe('parseLimit (--max-changing-hosts, --max-running-rollouts)', () => {
  it('takes a whole number of at least 1; missing is no cap', () => {
    expect(parseLimit('--max-running-rollouts', undefined)).toBeNull();
    expect(parseLimit('--max-running-rollouts', '3')).toBe(3);
    expect(parseLimit('--max-changing-hosts', ' 250 ')).toBe(250);
    for (const bad of ['0', '-1', '1.5', 'many', '', '01']) {
      expect(() => parseLimit('--max-changing-hosts', bad)).toThrow(/--max-changing-hosts takes a whole number of at least 1/);
    }
  });
});

import { describe, expect, it } from 'vitest';
import { SluiceError, exitCodeFor } from '../core/errors.ts';
import { resolveConnection } from './resolve-connection.ts';
import { createTestIo } from './test-io.ts';

describe('resolveConnection', () => {
  it('prefers flags over environment over defaults', async () => {
    const io = createTestIo({ env: { SLUICE_SERVER: 'http://env:1', SLUICE_TOKEN: 'env-token' } });
    expect(await resolveConnection({ server: 'http://flag:2/', token: 'flag-token' }, io)).toEqual({ server: 'http://flag:2', token: 'flag-token' });
    expect(await resolveConnection({}, io)).toEqual({ server: 'http://env:1', token: 'env-token' });
  });

  it("falls back to the default server and the server's token file in ./.sluice", async () => {
    const io = createTestIo({ cwd: '/srv/ops', files: { '/srv/ops/.sluice/admin.token': 'adm_secret\n' } });
    expect(await resolveConnection({}, io)).toEqual({ server: 'http://127.0.0.1:7400', token: 'adm_secret' });
    expect(io.stderr.text).toBe('');
  });

  it('says how to pass a token when there is none (exit 2)', async () => {
    const error = await resolveConnection({}, createTestIo()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SluiceError);
    expect((error as SluiceError).message).toMatch(/--token-file FILE or set SLUICE_TOKEN_FILE or SLUICE_TOKEN/);
    expect(exitCodeFor((error as SluiceError).code)).toBe(2);
  });

  it.each(['not a url', 'ftp://host:21'])('rejects server %j as bad input', async (server) => {
    const error = await resolveConnection({ server, token: 't' }, createTestIo()).catch((e: unknown) => e);
    expect(exitCodeFor((error as SluiceError).code)).toBe(2);
    expect((error as Error).message).toMatch(/invalid server URL/);
  });

  it('reads the token from --token-file, else SLUICE_TOKEN, else SLUICE_TOKEN_FILE; --token warns about ps', async () => {
    const io = createTestIo({ cwd: '/srv', files: { '/srv/flag.token': 'sla_flag\n', '/srv/env.token': 'sla_envfile\n' } });
    expect(await resolveConnection({ tokenFile: 'flag.token' }, io)).toEqual({ server: 'http://127.0.0.1:7400', token: 'sla_flag' });
    const envIo = createTestIo({ cwd: '/srv', env: { SLUICE_TOKEN_FILE: '/srv/env.token' }, files: { '/srv/env.token': 'sla_envfile\n' } });
    expect((await resolveConnection({}, envIo)).token).toBe('sla_envfile');
    expect(envIo.stderr.text).toBe('');
    const both = createTestIo({ env: { SLUICE_TOKEN_FILE: '/nope', SLUICE_TOKEN: 'sla_env' } });
    expect((await resolveConnection({}, both)).token).toBe('sla_env');
    const flagIo = createTestIo();
    expect((await resolveConnection({ token: 'sla_visible' }, flagIo)).token).toBe('sla_visible');
    expect(flagIo.stderr.text).toMatch(/visible|ps/);
    expect(flagIo.stderr.text).not.toContain('sla_visible');
  });

  it('a missing token file or CA file is bad input naming it (exit 2)', async () => {
    const missing = await resolveConnection({ tokenFile: '/no/such.token' }, createTestIo()).catch((e: unknown) => e);
    expect((missing as Error).message).toMatch(/--token-file \/no\/such.token: no such file/);
    expect(exitCodeFor((missing as SluiceError).code)).toBe(2);
    const ca = await resolveConnection({ token: 't', caFile: '/no/ca.pem' }, createTestIo()).catch((e: unknown) => e);
    expect((ca as Error).message).toMatch(/--ca-file \/no\/ca.pem: no such file/);
    const notPem = await resolveConnection({ token: 't' }, createTestIo({ env: { SLUICE_CA_FILE: '/x.pem' }, files: { '/x.pem': 'hello' } })).catch((e: unknown) => e);
    expect((notPem as Error).message).toMatch(/SLUICE_CA_FILE \/x.pem: no PEM certificate/);
  });
});

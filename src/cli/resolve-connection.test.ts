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
    expect((error as SluiceError).message).toMatch(/--token TOKEN or set SLUICE_TOKEN/);
    expect(exitCodeFor((error as SluiceError).code)).toBe(2);
  });

  it.each(['not a url', 'ftp://host:21'])('rejects server %j as bad input', async (server) => {
    const error = await resolveConnection({ server, token: 't' }, createTestIo()).catch((e: unknown) => e);
    expect(exitCodeFor((error as SluiceError).code)).toBe(2);
    expect((error as Error).message).toMatch(/invalid server URL/);
  });
});

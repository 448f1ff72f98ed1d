// Server secrets: the admin token (operators) and the enrollment token (agents' first contact).
// Taken from SLUICE_ADMIN_TOKEN / SLUICE_ENROLL_TOKEN, else generated once into the data dir
// (mode 0600) so a restart keeps them. Host credentials are stored only as SHA-256 hashes.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSecretFile } from '../core/secret-file.ts';

export interface ServerTokens {
  readonly adminToken: string;
  readonly enrollToken: string;
  /** Where generated tokens were written, for the start-up message; null when both came from env. */
  readonly adminTokenFile: string | null;
  readonly enrollTokenFile: string | null;
}

export function newSecret(prefix: string): string {
  return `${prefix}_${randomBytes(24).toString('base64url')}`;
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** Constant-time comparison of a presented token with the expected one. */
export function sameSecret(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

function loadOrCreate(dir: string, file: string, prefix: string): { token: string; path: string } {
  const path = join(dir, file);
  if (existsSync(path)) {
    const token = readFileSync(path, 'utf8').trim();
    if (token.length >= 16) {
      chmodSync(path, 0o600);
      return { token, path };
    }
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const token = newSecret(prefix);
  writeFileSync(path, `${token}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return { token, path };
}

export function loadServerTokens(
  dataDir: string,
  env: { adminToken?: string | undefined; enrollToken?: string | undefined; adminTokenFile?: string | undefined; enrollTokenFile?: string | undefined },
): ServerTokens {
  const fromFile = (path: string | undefined, name: string) => (path ? { token: readSecretFile(path, name), path } : null);
  const admin =
    (env.adminToken ? { token: env.adminToken, path: null } : null) ??
    fromFile(env.adminTokenFile, 'SLUICE_ADMIN_TOKEN_FILE') ??
    loadOrCreate(dataDir, 'admin.token', 'sla');
  const enroll =
    (env.enrollToken ? { token: env.enrollToken, path: null } : null) ??
    fromFile(env.enrollTokenFile, 'SLUICE_ENROLL_TOKEN_FILE') ??
    loadOrCreate(dataDir, 'enroll.token', 'sle');
  return { adminToken: admin.token, enrollToken: enroll.token, adminTokenFile: admin.path, enrollTokenFile: enroll.path };
}

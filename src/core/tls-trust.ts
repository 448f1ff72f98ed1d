// Trust for the clients of a Sluice server over https (agent, CLI, a replica forwarding to the
// leader): a CA file read once and checked, and certificate failures said in words instead of
// OpenSSL codes. Without a CA file, Node's default trust store is used (its bundled public roots,
// plus NODE_EXTRA_CA_CERTS).
import { readFileSync } from 'node:fs';
import { ValidationError } from './errors.ts';

/** PEM certificates of a CA file; `flag` names the flag or key in the error. */
export function readCaFile(path: string, flag = '--ca-file'): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ValidationError(`${flag} ${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (err as Error).message}`);
  }
  if (!/-----BEGIN CERTIFICATE-----/.test(text)) {
    throw new ValidationError(`${flag} ${path}: no PEM certificate in it (expected "-----BEGIN CERTIFICATE-----")`);
  }
  return text;
}

const CERT_CODES: Record<string, string> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'is not signed by a trusted CA',
  UNABLE_TO_GET_ISSUER_CERT: 'is not signed by a trusted CA',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'is not signed by a trusted CA',
  SELF_SIGNED_CERT_IN_CHAIN: 'is signed by a CA that is not trusted here',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'is self-signed and not trusted here',
  CERT_SIGNATURE_FAILURE: 'has a bad signature',
  CERT_HAS_EXPIRED: 'has expired',
  CERT_NOT_YET_VALID: 'is not valid yet',
  ERR_TLS_CERT_ALTNAME_INVALID: 'is not issued for this host name',
  CERT_REVOKED: 'is revoked',
};

/**
 * A sentence for a TLS certificate failure (the error itself, or its cause, as fetch wraps it),
 * or null when the error is something else. `server` is the URL the client dialled.
 */
export function describeCertificateError(err: unknown, server: string): string | null {
  for (let e = err as { code?: unknown; cause?: unknown; reason?: unknown } | undefined, depth = 0; e && depth < 4; e = e.cause as typeof e, depth++) {
    const code = typeof e.code === 'string' ? e.code : undefined;
    if (code === undefined || !(code in CERT_CODES)) continue;
    const host = safeHost(server);
    const what = CERT_CODES[code]!;
    const hint =
      code === 'ERR_TLS_CERT_ALTNAME_INVALID'
        ? `connect with a name the certificate lists (its subjectAltName)${typeof e.reason === 'string' ? `: ${e.reason}` : ''}`
        : code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID'
          ? 'renew the server certificate (then SIGHUP the server)'
          : 'pass the CA that signed it with --ca-file (or SLUICE_CA_FILE)';
    return `TLS: the certificate of ${host} ${what} (${code}); refusing to send anything to it: ${hint}`;
  }
  return null;
}

function safeHost(server: string): string {
  try {
    return new URL(server).host;
  } catch {
    return server;
  }
}

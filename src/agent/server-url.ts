// The agent's --server URL, checked: its own module so flag parsing does not load the HTTP client.
import { SluiceError } from '../core/errors.ts';

/** "http://h:1/" -> "http://h:1"; only http: and https: */
export function normalizeServerUrl(server: string): string {
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new SluiceError('invalid', `server URL ${JSON.stringify(server)} is not a URL (expected e.g. http://127.0.0.1:7400)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new SluiceError('invalid', `server URL must be http: or https:, got ${url.protocol}`);
  }
  if (url.username || url.password) {
    throw new SluiceError('invalid', 'server URL must not contain credentials; give the token with --enroll-token-file or SLUICE_ENROLL_TOKEN');
  }
  return url.toString().replace(/\/+$/, '');
}

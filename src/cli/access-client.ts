// HTTP calls of `sluice tokens` and `sluice audit` (admin routes): the same connection and error
// handling as the other operator commands (api-client.ts), loaded only when such a command runs.
import { SluiceError, UnavailableError } from '../core/errors.ts';
import type { Connection } from './resolve-connection.ts';

export interface AccessResponse {
  readonly json: any;
  readonly text: string;
  readonly headers: Headers;
}

export async function accessCall(
  connection: Connection,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  fetchImpl: typeof globalThis.fetch = globalThis.fetch,
  timeoutMs = 10_000,
): Promise<AccessResponse> {
  const headers: Record<string, string> = { authorization: `Bearer ${connection.token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  let text: string;
  try {
    res = await fetchImpl(`${connection.server}${path}`, {
      method,
      headers,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(timeoutMs),
    });
    text = await res.text();
  } catch (error) {
    if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
      throw new UnavailableError(`the Sluice server at ${connection.server} did not answer within ${timeoutMs / 1000}s`, { cause: error });
    }
    throw new UnavailableError(`cannot reach the Sluice server at ${connection.server}: is \`sluice server\` running?`, { cause: error });
  }
  let json: unknown;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const { errorFromResponse } = await import('./api-client.ts');
    const err = errorFromResponse(res.status, json);
    if (res.status === 403) throw new SluiceError('forbidden', `${err.message} (token and audit commands need an admin token)`);
    throw err;
  }
  return { json, text, headers: res.headers };
}

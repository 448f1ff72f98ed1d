// The CLI's fetch for an https server signed by a private CA (--ca-file / SLUICE_CA_FILE): Node's
// fetch (undici) takes no CA without an undici Agent, which Node does not export, so this is the
// small part of fetch the API client uses (method, headers, a string body, a signal) over
// node:https with `ca`. Without --ca-file the CLI uses fetch and Node's trust store.
import { request } from 'node:https';
import { request as plainRequest } from 'node:http';

export function caFetch(ca: string): typeof globalThis.fetch {
  return (async (input: string | URL | Request, init: RequestInit = {}) => {
    const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((value, name) => (headers[name] = value));
    const body = typeof init.body === 'string' ? init.body : init.body === undefined || init.body === null ? undefined : String(init.body);
    if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
    const send = url.protocol === 'https:' ? request : plainRequest;
    return new Promise<Response>((resolve, reject) => {
      const req = send(
        url,
        { method: init.method ?? 'GET', headers, agent: false, ...(url.protocol === 'https:' ? { ca } : {}), ...(init.signal ? { signal: init.signal } : {}) },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const out = new Headers();
            for (const [name, value] of Object.entries(res.headers)) {
              if (typeof value === 'string') out.set(name, value);
              else if (Array.isArray(value)) for (const v of value) out.append(name, v);
            }
            const status = res.statusCode ?? 502;
            const nullBody = status === 204 || status === 304;
            resolve(new Response(nullBody ? null : Buffer.concat(chunks), { status, headers: out }));
          });
        },
      );
      req.on('error', (err) => {
        // An aborted signal surfaces as AbortError, as with fetch (the client turns it into a timeout message).
        if (init.signal?.aborted) reject(init.signal.reason instanceof Error ? init.signal.reason : err);
        else reject(err);
      });
      req.end(body);
    });
  }) as typeof globalThis.fetch;
}

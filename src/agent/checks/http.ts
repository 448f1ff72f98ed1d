// The `http` check: an http(s) URL answers with the expected status (and body, if asked).
import type { CheckRunner } from './check-runner.ts';

const MAX_BODY_BYTES = 1024 * 1024;

/** "/re/flags" is a regular expression; anything else is a plain substring. */
export function bodyMatches(body: string, pattern: string): boolean {
  const re = /^\/(.+)\/([dgimsuy]*)$/s.exec(pattern);
  if (re) {
    try {
      return new RegExp(re[1] ?? '', re[2]).test(body);
    } catch {
      return body.includes(pattern);
    }
  }
  return body.includes(pattern);
}

async function readBounded(res: Response): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  while (size < MAX_BODY_BYTES) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.length;
  }
  await reader.cancel().catch(() => undefined);
  return Buffer.concat(chunks).subarray(0, MAX_BODY_BYTES).toString('utf8');
}

export const httpCheck: CheckRunner<'http'> = {
  kind: 'http',
  async run(spec, ctx) {
    let url: URL;
    try {
      url = new URL(spec.url);
    } catch {
      return { ok: false, message: `${JSON.stringify(spec.url)} is not a URL` };
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      return { ok: false, message: `only http: and https: URLs can be checked, got ${url.protocol}` };
    }
    const timeout = AbortSignal.timeout(spec.timeout);
    const signal = ctx.signal ? AbortSignal.any([ctx.signal, timeout]) : timeout;
    try {
      const res = await fetch(url, { signal, headers: { 'user-agent': 'sluice-agent' } });
      const body = spec.bodyMatch !== undefined ? await readBounded(res) : (await res.body?.cancel(), '');
      if (res.status !== spec.status) {
        return { ok: false, message: `expected HTTP ${spec.status} from ${url.origin}${url.pathname}; got ${res.status}` };
      }
      if (spec.bodyMatch !== undefined && !bodyMatches(body, spec.bodyMatch)) {
        return { ok: false, message: `HTTP ${res.status} from ${url.origin}${url.pathname}, but the body does not match ${JSON.stringify(spec.bodyMatch)}` };
      }
      return { ok: true, message: `HTTP ${res.status} from ${url.origin}${url.pathname}` };
    } catch (err) {
      const why = timeout.aborted
        ? `no answer within ${spec.timeout} ms`
        : ((err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message);
      return { ok: false, message: `expected HTTP ${spec.status} from ${url.origin}${url.pathname}; ${why}` };
    }
  },
};

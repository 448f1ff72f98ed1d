// The `http` check: an http(s) URL answers with the expected status (and body, if asked).
// Made with node:http(s), not fetch: fetch (undici) costs the agent ~20 MB once loaded and needs
// WebAssembly, which the packaged agent runs without (--jitless keeps it under 50 MB).
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { parseBodyMatch } from '../../core/body-match.ts';
import { testRegexBounded } from './bounded-regex.ts';
import type { CheckOutcome, CheckRunner } from './check-runner.ts';

/** At most this much of the body is read and matched. */
export const MAX_BODY_BYTES = 1024 * 1024;

/**
 * Whether `body` matches `pattern` ("/re/flags" a regular expression, else a substring), within
 * `timeoutMs`: a regex runs in a worker that is stopped at the deadline.
 */
export async function bodyMatches(body: string, pattern: string, timeoutMs = 3000): Promise<{ ok: boolean; why?: string }> {
  const match = parseBodyMatch(pattern);
  if ('error' in match) return { ok: false, why: match.error };
  if (match.kind === 'substring') return { ok: body.includes(match.text) };
  const outcome = await testRegexBounded(match.source, match.flags, body, timeoutMs);
  if ('timedOut' in outcome) return { ok: false, why: `matching ${pattern} did not finish within ${timeoutMs} ms (stopped)` };
  if ('error' in outcome) return { ok: false, why: `matching ${pattern} failed: ${outcome.error}` };
  return { ok: outcome.matched };
}

function get(url: URL, signal: AbortSignal): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = request(url, { method: 'GET', signal, headers: { 'user-agent': 'sluice-agent', connection: 'close' } }, resolve);
    req.once('error', reject);
    req.end();
  });
}

function readBounded(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = () => resolve(Buffer.concat(chunks).subarray(0, MAX_BODY_BYTES).toString('utf8'));
    res.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= MAX_BODY_BYTES) {
        res.destroy();
        done();
      }
    });
    res.once('end', done);
    res.once('error', reject);
  });
}

export const httpCheck: CheckRunner<'http'> = {
  kind: 'http',
  async run(spec, ctx): Promise<CheckOutcome> {
    let url: URL;
    try {
      url = new URL(spec.url);
    } catch {
      return { ok: false, message: `${JSON.stringify(spec.url)} is not a URL` };
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      return { ok: false, message: `only http: and https: URLs can be checked, got ${url.protocol}` };
    }
    const where = `${url.origin}${url.pathname}`;
    const deadline = Date.now() + spec.timeout;
    const timeout = AbortSignal.timeout(spec.timeout);
    const signal = ctx.signal ? AbortSignal.any([ctx.signal, timeout]) : timeout;
    try {
      const res = await get(url, signal);
      const body = spec.bodyMatch !== undefined ? await readBounded(res) : (res.resume(), '');
      if (res.statusCode !== spec.status) {
        return { ok: false, message: `expected HTTP ${spec.status} from ${where}; got ${res.statusCode}` };
      }
      if (spec.bodyMatch !== undefined) {
        const match = await bodyMatches(body, spec.bodyMatch, deadline - Date.now());
        if (!match.ok) {
          return { ok: false, message: `HTTP ${res.statusCode} from ${where}, but ${match.why ?? `the body does not match ${JSON.stringify(spec.bodyMatch)}`}` };
        }
      }
      return { ok: true, message: `HTTP ${res.statusCode} from ${where}` };
    } catch (err) {
      const why = timeout.aborted ? `no answer within ${spec.timeout} ms` : ((err as { code?: string }).code ?? (err as Error).message);
      return { ok: false, message: `expected HTTP ${spec.status} from ${where}; ${why}` };
    }
  },
};

// The Prometheus client against a stand-in HTTP server: every way a query can go wrong comes back
// as {ok: false, error}, never as an exception or as data.
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_PROMETHEUS_BODY, parseAnswer, queryRange } from './prometheus-client.ts';

let server: Server;
let base = '';
let lastBody = '';
beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      lastBody = Buffer.concat(chunks).toString();
      const path = req.url ?? '';
      if (path.startsWith('/ok/')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ status: 'success', data: { resultType: 'matrix', result: [{ metric: { job: 'x' }, values: [[1700000000, '0.5'], [1700000001, 'NaN']] }] } }));
      } else if (path.startsWith('/bad/')) {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ status: 'error', errorType: 'bad_data', error: 'parse error at char 3' }));
      } else if (path.startsWith('/html/')) {
        res.writeHead(502).end('<html>bad gateway</html>');
      } else if (path.startsWith('/big/')) {
        res.writeHead(200);
        const chunk = Buffer.alloc(1024 * 1024, 0x20);
        for (let i = 0; i < 5; i++) res.write(chunk);
        res.end();
      } else if (path.startsWith('/vector/')) {
        res.writeHead(200).end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [] } }));
      }
      // /slow/: never answers
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const q = (prefix: string, timeoutMs = 2000) => queryRange({ baseUrl: `${base}/${prefix}/`, query: 'up == 1', start: 1_700_000_000_000, end: 1_700_000_060_000, stepMs: 2000, timeoutMs });

describe('queryRange', () => {
  it('posts the range query and returns the series', async () => {
    expect(await q('ok')).toEqual({ ok: true, series: [{ labels: { job: 'x' }, samples: [[1700000000, '0.5'], [1700000001, 'NaN']] }] });
    expect(new URLSearchParams(lastBody).get('query')).toBe('up == 1');
    expect(new URLSearchParams(lastBody).get('step')).toBe('2s');
    expect(new URLSearchParams(lastBody).get('start')).toBe('1700000000.000');
  });
  it('an error answer', async () => {
    const r = await q('bad');
    expect(r).toEqual({ ok: false, error: expect.stringMatching(/answered HTTP 400: bad_data: parse error at char 3/) });
  });
  it('a body that is not JSON', async () => {
    expect(await q('html')).toEqual({ ok: false, error: expect.stringMatching(/HTTP 502 with a body that is not JSON/) });
  });
  it('a body over 4 MiB', async () => {
    expect(MAX_PROMETHEUS_BODY).toBe(4 * 1024 * 1024);
    expect(await q('big')).toEqual({ ok: false, error: expect.stringMatching(/more than 4194304 bytes/) });
  });
  it('a timeout', async () => {
    expect(await q('slow', 300)).toEqual({ ok: false, error: expect.stringMatching(/did not answer within 300 ms/) });
  });
  it('unreachable', async () => {
    const r = await queryRange({ baseUrl: 'http://127.0.0.1:1', query: 'up', start: 0, end: 1000, stepMs: 1000, timeoutMs: 2000 });
    expect(r).toEqual({ ok: false, error: expect.stringMatching(/is unreachable: .*ECONNREFUSED/) });
  });
  it('another result type, malformed samples', () => {
    expect(parseAnswer(200, JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [] } }), 'p')).toEqual({ ok: false, error: expect.stringMatching(/unexpected result type "vector"/) });
    expect(parseAnswer(200, JSON.stringify({ status: 'success', data: { resultType: 'matrix', result: [{ metric: {}, values: [[1, 2]] }] } }), 'p')).toEqual({ ok: false, error: expect.stringMatching(/malformed sample/) });
  });
});

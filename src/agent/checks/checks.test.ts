import { createServer as createHttpServer } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckSpec } from '../../core/types.ts';
import { createMemoryLog } from '../log.ts';
import { bodyMatches } from './http.ts';
import { runChecks } from './index.ts';

const ctx = { root: '/', log: createMemoryLog(), baseline: null, allowCommandChecks: true };
const http = createHttpServer((req, res) => {
  if (req.url === '/aaa') {
    res.writeHead(200);
    res.end(`${'a'.repeat(40)}b`);
    return;
  }
  res.writeHead(req.url === '/health' ? 200 : 503);
  res.end(req.url === '/health' ? 'status: green' : 'down');
});
const tcp = createTcpServer((s) => s.end());
let httpPort = 0;
let tcpPort = 0;
let closedPort = 0;

beforeAll(async () => {
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
  httpPort = (http.address() as AddressInfo).port;
  tcpPort = (tcp.address() as AddressInfo).port;
  // A port that was free a moment ago: connecting to it is refused.
  const tmp = createTcpServer();
  await new Promise<void>((r) => tmp.listen(0, '127.0.0.1', r));
  closedPort = (tmp.address() as AddressInfo).port;
  await new Promise<void>((r) => tmp.close(() => r()));
});

afterAll(() => {
  http.close();
  tcp.close();
});

async function one(spec: CheckSpec) {
  const outcome = await runChecks([spec], ctx);
  return outcome.results[0]!;
}

describe('checks', () => {
  it('command: exit 0 passes, anything else fails with the reason', async () => {
    expect((await one({ kind: 'command', name: 'c', command: ['true'], timeout: 5000 })).ok).toBe(true);
    const failed = await one({ kind: 'command', name: 'c', command: ['sh', '-c', 'echo gone >&2; exit 1'], timeout: 5000 });
    expect(failed).toEqual({ name: 'c', ok: false, message: 'expected exit code 0; "sh" exited with code 1: gone' });
  });

  it('tcp: connects, or says it was refused', async () => {
    expect((await one({ kind: 'tcp', name: 't', host: '127.0.0.1', port: tcpPort, timeout: 2000 })).ok).toBe(true);
    const refused = await one({ kind: 'tcp', name: 't', host: '127.0.0.1', port: closedPort, timeout: 2000 });
    expect(refused.ok).toBe(false);
    expect(refused.message).toMatch(/ECONNREFUSED/);
  });

  it('http: status and body must match', async () => {
    const base = `http://127.0.0.1:${httpPort}`;
    expect((await one({ kind: 'http', name: 'h', url: `${base}/health`, status: 200, bodyMatch: 'green', timeout: 2000 })).ok).toBe(true);
    expect((await one({ kind: 'http', name: 'h', url: `${base}/health`, status: 200, bodyMatch: '/^status: (green|blue)$/', timeout: 2000 })).ok).toBe(true);
    const wrongBody = await one({ kind: 'http', name: 'h', url: `${base}/health`, status: 200, bodyMatch: 'red', timeout: 2000 });
    expect(wrongBody.message).toMatch(/does not match "red"/);
    const wrongStatus = await one({ kind: 'http', name: 'h', url: `${base}/other`, status: 200, timeout: 2000 });
    expect(wrongStatus).toMatchObject({ ok: false, message: `expected HTTP 200 from ${base}/other; got 503` });
  });

  it('http: only http and https URLs', async () => {
    const file = await one({ kind: 'http', name: 'h', url: 'file:///etc/passwd', status: 200, timeout: 2000 });
    expect(file).toMatchObject({ ok: false, message: 'only http: and https: URLs can be checked, got file:' });
  });

  it('fails a kind with no runner, and fails the whole set if one fails', async () => {
    const outcome = await runChecks(
      [
        { kind: 'command', name: 'fine', command: ['true'], timeout: 5000 },
        { kind: 'systemdUnitActive', name: 'unit', unit: 'x.service', timeout: 5000 },
      ],
      ctx,
      new Map([...(await import('./index.ts')).createCheckRunners()].filter(([k]) => k === 'command')),
    );
    expect(outcome.ok).toBe(false);
    expect(outcome.message).toBe('unit: check kind systemdUnitActive is not supported by this agent');
  });

  it('command: not run, and failed with the reason, unless the agent allows command checks', async () => {
    const spec: CheckSpec = { kind: 'command', name: 'c', command: ['true'], timeout: 5000 };
    for (const allowCommandChecks of [false, undefined]) {
      const outcome = await runChecks([spec, { kind: 'tcp', name: 't', host: '127.0.0.1', port: tcpPort, timeout: 2000 }], { ...ctx, allowCommandChecks });
      expect(outcome.results).toEqual([
        { name: 'c', ok: false, message: 'not run: this agent does not allow command checks (--allow lacks command-check)' },
        expect.objectContaining({ name: 't', ok: true }),
      ]);
    }
  });

  it('bodyMatches: /re/ is a regular expression, anything else a substring', async () => {
    expect(await bodyMatches('a.c', 'a.c')).toEqual({ ok: true });
    expect(await bodyMatches('abc', 'a.c')).toEqual({ ok: false });
    expect(await bodyMatches('abc', '/a.c/')).toEqual({ ok: true });
    expect(await bodyMatches('ABC', '/abc/i')).toEqual({ ok: true });
    expect(await bodyMatches('abc', '/(/')).toMatchObject({ ok: false, why: expect.stringContaining('is not a valid regular expression') });
  });

  it('http: a catastrophic bodyMatch is stopped at the check timeout while the agent keeps running', async () => {
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 50);
    const started = Date.now();
    const outcome = await one({ kind: 'http', name: 'h', url: `http://127.0.0.1:${httpPort}/aaa`, status: 200, bodyMatch: '/^(a+)+$/', timeout: 1500 });
    const took = Date.now() - started;
    clearInterval(ticker);
    expect(outcome.ok).toBe(false);
    expect(outcome.message).toMatch(/did not finish within \d+ ms \(stopped\)/);
    expect(took).toBeLessThan(6000);
    // The main thread was free the whole time: a backtracking regex in-thread would give 0 ticks.
    expect(ticks).toBeGreaterThan(took / 50 / 3);
  });
});

// The baseline for bench/ingest.ts: a bare node:http server doing the same JSON work a Sluice
// heartbeat and long-poll do, and nothing else: the bearer credential hashed (SHA-256) and looked
// up in memory, the JSON body read and parsed, a JSON answer; a long-poll whose version matches is
// held until its wait ends or the client goes. Usage: bench/ingest-bare.ts HOSTS FROM
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { credentialOf } from './ingest-load.ts';

const hosts = Number(process.argv[2] ?? 1000);
const from = Number(process.argv[3] ?? 0);
const byHash = new Map<string, string>();
for (let i = from; i < from + hosts; i++) byHash.set(createHash('sha256').update(credentialOf(i)).digest('hex'), `h${i}`);

function json(res: import('node:http').ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const server = createServer((req, res) => {
  const auth = /^Bearer\s+(\S{1,512})$/i.exec(req.headers.authorization ?? '');
  const host = auth ? byHash.get(createHash('sha256').update(auth[1]!).digest('hex')) : undefined;
  if (!host) return json(res, 401, { error: { code: 'unauthenticated', message: 'unknown host credential' } });
  const url = new URL(req.url ?? '/', 'http://x');
  if (req.method === 'POST' && url.pathname === '/v1/agent/heartbeat') {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { labels?: unknown };
        if (typeof body !== 'object' || body === null || typeof body.labels !== 'object') return json(res, 400, { error: { code: 'invalid', message: 'labels' } });
        json(res, 200, { ok: true, heartbeatMs: 5000 });
      } catch {
        json(res, 400, { error: { code: 'invalid', message: 'not JSON' } });
      }
    });
    return;
  }
  if (req.method === 'GET' && url.pathname === '/v1/agent/assignments') {
    const version = 'v0';
    const waitMs = Math.min(Number(url.searchParams.get('waitMs') ?? 0), 60_000);
    if (url.searchParams.get('version') !== version || !(waitMs > 0)) return json(res, 200, { version, assignments: [] });
    const timer = setTimeout(() => json(res, 200, { version, assignments: [] }), waitMs);
    res.once('close', () => clearTimeout(timer));
    return;
  }
  json(res, 404, { error: { code: 'not_found', message: 'no route' } });
});
server.keepAliveTimeout = 75_000;
server.listen(0, '127.0.0.1', () => {
  const addr = server.address() as import('node:net').AddressInfo;
  process.stderr.write(`listening on http://127.0.0.1:${addr.port}\n`);
});
process.on('SIGTERM', () => process.exit(0));

// Live memory per held long-poll: N simulated agents (bench/ingest-load.ts) each hold one poll on a
// server running in this process (`sluice server` on PostgreSQL or PGlite, or a bare node:http
// server holding polls as bench/ingest-bare.ts does); the JS heap after two forced full GCs, before
// the agents connect and 10 s after every poll is held, divided by the polls. Unlike the RSS growth
// bench/ingest.ts reports, this leaves out garbage and heap slack: what holding keeps alive.
// SNAP=FILE writes a heap snapshot while the polls are held (for finding what they keep).
// Run: npm run bench:poll-memory [-- N bare|postgres|pglite]   (default 10000 postgres)
import { fork } from 'node:child_process';
import { join, resolve } from 'node:path';
import { hashSecret } from '../src/server/tokens.ts';
import type { Sql } from '../src/store/store.ts';
import { benchStore, hostName } from './lib/bench-fleet.ts';
import { credentialOf } from './ingest-load.ts';
const REPO = resolve(import.meta.dirname, '..');
const N = Number(process.argv[2] ?? '10000');
const kind = (process.argv[3] ?? 'postgres') as 'postgres' | 'pglite';
import { createServer } from 'node:http';
import { createHash } from 'node:crypto';
let bench: any = null;
let server: any;
if (process.argv[3] === 'bare') {
  const byHash = new Map<string, string>();
  for (let i = 0; i < N; i++) byHash.set(createHash('sha256').update(credentialOf(i)).digest('hex'), hostName(i));
  const json = (res: any, status: number, body: unknown) => { const text = JSON.stringify(body); res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }); res.end(text); };
  const srv = createServer((req, res) => {
    const auth = /^Bearer\s+(\S{1,512})$/i.exec(req.headers.authorization ?? '');
    const host = auth ? byHash.get(createHash('sha256').update(auth[1]!).digest('hex')) : undefined;
    if (!host) return json(res, 401, {});
    const url = new URL(req.url ?? '/', 'http://x');
    const version = 'v0';
    const waitMs = Math.min(Number(url.searchParams.get('waitMs') ?? 0), 120_000);
    if (url.searchParams.get('version') !== version || !(waitMs > 0)) return json(res, 200, { version, assignments: [] });
    const timer = setTimeout(() => json(res, 200, { version, assignments: [] }), waitMs);
    res.once('close', () => clearTimeout(timer));
  });
  srv.keepAliveTimeout = 75_000;
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  server = { url: `http://127.0.0.1:${(srv.address() as any).port}`, close: () => { srv.closeAllConnections(); srv.close(); } };
} else {
bench = await benchStore(kind);
await bench.withSql(async (sql: Sql) => {
  for (let from = 0; from < N; from += 5000) {
    const rows = [];
    for (let i = from; i < Math.min(N, from + 5000); i++) rows.push({ name: hostName(i), labels: { env: 'prod' }, facts: { allow: ['command'] }, hash: hashSecret(credentialOf(i)) });
    await sql.query(`insert into hosts (name, labels, facts, credential_hash, enrolled_at, last_seen) select name, labels, facts, hash, $2, $2 from jsonb_to_recordset($1::jsonb) as h(name text, labels jsonb, facts jsonb, hash text)`, [JSON.stringify(rows), Date.now()]);
  }
});
server = await bench.startServer();
}
const port = Number(new URL(server.url).port);
const mem = () => { global.gc!(); global.gc!(); const m = process.memoryUsage(); return m; };
await new Promise((r) => setTimeout(r, 3000));
const m0 = mem();
const child = fork(join(REPO, 'bench/ingest-load.ts'), [], { execArgv: ['--import', join(REPO, 'node_modules/tsx/dist/loader.mjs')], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
const ask = (msg: any, answer: string) => new Promise<any>((res) => { const on = (m: any) => { if (m.cmd === answer) { child.off('message', on); res(m); } }; child.on('message', on); child.send(msg); });
await ask({ cmd: 'connect', port, from: 0, count: N, first: 'poll' }, 'connected');
const h = await ask({ cmd: 'hold', waitMs: 30_000 }, 'holding');
await new Promise((r) => setTimeout(r, 10_000));
const m1 = mem();
const still = await ask({ cmd: 'stillHeld' }, 'stillHeld');
if (process.env.SNAP) { const v8 = await import('node:v8'); console.log('snapshot', v8.writeHeapSnapshot(process.env.SNAP)); }
const per = (k: keyof NodeJS.MemoryUsage) => ((m1[k] - m0[k]) / N / 1024).toFixed(1);
console.log(`${process.argv[3] === 'bare' ? 'bare' : kind} ${N} polls sent ${h.held}, still held ${still.busy}: per poll kB heapUsed ${per('heapUsed')} heapTotal ${per('heapTotal')} external ${per('external')} arrayBuffers ${per('arrayBuffers')} rss ${per('rss')}`);
child.send({ cmd: 'close' });
child.kill();
await server.close();
await bench?.remove();
process.exit(0);

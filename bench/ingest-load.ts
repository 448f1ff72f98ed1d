// Load generator for bench/ingest.ts: simulated agents, one keep-alive TCP connection each, speaking
// just enough HTTP/1.1 (requests prebuilt, answers parsed by Content-Length) that the generator
// costs far less than the servers it measures. Driven by its parent over IPC (see bench/ingest.ts).
import { connect, type Socket } from 'node:net';

/** The credential of simulated host i (the bare server and the seeding use the same). */
export function credentialOf(i: number): string {
  return `shc_bench_${i.toString(36).padStart(6, '0')}_0123456789abcdef`;
}

// Latency histogram: 10 µs buckets to 100 ms, then 1 ms buckets to 60 s.
export const BUCKETS = 10_000 + 59_900;
export function bucketOf(us: number): number {
  if (us < 100_000) return Math.max(0, Math.floor(us / 10));
  return Math.min(BUCKETS - 1, 10_000 + Math.floor((us - 100_000) / 1000));
}
export function usOf(bucket: number): number {
  return bucket < 10_000 ? bucket * 10 + 5 : 100_000 + (bucket - 10_000) * 1000 + 500;
}

type Reply = (status: number, body: string) => void;

class Conn {
  sock: Socket | null = null;
  private buf = '';
  private reply: Reply | null = null;
  busy = false;
  sentAt = 0;
  alive = false;

  constructor(
    readonly index: number,
    private readonly port: number,
    private readonly onGone: (c: Conn) => void,
  ) {}

  open(): Promise<boolean> {
    return new Promise((resolve) => {
      const s = connect({ host: '127.0.0.1', port: this.port });
      this.sock = s;
      s.setNoDelay(true);
      s.setEncoding('latin1');
      let settled = false;
      s.once('connect', () => {
        settled = true;
        this.alive = true;
        resolve(true);
      });
      s.on('data', (d: string) => this.onData(d));
      s.on('error', () => {});
      s.once('close', () => {
        this.alive = false;
        if (!settled) {
          settled = true;
          resolve(false);
        }
        const r = this.reply;
        this.reply = null;
        this.busy = false;
        this.buf = '';
        if (r) r(0, '');
        this.onGone(this);
      });
    });
  }

  send(text: string, reply: Reply): void {
    this.busy = true;
    this.reply = reply;
    this.sentAt = performance.now();
    this.sock!.write(text);
  }

  private onData(d: string): void {
    this.buf += d;
    for (;;) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = this.buf.slice(0, end);
      const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      let bodyEnd: number;
      let body: string;
      if (m) {
        bodyEnd = end + 4 + Number(m[1]);
        if (this.buf.length < bodyEnd) return;
        body = this.buf.slice(end + 4, bodyEnd);
      } else if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
        const last = this.buf.indexOf('\r\n0\r\n\r\n', end);
        if (last < 0) return;
        bodyEnd = last + 7;
        body = this.buf.slice(end + 4, last).replace(/(^|\r\n)[0-9a-f]+\r\n/gi, '');
      } else {
        bodyEnd = end + 4;
        body = '';
      }
      const status = Number(head.slice(9, 12));
      this.buf = this.buf.slice(bodyEnd);
      const r = this.reply;
      this.reply = null;
      this.busy = false;
      if (r) r(status, body);
    }
  }
}

interface Stats {
  count: number;
  errors: number;
  hist: Uint32Array;
}

function main(): void {
  const conns: Conn[] = [];
  let port = 0;
  let stats: Stats = { count: 0, errors: 0, hist: new Uint32Array(BUCKETS) };
  let running = false;
  let recording = false;
  const heartbeatText = (i: number) => {
    const body = JSON.stringify({ labels: { role: 'web', zone: `z${i % 12}` } });
    return `POST /v1/agent/heartbeat HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer ${credentialOf(i)}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  };
  const texts = new Map<number, string>();
  const versions = new Map<number, string>();
  const record = (c: Conn, status: number) => {
    if (!recording) return;
    if (status !== 200) stats.errors += 1;
    else {
      stats.count += 1;
      stats.hist[bucketOf((performance.now() - c.sentAt) * 1000)]! += 1;
    }
  };
  const reopen = (c: Conn) => {
    if (!running) return;
    setTimeout(() => void c.open(), 100);
  };

  const send = (m: unknown) => process.send!(m);

  process.on('message', async (msg: any) => {
    if (msg.cmd === 'connect') {
      port = msg.port;
      const started = performance.now();
      let failed = 0;
      // Like an agent, every connection sends its first request at once (the server closes
      // connections that send nothing within its header timeout): a heartbeat, or for the hold
      // phase the first poll, whose answer gives the version to hold with.
      const first = (c: Conn) =>
        new Promise<boolean>((resolve) => {
          if (msg.first === 'poll') {
            c.send(`GET /v1/agent/assignments?waitMs=0 HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer ${credentialOf(c.index)}\r\n\r\n`, (status, body) => {
              if (status === 200) versions.set(c.index, (JSON.parse(body) as { version: string }).version);
              resolve(status === 200);
            });
          } else c.send(texts.get(c.index)!, (status) => resolve(status === 200));
        });
      for (let i = 0; i < msg.count; i += 500) {
        const batch: Promise<boolean>[] = [];
        for (let j = i; j < Math.min(msg.count, i + 500); j++) {
          const c = new Conn(msg.from + j, port, reopen);
          conns.push(c);
          texts.set(c.index, heartbeatText(c.index));
          batch.push(c.open().then((ok) => (ok ? first(c) : false)));
        }
        failed += (await Promise.all(batch)).filter((ok) => !ok).length;
      }
      send({ cmd: 'connected', ms: performance.now() - started, failed });
    } else if (msg.cmd === 'run') {
      stats = { count: 0, errors: 0, hist: new Uint32Array(BUCKETS) };
      running = true;
      recording = false;
      const interval: number = msg.intervalMs ?? 0;
      const t0 = performance.now();
      const endAt = t0 + msg.warmMs + msg.ms;
      setTimeout(() => {
        recording = true;
      }, msg.warmMs);
      const beat = (c: Conn) => {
        if (!running || !c.alive) return;
        c.send(texts.get(c.index)!, (status) => {
          record(c, status);
          if (interval === 0) {
            if (performance.now() < endAt) beat(c);
          }
        });
      };
      if (interval === 0) {
        for (const c of conns) beat(c);
      } else {
        for (const c of conns) {
          const phase = Math.random() * interval;
          const tick = () => {
            if (!running || performance.now() >= endAt) return;
            if (!c.busy) beat(c);
            setTimeout(tick, interval);
          };
          setTimeout(tick, phase);
        }
      }
      setTimeout(async () => {
        recording = false;
        // let in-flight answers come back (bounded)
        const until = performance.now() + 5000;
        while (conns.some((c) => c.busy) && performance.now() < until) await new Promise((r) => setTimeout(r, 20));
        const stuck = conns.filter((c) => c.busy).length;
        running = false;
        send({ cmd: 'result', count: stats.count, errors: stats.errors + stuck, hist: Array.from(stats.hist) });
      }, msg.warmMs + msg.ms);
    } else if (msg.cmd === 'hold') {
      // Every agent: one poll for the version (answered at once), then one held with it.
      const started = performance.now();
      let held = 0;
      let errors = 0;
      const statuses: Record<string, number> = {};
      const bad = (status: number) => {
        errors += 1;
        statuses[status] = (statuses[status] ?? 0) + 1;
      };
      const q = `waitMs=${msg.waitMs}`;
      const get = (c: Conn, path: string, reply: Reply) =>
        c.send(`GET ${path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer ${credentialOf(c.index)}\r\n\r\n`, reply);
      await new Promise<void>((done) => {
        let left = conns.length;
        if (left === 0) done();
        for (const c of conns) {
          const version = versions.get(c.index);
          if (!c.alive || version === undefined) {
            bad(-1);
            if (--left === 0) done();
            continue;
          }
          get(c, `/v1/agent/assignments?${q}&version=${version}`, (s2) => {
            // Answered: the wait ended (or the server dropped it).
            if (s2 !== 200) bad(s2);
            else statuses['early'] = (statuses['early'] ?? 0) + 1;
          });
          held += 1;
          if (--left === 0) done();
        }
      });
      send({ cmd: 'holding', ms: performance.now() - started, held, errors, statuses });
    } else if (msg.cmd === 'stillHeld') {
      send({ cmd: 'stillHeld', busy: conns.filter((c) => c.busy && c.alive).length });
    } else if (msg.cmd === 'close') {
      running = false;
      for (const c of conns) c.sock?.destroy();
      send({ cmd: 'closed' });
      setTimeout(() => process.exit(0), 50);
    }
  });
  send({ cmd: 'ready' });
}

if (process.argv[1]?.endsWith('ingest-load.ts') && process.send) main();

// A real Prometheus (Debian's /usr/bin/prometheus) for metric-gate tests, scraping a tiny exporter
// the test controls (a node:http server serving one gauge). Free ports, a temp dir for its TSDB;
// stop() kills it and removes the dir.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from './processes.ts';

export const PROMETHEUS_BIN = '/usr/bin/prometheus';

export class GaugeExporter {
  value = 0;
  private constructor(
    readonly server: Server,
    readonly port: number,
    readonly metric: string,
  ) {}
  static async start(metric: string): Promise<GaugeExporter> {
    let self: GaugeExporter | undefined;
    const server = createServer((req, res) => {
      if (req.url !== '/metrics') return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(`# TYPE ${metric} gauge\n${metric} ${self!.value}\n`);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    self = new GaugeExporter(server, (server.address() as { port: number }).port, metric);
    return self;
  }
  close(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}

export async function freePort(): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(() => r(undefined)));
  return port;
}

export class Prometheus {
  private constructor(
    readonly child: ChildProcess,
    readonly dir: string,
    readonly url: string,
    private readonly out: () => string,
  ) {}

  static async start(targetPort: number): Promise<Prometheus> {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-prometheus-'));
    const config = join(dir, 'prometheus.yml');
    writeFileSync(
      config,
      `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: gate\n    scrape_interval: 1s\n    static_configs:\n      - targets: ['127.0.0.1:${targetPort}']\n`,
    );
    const port = await freePort();
    const child = spawn(
      PROMETHEUS_BIN,
      [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    const keep = (c: Buffer) => {
      out = (out + c.toString()).slice(-200_000);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    const p = new Prometheus(child, dir, `http://127.0.0.1:${port}`, () => out);
    try {
      await waitFor('Prometheus to be ready', async () => {
        if (child.exitCode !== null) throw new Error(`prometheus exited: ${out}`);
        return (await fetch(`${p.url}/-/ready`)).ok;
      }, 30_000, 200);
    } catch (err) {
      await p.stop();
      throw err;
    }
    return p;
  }

  output(): string {
    return this.out();
  }

  /** Samples of `query` over the last `seconds`, one series expected. */
  async samples(query: string, seconds: number): Promise<[number, string][]> {
    const end = Date.now() / 1000;
    const res = await fetch(`${this.url}/api/v1/query_range?${new URLSearchParams({ query, start: String(end - seconds), end: String(end), step: '1s' })}`);
    const json = (await res.json()) as { data?: { result?: { values: [number, string][] }[] } };
    return json.data?.result?.[0]?.values ?? [];
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise((r) => this.child.once('exit', r));
      this.child.kill('SIGTERM');
      const t = setTimeout(() => this.child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

// A real TCP relay between a process and PostgreSQL, which a test can cut (every connection
// through it is destroyed and new ones are refused: the network to the database is gone, for this
// process only) and restore on the same port. Nothing is stopped on the machine's PostgreSQL.
import net from 'node:net';

export interface TcpProxy {
  readonly port: number;
  /** `url` with its host:port replaced by the proxy's. */
  through(url: string): string;
  /** Destroys every relayed connection and stops accepting new ones. */
  cut(): Promise<void>;
  /** Accepts connections again, on the same port. */
  restore(): Promise<void>;
  close(): Promise<void>;
}

/** Pipes both ways; when either side ends or fails, both are destroyed and forgotten. */
function relay(client: net.Socket, upstream: net.Socket, sockets: Set<net.Socket>): void {
  sockets.add(client);
  sockets.add(upstream);
  const end = () => {
    client.destroy();
    upstream.destroy();
    sockets.delete(client);
    sockets.delete(upstream);
  };
  client.on('error', end).on('close', end);
  upstream.on('error', end).on('close', end);
  client.pipe(upstream);
  upstream.pipe(client);
}

export async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  const onConnection = (client: net.Socket) => relay(client, net.connect(targetPort, targetHost), sockets);
  let server = net.createServer(onConnection);
  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port));
    });
  const port = await listen(0);
  const stop = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      sockets.clear();
      if (!server.listening) return resolve();
      server.close(() => resolve());
    });
  return {
    port,
    through(url) {
      const u = new URL(url);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    cut: stop,
    async restore() {
      if (server.listening) return;
      server = net.createServer(onConnection);
      await listen(port);
    },
    close: stop,
  };
}

export interface TcpBalancer {
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

/**
 * A TCP load balancer in front of replicas: each new connection goes to the next backend of
 * `backends()` (round robin) that accepts it. A backend that dies drops its connections; clients
 * reconnect and land on a live one, as behind a real load balancer.
 */
export async function startTcpBalancer(backends: () => readonly number[]): Promise<TcpBalancer> {
  const sockets = new Set<net.Socket>();
  let next = 0;
  const server = net.createServer((client) => {
    sockets.add(client);
    client.pause();
    const ports = [...backends()];
    let tried = 0;
    const attempt = () => {
      if (tried >= ports.length || client.destroyed) {
        client.destroy();
        sockets.delete(client);
        return;
      }
      const port = ports[(next + tried) % ports.length]!;
      tried += 1;
      const upstream = net.connect(port, '127.0.0.1');
      let connected = false;
      upstream.once('connect', () => {
        connected = true;
        next = (next + 1) % Math.max(1, ports.length);
        relay(client, upstream, sockets);
        client.resume();
      });
      upstream.once('error', () => {
        if (!connected) attempt(); // refused: the next backend
      });
    };
    client.on('error', () => client.destroy());
    attempt();
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port));
  });
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        sockets.clear();
        server.close(() => resolve());
      }),
  };
}

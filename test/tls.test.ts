// TLS end to end: a real `sluice server --tls-cert --tls-key`, the CLI and an agent trusting its CA
// with --ca-file, a wrong CA and a wrong host name refused in words, and a certificate rotated with
// SIGHUP while an agent keeps working. Certificates are made with openssl in a temp dir.
import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { request } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, ENROLL_TOKEN, runCli, startProc, tempDir, waitFor, type Proc } from './helpers/processes.ts';
import { postgresTestDatabase, type PostgresTestDatabase } from './helpers/postgres.ts';
import { startServer } from '../src/server/start-server.ts';
import { silentLogger } from '../src/server/logger.ts';

const tmp = tempDir('tls');
const dir = tmp.path;
const f = (name: string) => join(dir, name);

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A CA: key and self-signed certificate. */
function makeCa(name: string): void {
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=${name}`);
}

/** A server certificate signed by `ca`, with these subjectAltNames and serial (hex). */
function makeCert(name: string, ca: string, san: string, serial: string): void {
  openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', '/CN=sluice-test-server');
  writeFileSync(f(`${name}.ext`), `subjectAltName=${san}\n`);
  openssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-set_serial', `0x${serial}`, '-days', '2', '-out', `${name}.crt`, '-extfile', `${name}.ext`);
}

/** Installs a certificate and key where the server reads them. */
function install(name: string): void {
  copyFileSync(f(`${name}.crt`), f('server.crt'));
  copyFileSync(f(`${name}.key`), f('server.key'));
}

/** The serial number of the certificate the server presents to a new connection. */
function presentedSerial(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ca: readFileSync(f('ca.pem')), servername: 'localhost', rejectUnauthorized: false }, () => {
      const serial = socket.getPeerCertificate().serialNumber;
      socket.destroy();
      resolve(serial.replace(/^0+/, '').toUpperCase());
    });
    socket.on('error', reject);
    socket.setTimeout(5000, () => socket.destroy(new Error('tls.connect timed out')));
  });
}

/** GET over https with the test CA; `agent` keeps one connection open across calls. */
function httpsGet(url: string, agent?: import('node:https').Agent): Promise<{ status: number; body: string; serial: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca: readFileSync(f('ca.pem')), headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, ...(agent ? { agent } : { agent: false }), timeout: 5000 }, (res) => {
      let body = '';
      const serial = (res.socket as TLSSocket).getPeerCertificate().serialNumber.replace(/^0+/, '').toUpperCase();
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, serial }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.end();
  });
}

/** Any method over https with the test CA and the admin token; JSON in, text out. */
function httpsCall(method: string, url: string, body?: unknown): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = { authorization: `Bearer ${ADMIN_TOKEN}` };
    if (data !== undefined) Object.assign(headers, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(data)) });
    const req = request(url, { method, ca: readFileSync(f('ca.pem')), headers, agent: false, timeout: 10_000 }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.end(data);
  });
}

let server: Proc;
let url = '';
let port = 0;
const agents: Proc[] = [];

beforeAll(async () => {
  makeCa('ca');
  makeCa('other-ca');
  makeCert('a', 'ca', 'IP:127.0.0.1,DNS:localhost', '1001');
  makeCert('b', 'ca', 'IP:127.0.0.1,DNS:localhost', '1002');
  makeCert('wrong-name', 'ca', 'DNS:elsewhere.example', '1003');
  install('a');
  server = startProc(
    ['server', '--listen', '127.0.0.1:0', '--data-dir', f('data'), '--tls-cert', f('server.crt'), '--tls-key', f('server.key')],
    { SLUICE_ADMIN_TOKEN: ADMIN_TOKEN, SLUICE_ENROLL_TOKEN: ENROLL_TOKEN },
  );
  url = await waitFor(
    'the server to listen on https',
    () => {
      if (server.child.exitCode !== null) throw new Error(`server exited: ${server.output()}`);
      return /listening on (https:\/\/127\.0\.0\.1:\d+)/.exec(server.output())?.[1] ?? null;
    },
    30_000,
    50,
  );
  port = Number(new URL(url).port);
  await waitFor('/healthz over https', async () => (await httpsGet(`${url}/healthz`)).status === 200, 10_000, 50);
}, 60_000);

afterAll(async () => {
  await Promise.all(agents.map((a) => a.kill()));
  await server?.kill();
  tmp.remove();
});

describe('sluice server over TLS', () => {
  it('the CLI with --ca-file works; without it, or with another CA, it is refused in words', async () => {
    const ok = await runCli(['hosts', '--server', url, '--ca-file', f('ca.pem')], { SLUICE_TOKEN: ADMIN_TOKEN }, 30_000);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    const viaEnv = await runCli(['hosts', '--server', url], { SLUICE_TOKEN: ADMIN_TOKEN, SLUICE_CA_FILE: f('ca.pem') }, 30_000);
    expect(viaEnv.code).toBe(0);

    for (const extra of [['--ca-file', f('other-ca.pem')], []]) {
      const refused = await runCli(['hosts', '--server', url, ...extra], { SLUICE_TOKEN: ADMIN_TOKEN }, 30_000);
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toMatch(new RegExp(`TLS: the certificate of 127\\.0\\.0\\.1:${port} is (not signed by a trusted CA|signed by a CA that is not trusted here)`));
      expect(refused.stderr).toMatch(/--ca-file/);
      expect(refused.stderr).not.toMatch(/\n\s+at /); // no stack trace
    }
  }, 60_000);

  it('an agent with --ca-file enrolls and heartbeats; one trusting another CA says why it cannot', async () => {
    agents.push(
      startProc(['agent', '--server', url, '--ca-file', f('ca.pem'), '--name', 'tls-1', '--state-dir', f('agent-1'), '--heartbeat', '500ms'], {
        SLUICE_ENROLL_TOKEN: ENROLL_TOKEN,
      }),
    );
    const wrong = startProc(['agent', '--server', url, '--ca-file', f('other-ca.pem'), '--name', 'tls-2', '--state-dir', f('agent-2'), '--heartbeat', '500ms'], {
      SLUICE_ENROLL_TOKEN: ENROLL_TOKEN,
    });
    agents.push(wrong);
    await waitFor(
      'tls-1 online',
      async () => {
        const hosts = JSON.parse((await httpsGet(`${url}/v1/hosts`)).body).hosts as { name: string; status: string }[];
        return hosts.some((h) => h.name === 'tls-1' && h.status === 'online');
      },
      20_000,
      200,
    );
    await waitFor('the refusal in the log of tls-2', () => /POST \/v1\/agent\/enroll: TLS: the certificate of 127\.0\.0\.1:\d+ is not signed by a trusted CA.*enrollment failed/.test(wrong.output()), 20_000, 100);
    const hosts = JSON.parse((await httpsGet(`${url}/v1/hosts`)).body).hosts as { name: string }[];
    expect(hosts.map((h) => h.name)).not.toContain('tls-2');
    expect(wrong.output()).not.toMatch(/\n\s+at /);
  }, 60_000);

  it('SIGHUP reloads the certificate: new connections see it, open ones and the agent carry on; a bad pair keeps the old one', async () => {
    expect(await presentedSerial(port)).toBe('1001');
    const keepAlive = new (await import('node:https')).Agent({ keepAlive: true, maxSockets: 1, ca: readFileSync(f('ca.pem')) });
    const before = await httpsGet(`${url}/v1/hosts`, keepAlive);
    expect(before.serial).toBe('1001');

    install('b');
    const reloads = (server.output().match(/TLS certificate reloaded/g) ?? []).length;
    server.child.kill('SIGHUP');
    await waitFor('the reload', () => (server.output().match(/TLS certificate reloaded/g) ?? []).length > reloads, 10_000, 50);
    expect(await presentedSerial(port)).toBe('1002');
    // The connection opened before the reload is still there, on its old certificate.
    const onOld = await httpsGet(`${url}/v1/hosts`, keepAlive);
    expect(onOld.status).toBe(200);
    expect(onOld.serial).toBe('1001');
    keepAlive.destroy();
    // The agent reconnects for each request: it goes on heartbeating under the new certificate.
    const seen = (JSON.parse((await httpsGet(`${url}/v1/hosts`)).body).hosts as { name: string; lastSeen: number }[]).find((h) => h.name === 'tls-1')!.lastSeen;
    await waitFor(
      'a heartbeat of tls-1 under the new certificate',
      async () => (JSON.parse((await httpsGet(`${url}/v1/hosts`)).body).hosts as { name: string; lastSeen: number }[]).find((h) => h.name === 'tls-1')!.lastSeen > seen,
      10_000,
      200,
    );

    // A broken certificate file: logged, and the server keeps the one it has.
    writeFileSync(f('server.crt'), 'not a certificate\n');
    server.child.kill('SIGHUP');
    await waitFor('the failed reload', () => /TLS certificate reload failed/.test(server.output()), 10_000, 50);
    expect(await presentedSerial(port)).toBe('1002');
    expect(server.child.exitCode).toBe(null);
    const ok = await runCli(['hosts', '--server', url, '--ca-file', f('ca.pem')], { SLUICE_TOKEN: ADMIN_TOKEN }, 30_000);
    expect(ok.code).toBe(0);
  }, 60_000);

  it('a certificate for another name is refused', async () => {
    install('wrong-name');
    const reloads = (server.output().match(/TLS certificate reloaded/g) ?? []).length;
    server.child.kill('SIGHUP');
    await waitFor('the reload', () => (server.output().match(/TLS certificate reloaded/g) ?? []).length > reloads, 10_000, 50);
    expect(await presentedSerial(port)).toBe('1003');
    const refused = await runCli(['hosts', '--server', url, '--ca-file', f('ca.pem')], { SLUICE_TOKEN: ADMIN_TOKEN }, 30_000);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(new RegExp(`TLS: the certificate of 127\\.0\\.0\\.1:${port} is not issued for this host name`));
    expect(refused.stderr).not.toMatch(/\n\s+at /);
  }, 60_000);

  it('a missing certificate file is a flag error at start (exit 2), and plain HTTP beyond loopback warns', async () => {
    const bad = await runCli(['server', '--listen', '127.0.0.1:0', '--data-dir', f('data-bad'), '--tls-cert', f('nope.crt'), '--tls-key', f('server.key')], {}, 30_000);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--tls-cert .*nope\.crt: no such file/);
    const half = await runCli(['server', '--listen', '127.0.0.1:0', '--data-dir', f('data-bad'), '--tls-cert', f('server.crt')], {}, 30_000);
    expect(half.code).toBe(2);
    expect(half.stderr).toMatch(/--tls-cert and --tls-key go together/);

    const plain = startProc(['server', '--listen', '0.0.0.0:0', '--data-dir', f('data-plain')], { SLUICE_ADMIN_TOKEN: ADMIN_TOKEN, SLUICE_ENROLL_TOKEN: ENROLL_TOKEN });
    try {
      await waitFor('the warning', () => /without TLS/.test(plain.output()), 30_000, 50);
    } finally {
      await plain.kill();
    }
  }, 60_000);
});

describe('replicas over TLS', () => {
  let db: PostgresTestDatabase | null = null;
  const replicas: Proc[] = [];

  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.kill()));
    await db?.cleanup();
  });

  async function startReplica(name: string, peerCa: boolean): Promise<{ proc: Proc; url: string }> {
    const proc = startProc(
      [
        'server', '--listen', '127.0.0.1:0', '--data-dir', f(name),
        '--tls-cert', f('b.crt'), '--tls-key', f('b.key'),
        ...(peerCa ? ['--peer-ca-file', f('ca.pem')] : []),
      ],
      { SLUICE_ADMIN_TOKEN: ADMIN_TOKEN, SLUICE_ENROLL_TOKEN: ENROLL_TOKEN, SLUICE_DATABASE_URL: db!.url },
    );
    replicas.push(proc);
    const url = await waitFor(
      `${name} to listen on https`,
      () => {
        if (proc.child.exitCode !== null) throw new Error(`${name} exited: ${proc.output()}`);
        return /listening on (https:\/\/127\.0\.0\.1:\d+)/.exec(proc.output())?.[1] ?? null;
      },
      30_000,
      50,
    );
    return { proc, url };
  }

  const role = async (url: string) => JSON.parse((await httpsCall('GET', `${url}/v1/health`)).body) as { role: string; leader: { url: string } | null };

  it('a follower forwards rollout commands to the leader over https with --peer-ca-file; without the CA it answers 503 and says why', async (ctx) => {
    db = await postgresTestDatabase();
    if (db === null) return ctx.skip();
    const one = await startReplica('r1', true);
    const two = await startReplica('r2', true);
    const { leader, follower } = await waitFor(
      'one leader followed by the other',
      async () => {
        const [h1, h2] = await Promise.all([role(one.url), role(two.url)]);
        if (h1.role === 'leader' && h2.role === 'follower' && h2.leader?.url === one.url) return { leader: one, follower: two };
        if (h2.role === 'leader' && h1.role === 'follower' && h1.leader?.url === two.url) return { leader: two, follower: one };
        return null;
      },
      30_000,
      100,
    );
    expect(leader.url.startsWith('https://')).toBe(true);
    const plan = 'name: via-tls-follower\nchange:\n  command: { apply: ["true"] }\nwaves:\n  - { name: all }\nconfirmWindow: 0s\n';
    const started = await httpsCall('POST', `${follower.url}/v1/rollouts`, { plan });
    expect(started.status, started.body).toBeLessThan(300);
    const { id } = JSON.parse(started.body) as { id: string };
    expect((await httpsCall('GET', `${leader.url}/v1/rollouts/${id}`)).status).toBe(200);

    // A follower that does not trust the leader's CA: a clear 503, and the reason in its log.
    const blind = await startReplica('r3', false);
    await waitFor('r3 to follow', async () => (await role(blind.url)).role === 'follower', 30_000, 100);
    const refused = await httpsCall('POST', `${blind.url}/v1/rollouts`, { plan });
    expect(refused.status).toBe(503);
    await waitFor('the reason in the log', () => /forwarding to the leader failed/.test(blind.proc.output()), 5000, 50);
    expect(blind.proc.output()).toMatch(/TLS: the certificate of 127\.0\.0\.1:\d+ is (not signed by a trusted CA|signed by a CA that is not trusted here)/);
  }, 90_000);
});

describe('the connection guard under TLS', () => {
  it('at the cap, a connection that sent a request over TLS is kept and the idle one (no request) is evicted', async () => {
    const running = await startServer({
      listen: '127.0.0.1:0',
      memory: true,
      log: silentLogger(),
      adminToken: ADMIN_TOKEN,
      enrollToken: ENROLL_TOKEN,
      tls: { certFile: f('b.crt'), keyFile: f('b.key') },
      connections: { maxConnections: 2 },
      retainFinishedMs: null,
    });
    const sockets: TLSSocket[] = [];
    try {
      const p = Number(new URL(running.url).port);
      const open = () =>
        new Promise<TLSSocket>((resolve, reject) => {
          const s = tlsConnect({ host: '127.0.0.1', port: p, ca: readFileSync(f('ca.pem')) }, () => resolve(s));
          s.on('error', reject);
          sockets.push(s);
        });
      const ask = (s: TLSSocket) =>
        new Promise<string>((resolve) => {
          let got = '';
          const onData = (c: Buffer) => {
            got += c.toString();
            if (/\r\n\r\n[\s\S]*ok/.test(got)) {
              s.off('data', onData);
              resolve(got);
            }
          };
          s.on('data', onData);
          s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
        });
      const active = await open();
      expect(await ask(active)).toMatch(/^HTTP\/1.1 200/);
      const idle = await open(); // handshakes, then never sends a request
      const idleClosed = new Promise<void>((r) => idle.once('close', () => r()));
      await new Promise((r) => setTimeout(r, 1200)); // older than EVICT_AFTER_MS
      await open(); // the third, at the cap of 2
      await idleClosed;
      // The connection that had sent a request is still open and answers.
      expect(active.destroyed).toBe(false);
      expect(await ask(active)).toMatch(/^HTTP\/1.1 200/);
    } finally {
      for (const s of sockets) s.destroy();
      await running.close();
    }
  }, 30_000);
});

// Secrets stay out of `ps`: the server, an agent and CLI commands that take their tokens from files
// or the environment have none of them on their command line (/proc/PID/cmdline, readable by every
// user), and none in the server's or the agent's log. `--token` still works, with a warning.
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProc, tempDir, waitFor, type Proc } from './helpers/processes.ts';

const ADMIN = 'sla_ps_admin_secret_0123456789abcdef';
const ENROLL = 'sle_ps_enroll_secret_0123456789abcdef';

const tmp = tempDir('secrets-ps');
const f = (name: string) => join(tmp.path, name);
const procs: Proc[] = [];

function cmdline(pid: number): string {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
}

async function adminGet(url: string, path: string): Promise<any> {
  const res = await fetch(url + path, { headers: { authorization: `Bearer ${ADMIN}` }, signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new Error(`GET ${path} -> ${res.status}`);
  return res.json();
}

let server: Proc;
let url = '';

beforeAll(async () => {
  writeFileSync(f('admin.token'), `${ADMIN}\n`, { mode: 0o600 });
  writeFileSync(f('enroll.token'), `${ENROLL}\n`, { mode: 0o600 });
  server = startProc(['server', '--listen', '127.0.0.1:0', '--data-dir', f('data')], {
    SLUICE_ADMIN_TOKEN_FILE: f('admin.token'),
    SLUICE_ENROLL_TOKEN_FILE: f('enroll.token'),
    SLUICE_LOG_LEVEL: 'debug',
  });
  procs.push(server);
  url = await waitFor(
    'the server to listen',
    () => {
      if (server.child.exitCode !== null) throw new Error(`server exited: ${server.output()}`);
      return /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(server.output())?.[1] ?? null;
    },
    30_000,
    50,
  );
}, 60_000);

afterAll(async () => {
  await Promise.all(procs.map((p) => p.kill()));
  tmp.remove();
});

describe('secrets out of ps', () => {
  it('the server reads its tokens from files; the agent its enrollment token from --config and from --enroll-token-file', async () => {
    expect(cmdline(server.child.pid!)).not.toContain(ADMIN);
    // The banner names the files, never the tokens.
    expect(server.output()).toContain(f('enroll.token'));

    const config = f('agent.env');
    writeFileSync(config, `SLUICE_SERVER=${url}\nSLUICE_ENROLL_TOKEN=${ENROLL}\nSLUICE_HEARTBEAT=500ms\n`);
    chmodSync(config, 0o600);
    const viaConfig = startProc(['agent', '--config', config, '--name', 'ps-1', '--state-dir', f('agent-1')]);
    const viaFile = startProc(['agent', '--server', url, '--enroll-token-file', f('enroll.token'), '--name', 'ps-2', '--state-dir', f('agent-2'), '--heartbeat', '500ms']);
    const viaEnvFile = startProc(['agent', '--server', url, '--name', 'ps-3', '--state-dir', f('agent-3'), '--heartbeat', '500ms'], { SLUICE_ENROLL_TOKEN_FILE: f('enroll.token') });
    const agents = [viaConfig, viaFile, viaEnvFile];
    procs.push(...agents);
    await waitFor(
      'three agents online',
      async () => ((await adminGet(url, '/v1/hosts')).hosts as { name: string; status: string }[]).filter((h) => h.status === 'online').length === 3,
      30_000,
      200,
    );
    const credentials = await waitFor(
      'the credentials on disk',
      () => [1, 2, 3].map((i) => (JSON.parse(readFileSync(f(`agent-${i}/credential.json`), 'utf8')) as { credential: string }).credential),
      10_000,
      100,
    );
    for (const agent of agents) {
      const line = cmdline(agent.child.pid!);
      expect(line).toContain('agent');
      expect(line).not.toContain(ENROLL);
      for (const c of credentials) expect(line).not.toContain(c);
      expect(agent.output()).not.toContain(ENROLL);
      expect(agent.output()).not.toMatch(/warning: --token/);
    }
    for (const secret of [ADMIN, ENROLL, ...credentials]) expect(server.output()).not.toContain(secret);
  }, 60_000);

  it('the CLI reads the admin token from SLUICE_TOKEN_FILE, --token-file or SLUICE_TOKEN: none of them on its command line; --token warns', async () => {
    // A server that holds each request until the test has read the CLI's command line.
    let release: (() => void) | null = null;
    const seen: string[] = [];
    let arrived: (() => void) | null = null;
    let holding = false;
    const hold = createServer((req: IncomingMessage, res: ServerResponse) => {
      seen.push(req.headers.authorization ?? '');
      const answer = () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(req.url?.startsWith('/v1/hosts/summary') ? { total: 0, online: 0, offline: 0 } : { hosts: [], nextCursor: null }));
      };
      if (holding) return answer();
      holding = true; // the first request of each run waits for the test
      release = answer;
      arrived?.();
    });
    await new Promise<void>((r) => hold.listen(0, '127.0.0.1', () => r()));
    const holdUrl = `http://127.0.0.1:${(hold.address() as AddressInfo).port}`;
    try {
      const cases: { args: string[]; env: Record<string, string>; warns: boolean }[] = [
        { args: [], env: { SLUICE_TOKEN_FILE: f('admin.token') }, warns: false },
        { args: ['--token-file', f('admin.token')], env: {}, warns: false },
        { args: [], env: { SLUICE_TOKEN: ADMIN }, warns: false },
        { args: ['--token', ADMIN], env: {}, warns: true },
      ];
      for (const c of cases) {
        holding = false;
        const got = new Promise<void>((r) => (arrived = r));
        const cli = startProc(['hosts', '--server', holdUrl, ...c.args], { SLUICE_TOKEN: '', SLUICE_TOKEN_FILE: '', ...c.env });
        procs.push(cli);
        await Promise.race([got, cli.exited.then((code) => Promise.reject(new Error(`the CLI exited (${code}) early: ${cli.output()}`)))]);
        const line = cmdline(cli.child.pid!);
        expect(line).toContain('hosts');
        if (c.warns) expect(line).toContain(ADMIN); // the case the warning is about
        else expect(line).not.toContain(ADMIN);
        release!();
        expect(await cli.exited, cli.output()).toBe(0);
        expect(seen.at(-1)).toBe(`Bearer ${ADMIN}`);
        if (c.warns) expect(cli.output()).toMatch(/warning: --token puts the admin token on the command line, where other users see it in ps/);
        else expect(cli.output()).not.toMatch(/warning/);
        // The warning never repeats the token.
        const warning = cli.output().split('\n').find((l) => l.startsWith('warning')) ?? '';
        expect(warning).not.toContain(ADMIN);
      }
    } finally {
      await new Promise<void>((r) => hold.close(() => r()));
    }
  }, 60_000);

  it('an agent given --token still runs, and warns that ps shows it', async () => {
    const agent = startProc(['agent', '--server', url, '--token', ENROLL, '--name', 'ps-4', '--state-dir', f('agent-4'), '--heartbeat', '500ms']);
    procs.push(agent);
    await waitFor('the warning', () => /warning: --token puts the enrollment token on the command line/.test(agent.output()), 20_000, 50);
    await waitFor(
      'ps-4 online',
      async () => ((await adminGet(url, '/v1/hosts')).hosts as { name: string; status: string }[]).some((h) => h.name === 'ps-4' && h.status === 'online'),
      20_000,
      200,
    );
  }, 60_000);
});

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAgentConfig } from './agent-config.ts';
import { ValidationError } from '../core/errors.ts';
import { enrollmentToken, parseAgentFlags, parseAllowFlag, parseLabelsFlag, registerAgentCommand } from './agent-command.ts';
import { runCli } from './run-cli.ts';
import { createTestIo } from './test-io.ts';

describe('sluice agent flags', () => {
  it('reads server and token from the environment when not given, with safe defaults', () => {
    const opts = parseAgentFlags({}, { SLUICE_SERVER: 'http://10.0.0.5:7400/', SLUICE_TOKEN: 'sle_x' }, 'box-1');
    expect(opts).toMatchObject({
      server: 'http://10.0.0.5:7400',
      token: 'sle_x',
      name: 'box-1',
      labels: {},
      allow: [],
      heartbeatMs: 5000,
      fileDirs: [],
      root: '/',
    });
    expect(opts.stateDir).toMatch(/\.sluice-agent$/);
  });

  it('flags win over the environment', () => {
    const opts = parseAgentFlags(
      { server: 'https://a', token: 't', name: 'n', labels: 'env=prod,zone=a', allow: 'command,apt', heartbeat: '2s', fileDir: ['/etc/x'] },
      { SLUICE_SERVER: 'http://b', SLUICE_TOKEN: 'u' },
    );
    expect(opts).toMatchObject({ server: 'https://a', token: 't', labels: { env: 'prod', zone: 'a' }, allow: ['command', 'apt'], heartbeatMs: 2000, fileDirs: ['/etc/x'] });
  });

  it.each([
    [{}, /--server URL \(or SLUICE_SERVER\) is required/],
    [{ server: 'ftp://x' }, /http: or https:/],
    [{ server: 'http://x', allow: 'command,shell' }, /unknown kind "shell"/],
    [{ server: 'http://x', labels: 'env' }, /"env" is not key=value/],
    [{ server: 'http://x', labels: 'a=1,a=2' }, /"a" is given twice/],
    [{ server: 'http://x', heartbeat: '5' }, /--heartbeat "5"/],
    [{ server: 'http://x', name: 'bad name' }, /--name "bad name"/],
  ])('rejects %j', (flags, message) => {
    expect(() => parseAgentFlags(flags, {}, 'h')).toThrow(ValidationError);
    expect(() => parseAgentFlags(flags, {}, 'h')).toThrow(message);
  });

  it('reads the enrollment token from SLUICE_ENROLL_TOKEN; SLUICE_TOKEN still works, with a deprecation warning', () => {
    const warnings: string[] = [];
    const warn = (m: string) => warnings.push(m);
    expect(enrollmentToken(undefined, { SLUICE_ENROLL_TOKEN: 'sle_new', SLUICE_TOKEN: 'sla_admin' }, warn)).toBe('sle_new');
    expect(enrollmentToken('sle_flag', { SLUICE_ENROLL_TOKEN: 'sle_new' }, warn)).toBe('sle_flag');
    expect(enrollmentToken(undefined, {}, warn)).toBeUndefined();
    expect(warnings).toEqual([]);
    expect(enrollmentToken(undefined, { SLUICE_TOKEN: 'sle_old' }, warn)).toBe('sle_old');
    expect(warnings).toEqual([expect.stringMatching(/^SLUICE_TOKEN as the agent's enrollment token is deprecated: set SLUICE_ENROLL_TOKEN/)]);
  });

  it.each([
    ['SLUICE_ENROLL_TOKEN', undefined, { SLUICE_ENROLL_TOKEN: 'sle_0123456789   # the enrollment token' }],
    ['SLUICE_TOKEN', undefined, { SLUICE_TOKEN: 'sle_0123456789\tx' }],
    ['--token', 'sle_0123 456789', {}],
  ])('refuses a token with whitespace, naming %s', (source, flag, env) => {
    const parse = () => parseAgentFlags({ server: 'http://x', ...(flag !== undefined ? { token: flag } : {}) }, env, 'h');
    expect(parse).toThrow(ValidationError);
    expect(parse).toThrow(new RegExp(`^${source} contains whitespace .*: tokens never do. In a systemd EnvironmentFile`));
    // The message shows the comment, never the whole token.
    expect(parse).not.toThrow(/0123456789/);
  });

  it('reads the enrollment token from --enroll-token-file or SLUICE_ENROLL_TOKEN_FILE, and the CA from --ca-file or SLUICE_CA_FILE', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-agent-flags-'));
    try {
      writeFileSync(join(dir, 'enroll.token'), 'sle_from_file\n');
      writeFileSync(join(dir, 'ca.pem'), '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
      writeFileSync(join(dir, 'empty'), '\n');
      const a = parseAgentFlags({ server: 'https://s:7400', enrollTokenFile: join(dir, 'enroll.token'), caFile: join(dir, 'ca.pem') }, {});
      expect(a.token).toBe('sle_from_file');
      expect(a.ca).toContain('BEGIN CERTIFICATE');
      const b = parseAgentFlags({ server: 'https://s:7400' }, { SLUICE_ENROLL_TOKEN_FILE: join(dir, 'enroll.token'), SLUICE_CA_FILE: join(dir, 'ca.pem') });
      expect(b.token).toBe('sle_from_file');
      expect(b.ca).toContain('BEGIN CERTIFICATE');
      // SLUICE_ENROLL_TOKEN, the token itself, wins over the file variable.
      expect(parseAgentFlags({ server: 'https://s' }, { SLUICE_ENROLL_TOKEN: 'sle_env', SLUICE_ENROLL_TOKEN_FILE: join(dir, 'enroll.token') }).token).toBe('sle_env');
      expect(() => parseAgentFlags({ server: 'https://s', enrollTokenFile: join(dir, 'nope') }, {})).toThrow(/--enroll-token-file .*nope: no such file/);
      expect(() => parseAgentFlags({ server: 'https://s', enrollTokenFile: join(dir, 'empty') }, {})).toThrow(/the file is empty/);
      expect(() => parseAgentFlags({ server: 'https://s', caFile: join(dir, 'enroll.token') }, {})).toThrow(/--ca-file .*: no PEM certificate/);
      const warnings: string[] = [];
      parseAgentFlags({ server: 'http://s', caFile: join(dir, 'ca.pem') }, {}, 'h', (m) => warnings.push(m));
      expect(warnings.join()).toMatch(/only used with an https server/);
      // The config file's keys.
      expect(parseAgentConfig('SLUICE_CA_FILE=/etc/sluice/ca.pem\nSLUICE_ENROLL_TOKEN_FILE=/etc/sluice/enroll.token\n', 'agent.env')).toEqual({
        caFile: '/etc/sluice/ca.pem',
        enrollTokenFile: '/etc/sluice/enroll.token',
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('parses --allow and --labels', () => {
    expect(parseAllowFlag('none')).toEqual([]);
    expect(parseAllowFlag('file, command,file')).toEqual(['file', 'command']);
    expect(parseAllowFlag('apt,command-check')).toEqual(['apt', 'command-check']);
    expect(parseLabelsFlag('k8s.io/role=node,empty=')).toEqual({ 'k8s.io/role': 'node', empty: '' });
  });

  it('exits 2 with a clear message for an unknown --allow kind', async () => {
    const io = createTestIo();
    const code = await runCli(['agent', '--server', 'http://127.0.0.1:1', '--allow', 'rpm'], io, registerAgentCommand);
    expect(code).toBe(2);
    expect(io.stderr.text).toContain('unknown kind "rpm" (known: command, apt, file, command-check, reboot)');
  });

  it('explains --allow in its help', async () => {
    const io = createTestIo();
    const code = await runCli(['agent', '--help'], io, registerAgentCommand);
    expect(code).toBe(0);
    expect(io.stdout.text).toMatch(/defaults to none/);
    expect(io.stdout.text).toMatch(/command-check +a plan's `command` checks only/);
    expect(io.stdout.text).toMatch(/Built-in checks \(tcp, http, systemdUnitActive, ipRulesPreserved, routesPreserved\) always run/);
  });
});

describe('--rotate-every', () => {
  const base = { server: 'http://10.0.0.5:7400' };
  it('takes a duration of at least 1m, or never (0)', () => {
    expect(parseAgentFlags({ ...base, rotateEvery: '12h' }, {}, 'h').rotateEveryMs).toBe(12 * 3_600_000);
    expect(parseAgentFlags({ ...base, rotateEvery: 'never' }, {}, 'h').rotateEveryMs).toBe(0);
    expect(parseAgentFlags(base, {}, 'h').rotateEveryMs).toBeUndefined(); // the agent's default, 24h
    for (const bad of ['10s', 'soon']) expect(() => parseAgentFlags({ ...base, rotateEvery: bad }, {}, 'h')).toThrow(/--rotate-every/);
  });
});

// `sluice agent`: runs the host agent until SIGINT/SIGTERM. Flags are validated here, once, into
// AgentOptions; a bad flag is a ValidationError (exit 2) before anything starts.
import { HOST_NAME, LABEL_KEY } from '../core/labels.ts';
import type { Command } from 'commander';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { ValidationError } from '../core/errors.ts';
import { parseDuration } from '../core/plan/duration.ts';
import { ALLOW_KINDS, isAllowKind, type AllowKind } from '../core/allow-kinds.ts';
import type { AgentOptions } from '../agent/agent.ts';
import { normalizeServerUrl } from '../agent/server-url.ts';
import { DEFAULT_REBOOT_COMMAND, DEFAULT_REBOOT_REQUIRED_FILE } from '../agent/reboot-defaults.ts';
import type { DriftGuardOptions } from '../agent/drift-guard.ts';
import { mergeAgentFlags, parseAgentConfig } from './agent-config.ts';
import { readCaFile } from '../core/tls-trust.ts';
import { readSecretFile } from '../core/secret-file.ts';

export interface AgentFlags {
  readonly server?: string;
  readonly token?: string;
  readonly enrollTokenFile?: string;
  readonly caFile?: string;
  readonly name?: string;
  readonly labels?: string;
  readonly allow?: string;
  readonly stateDir?: string;
  readonly heartbeat?: string;
  readonly fileDir?: readonly string[];
  readonly root?: string;
  readonly config?: string;
  readonly drift?: string;
  readonly driftNetworkd?: boolean;
  readonly driftInterval?: string;
  readonly driftRouting?: string;
  readonly rotateEvery?: string;
  readonly rebootCommand?: string;
  readonly rebootRequiredFile?: string;
}

/** `--reboot-command`: a JSON argv list (["systemctl", "reboot"]) or words split on spaces. */
export function parseRebootCommand(text: string): string[] {
  let argv: unknown;
  if (text.trim().startsWith('[')) {
    try {
      argv = JSON.parse(text);
    } catch {
      throw new ValidationError(`--reboot-command: not a JSON list: ${text}`);
    }
  } else {
    argv = text.trim().split(/\s+/).filter(Boolean);
  }
  if (!Array.isArray(argv) || argv.length === 0 || !argv.every((a) => typeof a === 'string' && a !== '' && !a.includes('\0'))) {
    throw new ValidationError('--reboot-command must be a command, e.g. "systemctl reboot" or ["/sbin/shutdown", "-r", "now"]');
  }
  return argv as string[];
}


/** "env=prod,zone=a" -> {env: 'prod', zone: 'a'} */
export function parseLabelsFlag(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  if (text.trim() === '') return labels;
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    const key = eq < 0 ? part : part.slice(0, eq);
    const value = eq < 0 ? '' : part.slice(eq + 1);
    if (eq < 0) throw new ValidationError(`--labels: "${part}" is not key=value (e.g. --labels env=prod,zone=a)`);
    if (!LABEL_KEY.test(key)) throw new ValidationError(`--labels: key "${key}" must be 1-63 characters of A-Z a-z 0-9 . _ / -`);
    if (value.length > 253) throw new ValidationError(`--labels: the value of "${key}" is longer than 253 characters`);
    if (key in labels) throw new ValidationError(`--labels: "${key}" is given twice`);
    labels[key] = value;
  }
  return labels;
}

/** "command,apt" -> ['command', 'apt']; "" or "none" -> []. Unknown kinds are an error. */
export function parseAllowFlag(text: string): AllowKind[] {
  const trimmed = text.trim();
  if (trimmed === '' || trimmed === 'none') return [];
  const kinds: AllowKind[] = [];
  for (const raw of trimmed.split(',')) {
    const kind = raw.trim();
    if (!isAllowKind(kind)) {
      throw new ValidationError(`--allow: unknown kind "${kind}" (known: ${ALLOW_KINDS.join(', ')})`);
    }
    if (!kinds.includes(kind)) kinds.push(kind);
  }
  return kinds;
}

/** --drift, --drift-networkd, --drift-interval -> the drift guard's options (docs/drift.md). */
export function parseDriftFlags(flags: Pick<AgentFlags, 'drift' | 'driftNetworkd' | 'driftInterval' | 'driftRouting'>): DriftGuardOptions {
  const policy = flags.drift ?? 'report';
  if (policy !== 'report' && policy !== 'enforce') throw new ValidationError(`--drift must be report or enforce, got "${policy}"`);
  if (flags.driftNetworkd === true && policy !== 'enforce') throw new ValidationError('--drift-networkd needs --drift enforce');
  let intervalMs = 60_000;
  if (flags.driftInterval !== undefined) {
    const ms = parseDuration(flags.driftInterval);
    if (ms === null || ms < 1000) throw new ValidationError(`--drift-interval "${flags.driftInterval}" must be a duration of at least 1s, e.g. 60s`);
    intervalMs = ms;
  }
  const routing = flags.driftRouting;
  if (routing !== undefined && routing !== 'on' && routing !== 'off') throw new ValidationError(`--drift-routing must be on or off, got "${routing}"`);
  return {
    policy,
    intervalMs,
    ...(flags.driftNetworkd === true ? { networkd: true } : {}),
    ...(routing !== undefined ? { routing: routing === 'on' } : {}),
  };
}

/**
 * The enrollment token: --token, else SLUICE_ENROLL_TOKEN, else (deprecated, with a warning) the
 * agent's old SLUICE_TOKEN, which is also the CLI's admin token variable. A token with whitespace
 * is refused, naming where it came from: tokens never contain any, and the usual cause is a comment
 * on the same line in a systemd EnvironmentFile, which systemd keeps as part of the value.
 */
export function enrollmentToken(
  flag: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
  warn: (message: string) => void = () => {},
  tokenFile?: string,
): string | undefined {
  let token: string | undefined;
  let source: string;
  const envFile = env['SLUICE_ENROLL_TOKEN_FILE'];
  if (flag !== undefined) {
    token = flag;
    source = '--token';
  } else if (tokenFile !== undefined) {
    token = readSecretFile(tokenFile, '--enroll-token-file');
    source = `--enroll-token-file ${tokenFile}`;
  } else if (env['SLUICE_ENROLL_TOKEN'] !== undefined && env['SLUICE_ENROLL_TOKEN'] !== '') {
    token = env['SLUICE_ENROLL_TOKEN'];
    source = 'SLUICE_ENROLL_TOKEN';
  } else if (envFile !== undefined && envFile !== '') {
    token = readSecretFile(envFile, 'SLUICE_ENROLL_TOKEN_FILE');
    source = `SLUICE_ENROLL_TOKEN_FILE ${envFile}`;
  } else if (env['SLUICE_TOKEN'] !== undefined && env['SLUICE_TOKEN'] !== '') {
    token = env['SLUICE_TOKEN'];
    source = 'SLUICE_TOKEN';
    warn('SLUICE_TOKEN as the agent\'s enrollment token is deprecated: set SLUICE_ENROLL_TOKEN instead (SLUICE_TOKEN is the CLI\'s admin token)');
  } else {
    return undefined;
  }
  if (token === '') throw new ValidationError(`${source} is empty`);
  if (/\s/.test(token)) {
    throw new ValidationError(
      `${source} contains whitespace (${JSON.stringify(token.replace(/^(.{6}).*?(\s.*)?$/s, '$1...$2'))}): tokens never do. ` +
        'In a systemd EnvironmentFile (agent.env) everything after "=" is the value, so a comment on the same line becomes part of the token: put comments on their own line',
    );
  }
  return token;
}

/** Flags and environment -> AgentOptions. Throws ValidationError for anything wrong; `warn` hears deprecations. */
export function parseAgentFlags(
  flags: AgentFlags,
  env: Readonly<Record<string, string | undefined>>,
  defaultName: string = hostname(),
  warn: (message: string) => void = () => {},
): AgentOptions {
  const server = flags.server ?? env['SLUICE_SERVER'];
  if (!server) throw new ValidationError('--server URL (or SLUICE_SERVER) is required, e.g. --server http://127.0.0.1:7400');
  let serverUrl: string;
  try {
    serverUrl = normalizeServerUrl(server);
  } catch (err) {
    throw new ValidationError(`--server: ${(err as Error).message}`);
  }
  const token = enrollmentToken(flags.token, env, warn, flags.enrollTokenFile);
  const caFile = flags.caFile ?? (env['SLUICE_CA_FILE'] || undefined);
  const ca = caFile === undefined ? undefined : readCaFile(caFile, '--ca-file');
  if (ca !== undefined && !serverUrl.startsWith('https:')) warn(`--ca-file is only used with an https server; ${serverUrl} is plain HTTP`);
  const name = flags.name ?? defaultName;
  if (!HOST_NAME.test(name)) throw new ValidationError(`--name "${name}" must be 1-253 characters of A-Z a-z 0-9 . _ -`);
  let heartbeatMs = 5000;
  if (flags.heartbeat !== undefined) {
    const ms = parseDuration(flags.heartbeat);
    if (ms === null || ms < 100) throw new ValidationError(`--heartbeat "${flags.heartbeat}" must be a duration of at least 100ms, e.g. 5s`);
    heartbeatMs = ms;
  }
  let rotateEveryMs: number | undefined;
  if (flags.rotateEvery !== undefined) {
    const ms = flags.rotateEvery === '0' || flags.rotateEvery === 'never' ? 0 : parseDuration(flags.rotateEvery);
    if (ms === null || (ms !== 0 && ms < 60_000)) throw new ValidationError(`--rotate-every "${flags.rotateEvery}" must be a duration of at least 1m (e.g. 24h), or never`);
    rotateEveryMs = ms;
  }
  const fileDirs = (flags.fileDir ?? []).map((d) => {
    if (d === '') throw new ValidationError('--file-dir must not be empty');
    return resolve(d);
  });
  return {
    server: serverUrl,
    ...(token ? { token } : {}),
    ...(ca !== undefined ? { ca } : {}),
    name,
    labels: parseLabelsFlag(flags.labels ?? ''),
    allow: parseAllowFlag(flags.allow ?? ''),
    stateDir: resolve(flags.stateDir ?? './.sluice-agent'),
    heartbeatMs,
    ...(rotateEveryMs !== undefined ? { rotateEveryMs } : {}),
    fileDirs,
    ...(flags.rebootCommand !== undefined || flags.rebootRequiredFile !== undefined
      ? {
          reboot: {
            command: flags.rebootCommand !== undefined ? parseRebootCommand(flags.rebootCommand) : [...DEFAULT_REBOOT_COMMAND],
            requiredFile: resolve(flags.rebootRequiredFile ?? DEFAULT_REBOOT_REQUIRED_FILE),
          },
        }
      : {}),
    root: resolve(flags.root ?? '/'),
    drift: parseDriftFlags(flags),
  };
}

export function registerAgentCommand(program: Command): void {
  const agent = program.command('agent');
  agent
    .description('Run the Sluice agent on this host: enroll, heartbeat, apply the changes it is allowed to run, report.')
    .option('--config <file>', 'read settings from this file (KEY=VALUE lines, e.g. /etc/sluice/agent.env); flags given here win')
    .option('--server <url>', 'the Sluice server (env: SLUICE_SERVER)')
    .option('--enroll-token-file <file>', 'read the enrollment token from this file; needed until the agent has a credential (env: SLUICE_ENROLL_TOKEN_FILE, or the token itself in SLUICE_ENROLL_TOKEN)')
    .option('--token <token>', 'the enrollment token itself: visible to other users in ps, prefer --enroll-token-file or --config')
    .option('--ca-file <file>', "CA certificate(s), PEM, that an https server's certificate must chain to (default: the public roots Node trusts, plus NODE_EXTRA_CA_CERTS) (env: SLUICE_CA_FILE)")
    .option('--name <name>', 'host name (default: this machine\'s hostname)')
    .option('--labels <k=v,...>', 'host labels, e.g. env=prod,provider=aws,region=eu-west-1,zone=a')
    .option('--allow <kinds>', 'what this agent may run: comma list of command,apt,file (changes), command-check (a plan\'s command checks; implied by command) and reboot (a plan\'s reboot: and its hooks) (default: none)')
    .option('--state-dir <dir>', 'where the credential, step journal and outbox live, mode 0700 (default: ./.sluice-agent)')
    .option('--heartbeat <duration>', 'heartbeat interval (default: 5s)')
    .option('--file-dir <dir>', 'a directory `file` changes may write under (repeatable)', (d: string, prev: string[] = []) => [...prev, d])
    .option('--root <dir>', 'root of the filesystem view for package and config reads, for tests (default: /)')
    .option('--drift <policy>', 'drift guard: report (changes outside rollouts are reported) or enforce (also switch unattended-upgrades off, restore vanished rules/routes) (default: report)')
    .option('--drift-networkd', 'with --drift enforce: also stop systemd-networkd managing foreign rules and routes (drop-in)')
    .option('--drift-interval <duration>', 'how often the drift guard looks (default: 60s)')
    .option('--drift-routing <on|off>', "watch this network namespace's routing-policy rules and routes (default: on when --root is /)")
    .option('--reboot-command <command>', 'how this host reboots when a plan says reboot: (needs reboot in --allow) (default: systemctl reboot)')
    .option('--reboot-required-file <file>', 'the file whose presence means a reboot is needed, for reboot: ifRequired (default: /var/run/reboot-required)')
    .option('--rotate-every <duration>', 'rotate the host credential this often, counted from its last write; never: do not (default: 24h)')
    .addHelpText(
      'after',
      `
--allow is the host's own limit on what the server can make it do. It defaults to none, so a
freshly enrolled agent reports facts and runs checks but changes nothing until its owner opts in:
a compromised or mistaken control plane cannot run commands on hosts that never allowed them.
An assignment of a kind that is not allowed is reported as a failed apply; nothing runs.

What each kind covers:
  command        command changes (apply and rollback argv, as root), and command checks
  apt            apt changes (install/remove exact package versions)
  file           file changes (under --file-dir only), with their optional reload argv
  command-check  a plan's \`command\` checks only (argv as root), without command changes
  reboot         a plan's \`reboot:\`: its before/after hooks (argv as root) and rebooting the host
                 with --reboot-command; implied by nothing
Built-in checks (tcp, http, systemdUnitActive, ipRulesPreserved, routesPreserved) always run:
they are code that ships with the agent, not code from the plan. A command check on an agent
that allows neither command nor command-check is not run; it fails with the reason. The agent
reports its --allow in its facts (\`allow\`), so the server leaves it out of plans it cannot run.

Keep the enrollment token off the command line (other users see command lines in ps; --token
still works, with a warning): put SLUICE_ENROLL_TOKEN in the --config file, or the token alone in
a file for --enroll-token-file / SLUICE_ENROLL_TOKEN_FILE, or set SLUICE_ENROLL_TOKEN.
(SLUICE_TOKEN still works for the agent, with a deprecation warning: it is the CLI's admin token.)
The token is only needed to enroll; afterwards the agent uses STATE_DIR/credential.json (0600).
A token containing whitespace is refused (in agent.env, put comments on their own line).

--config FILE: the agent reads the file itself (the package's unit passes /etc/sluice/agent.env):
KEY=VALUE lines, # comments on their own line or after a value, values quoted with "..." to keep
a # or spaces. Keys: SLUICE_SERVER, SLUICE_ENROLL_TOKEN, SLUICE_ENROLL_TOKEN_FILE, SLUICE_CA_FILE, SLUICE_NAME, SLUICE_LABELS, SLUICE_ALLOW,
SLUICE_STATE_DIR, SLUICE_HEARTBEAT, SLUICE_FILE_DIRS (a:b), SLUICE_DRIFT, SLUICE_DRIFT_INTERVAL,
SLUICE_DRIFT_NETWORKD (true|false), SLUICE_DRIFT_ROUTING, SLUICE_ROTATE_EVERY. A mistake is an error naming FILE:LINE.

Examples:
  sluice agent --server http://127.0.0.1:7400 --enroll-token-file .sluice/enroll.token \\
      --labels env=staging,zone=a --allow command
  sluice agent --server https://sluice.internal:7400 --ca-file /etc/sluice/ca.pem \\
      --enroll-token-file /etc/sluice/enroll.token --allow apt,file --file-dir /etc/myapp`,
    )
    .action(async (cliFlags: AgentFlags) => {
      const flags = cliFlags.config === undefined ? cliFlags : await withConfigFile(cliFlags.config, cliFlags);
      // The agent itself loads only when it runs: `sluice --help` and the operator commands never pay for it.
      const [{ startAgent }, { createHostHooks }, { createAgentLog }] = await Promise.all([
        import('../agent/agent.ts'),
        import('../agent/host-hooks.ts'),
        import('../agent/log.ts'),
      ]);
      const log = createAgentLog();
      if (cliFlags.token !== undefined) {
        process.stderr.write('warning: --token puts the enrollment token on the command line, where other users see it in ps: use --enroll-token-file FILE, SLUICE_ENROLL_TOKEN or --config\n');
      }
      const options = parseAgentFlags(flags, process.env, hostname(), (message) => log.warn(message));
      // The token is in options now; nothing the agent starts should find it in the environment.
      delete process.env.SLUICE_ENROLL_TOKEN;
      delete process.env.SLUICE_TOKEN;
      // Facts, the invariant snapshot, preflight and restore on this host (or its --root).
      const { freshFacts, ...hooks } = createHostHooks({ root: options.root ?? '/' });
      // The drift guard reads its facts through the same hooks: one reading serves it and the heartbeat.
      const drift = options.drift ? { ...options.drift, collectFacts: freshFacts } : undefined;
      const agent = await startAgent({ ...options, ...hooks, log, ...(drift ? { drift } : {}) });
      let stopping = false;
      const onSignal = (signal: string) => {
        if (stopping) return;
        stopping = true;
        process.stderr.write(`received ${signal}, stopping the agent (a running change is allowed to finish)\n`);
        void agent.stop();
      };
      process.on('SIGINT', () => onSignal('SIGINT'));
      process.on('SIGTERM', () => onSignal('SIGTERM'));
      await agent.done;
    });
  agent
    .command('rotate')
    .description('Rotate the host credential in the state directory now (POST /v1/agent/rotate); the old one stays valid for the server\'s grace.')
    .option('--state-dir <dir>', 'the agent\'s state directory (default: ./.sluice-agent)')
    .addHelpText(
      'after',
      `
The new credential is written to STATE_DIR/credential.json (atomically, 0600) before it is used.
A running agent keeps its credential in memory: it switches to the new one when the server stops
accepting the old one (at the end of the grace, 10 minutes by default), without re-enrolling.
Run it as the user the agent runs as (the state directory is 0700).`,
    )
    .action(async (_flags: { stateDir?: string }, cmd: Command) => {
      // `agent` has a --state-dir of its own, which commander fills first: read both.
      const flags = cmd.optsWithGlobals() as { stateDir?: string };
      const [{ StateDir }, { AgentClient }, { createAgentLog }] = await Promise.all([
        import('../agent/state-dir.ts'),
        import('../agent/client.ts'),
        import('../agent/log.ts'),
      ]);
      const log = createAgentLog();
      const state = await StateDir.open(resolve(flags.stateDir ?? './.sluice-agent'), log);
      const current = await state.readCredential();
      if (!current) throw new ValidationError(`no host credential in ${state.dir}: the agent has not enrolled yet`);
      const client = new AgentClient({ server: current.server });
      const answer = await client.rotate(current.credential);
      await state.writeCredential({ server: current.server, host: answer.host, credential: answer.credential });
      process.stdout.write(`rotated the credential of ${answer.host} (${current.server}); the previous one stays valid for the server's grace\n`);
    });
}

/** --config FILE read and merged under the command line's flags; unreadable -> ValidationError naming it. */
async function withConfigFile(file: string, cliFlags: AgentFlags): Promise<AgentFlags> {
  const { readFile, stat } = await import('node:fs/promises');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ValidationError(`--config ${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (err as Error).message}`);
  }
  const fromFile = parseAgentConfig(text, file);
  if (fromFile.token !== undefined) {
    const mode = (await stat(file)).mode & 0o777;
    if ((mode & 0o077) !== 0) {
      process.stderr.write(`warning: ${file} holds the enrollment token and is readable by others (mode ${mode.toString(8).padStart(4, '0')}): chmod 0600 ${file}\n`);
    }
  }
  return mergeAgentFlags(fromFile, cliFlags);
}

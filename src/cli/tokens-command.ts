// `sluice tokens create|list|revoke`: named API tokens with a role (viewer, operator, approver,
// admin), for people and systems, so that nobody needs the bootstrap admin token day to day and
// the audit log can say who did what. Admin only.
import type { Command } from 'commander';
import { ValidationError } from '../core/errors.ts';
import type { CliIo } from './io.ts';
import { colorEnabled } from './io.ts';
import { resolveConnection, withConnectionOptions } from './resolve-connection.ts';
import type { ConnectionOptions } from './resolve-connection.ts';


const ROLE_NAMES = ['viewer', 'operator', 'approver', 'remediator', 'admin'] as const;

export interface TokenView {
  readonly id: string;
  readonly name: string;
  readonly owner: string;
  readonly role: string;
  readonly state: 'active' | 'expired' | 'revoked';
  readonly createdAt: number;
  readonly createdBy: string;
  readonly expiresAt: number | null;
  readonly revokedAt: number | null;
  readonly lastUsedAt: number | null;
}

/** `--expires`: a duration (30d, 12h) or a time (ISO 8601), as the API's expiresIn / expiresAt. */
export function expiryField(text: string | undefined): Record<string, string> {
  if (text === undefined) return {};
  if (/^\d+(ms|s|m|h|d)/.test(text)) return { expiresIn: text };
  if (!Number.isFinite(Date.parse(text))) {
    throw new ValidationError(`--expires takes a duration (30d, 12h, 90m) or a time (2027-01-31T00:00:00Z), got "${text}"`);
  }
  return { expiresAt: text };
}

export async function renderTokens(tokens: readonly TokenView[], now: number, color: boolean): Promise<string> {
  if (tokens.length === 0) return 'No named tokens. Create one with: sluice tokens create NAME --role viewer --owner WHO\n';
  const { renderTable } = await import('./render-table.ts');
  const { createPaint } = await import('./render-style.ts');
  const { formatAgo, toIso } = await import('./render-time.ts');
  const paint = createPaint(color);
  const day = (at: number | null) => (at === null ? '-' : (toIso(at) ?? '-').slice(0, 16).replace('T', ' '));
  const rows = [
    ['NAME', 'ROLE', 'OWNER', 'STATE', 'CREATED', 'EXPIRES', 'LAST USED'].map((h) => paint('bold', h)),
    ...tokens.map((t) => [
      t.name,
      t.role,
      t.owner,
      paint(t.state === 'active' ? 'green' : t.state === 'revoked' ? 'red' : 'yellow', t.state),
      `${day(t.createdAt)} by ${t.createdBy}`,
      t.expiresAt === null ? 'never' : day(t.expiresAt),
      formatAgo(t.lastUsedAt, now),
    ]),
  ];
  return renderTable(rows);
}

export function registerTokensCommand(program: Command, io: CliIo): Command {
  const tokens = program
    .command('tokens')
    .description('Named API tokens with a role: create (the secret is shown once), list, revoke. Admin only.')
    .addHelpText(
      'after',
      `
Roles:
  viewer    reads everything (rollouts, hosts, drift, metrics); changes nothing
  operator  viewer, plus start, pause, resume, abort, roll back and retry rollouts
  approver  viewer, plus approve waves (a separate duty: an operator cannot approve)
  admin     everything, plus tokens and the audit log

Only a SHA-256 of each secret is stored: a lost secret cannot be shown again; revoke the token
and create another. A revoked token is refused within a second on every server replica. The
bootstrap admin token (DATA_DIR/admin.token) stays valid; keep it for emergencies.

Examples:
  sluice tokens create alice --role operator --owner alice@example.com --expires 90d
  sluice tokens create ci-read --role viewer --owner ci > ci.token
  sluice tokens list
  sluice tokens revoke alice`,
    );

  withConnectionOptions(tokens.command('create <name>'))
    .description('Create a named token and print its secret (on stdout, alone; shown this once).')
    .requiredOption('--role <role>', `what it may do: ${ROLE_NAMES.join(', ')}`)
    .requiredOption('--owner <who>', 'who it is for: a person (e-mail) or a system; two tokens of one owner count as one person for distinctApprover')
    .option('--expires <when>', 'a duration (30d, 12h) or a time (2027-01-31T00:00:00Z); default: never')
    .option('--json', 'print {token, secret} as JSON instead')
    .addHelpText(
      'after',
      `
The secret goes to stdout and nothing else does, so it can be redirected to a file or a secret
store; the summary goes to stderr. Token names are 1-64 characters of A-Z a-z 0-9 . _ - and stay
taken after a revoke (the audit log names them).

Examples:
  sluice tokens create bob --role approver --owner bob@example.com --expires 30d
  sluice tokens create deploy-bot --role operator --owner ci --json | jq -r .secret`,
    )
    .action(async (name: string, opts: ConnectionOptions & { role: string; owner: string; expires?: string; json?: boolean }) => {
      if (!(ROLE_NAMES as readonly string[]).includes(opts.role)) throw new ValidationError(`--role is one of ${ROLE_NAMES.join(', ')}, got "${opts.role}"`);
      const body = { name, owner: opts.owner, role: opts.role, ...expiryField(opts.expires) };
      const { accessCall } = await import('./access-client.ts');
      const res = await accessCall(await resolveConnection(opts, io), 'POST', '/v1/tokens', body);
      const token = res.json.token as TokenView;
      if (opts.json === true) {
        io.stdout.write(`${JSON.stringify(res.json, null, 2)}\n`);
        return;
      }
      const expires = token.expiresAt === null ? 'never expires' : `expires ${new Date(token.expiresAt).toISOString()}`;
      io.stderr.write(`Created token ${token.name} (role ${token.role}, owner ${token.owner}, ${expires}).\nIts secret follows; it is shown this once, so store it now:\n`);
      io.stdout.write(`${String(res.json.secret)}\n`);
    });

  withConnectionOptions(tokens.command('list'))
    .description('List named tokens: role, owner, state (active, expired, revoked), expiry, last use. Never a secret.')
    .option('--json', 'print the tokens as JSON')
    .action(async (opts: ConnectionOptions & { json?: boolean }) => {
      const { accessCall } = await import('./access-client.ts');
      const res = await accessCall(await resolveConnection(opts, io), 'GET', '/v1/tokens');
      const list = res.json.tokens as TokenView[];
      if (opts.json === true) {
        io.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
        return;
      }
      io.stdout.write(await renderTokens(list, io.now(), colorEnabled(io.stdout, io.env)));
    });

  withConnectionOptions(tokens.command('revoke <name>'))
    .description('Revoke a named token: refused from now on (within a second on every replica). Cannot be undone.')
    .action(async (name: string, opts: ConnectionOptions) => {
      const { accessCall } = await import('./access-client.ts');
      const res = await accessCall(await resolveConnection(opts, io), 'POST', `/v1/tokens/${encodeURIComponent(name)}/revoke`, {});
      const token = res.json.token as TokenView;
      io.stdout.write(`Revoked token ${token.name} (role ${token.role}, owner ${token.owner}) at ${new Date(token.revokedAt ?? io.now()).toISOString()}.\n`);
    });

  return tokens;
}

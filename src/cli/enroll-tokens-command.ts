// `sluice hosts reset NAME` and `sluice enroll-tokens create|list|revoke`: host identity for
// admins (docs/host-identity.md). A host name can be enrolled again only with the host's current
// credential or after a reset; scoped enrollment tokens limit uses, lifetime and claimable labels.
import type { Command } from 'commander';
import { ValidationError } from '../core/errors.ts';
import { LABEL_KEY, LABEL_KEY_HINT } from '../core/labels.ts';
import { parseDuration } from '../core/plan/duration.ts';
import type { CliIo } from './io.ts';
import { renderTable } from './render-table.ts';
import { formatAgo, toIso } from './render-time.ts';
import { connect, withConnectionOptions, type ConnectionOptions } from './resolve-connection.ts';

/** `region=eu-west-1|eu-west-2` (repeatable) -> {region: ['eu-west-1', 'eu-west-2']} */
export function parseLabelConstraints(items: readonly string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const item of items) {
    const eq = item.indexOf('=');
    const key = eq > 0 ? item.slice(0, eq) : '';
    const values = item
      .slice(eq + 1)
      .split('|')
      .filter((v) => v !== '');
    if (!LABEL_KEY.test(key) || values.length === 0) {
      throw new ValidationError(`--label takes KEY=VALUE or KEY=V1|V2 (label keys are ${LABEL_KEY_HINT}), got "${item}"`);
    }
    out[key] = [...new Set([...(Object.hasOwn(out, key) ? out[key]! : []), ...values])];
  }
  return out;
}

interface CreateOptions extends ConnectionOptions {
  expiresIn?: string;
  maxUses?: string;
  label?: string[];
  json?: boolean;
}

export function registerEnrollTokensCommand(program: Command, io: CliIo): void {
  const group = program
    .command('enroll-tokens')
    .description('Scoped enrollment tokens (admin): limited uses, an expiry, and the labels hosts enrolled with them may claim.');

  withConnectionOptions(group.command('create <name>'))
    .description('Create a scoped enrollment token; its secret is printed once.')
    .option('--expires-in <duration>', 'the token stops working after this long (e.g. 24h, 7d)')
    .option('--max-uses <n>', 'at most this many enrollments')
    .option('--label <key=value>', 'hosts enrolled with it must carry this label, with this value (V1|V2 for several); repeatable', (v: string, acc: string[] = []) => [...acc, v])
    .option('--json', 'print the token and its settings as JSON')
    .addHelpText(
      'after',
      `
Example:
  sluice enroll-tokens create eu-batch-7 --max-uses 20 --expires-in 24h --label region=eu-west-1
  # then on each host: SLUICE_ENROLL_TOKEN=sle_... sluice agent --labels region=eu-west-1,...`,
    )
    .action(async (name: string, opts: CreateOptions) => {
      let expiresInS: number | undefined;
      if (opts.expiresIn !== undefined) {
        const ms = parseDuration(opts.expiresIn);
        if (ms === null || ms < 1000) throw new ValidationError(`--expires-in "${opts.expiresIn}" must be a duration of at least 1s, e.g. 24h`);
        expiresInS = Math.ceil(ms / 1000);
      }
      let maxUses: number | undefined;
      if (opts.maxUses !== undefined) {
        maxUses = Number(opts.maxUses);
        if (!Number.isInteger(maxUses) || maxUses < 1) throw new ValidationError(`--max-uses must be a whole number of at least 1, got "${opts.maxUses}"`);
      }
      const labels = parseLabelConstraints(opts.label ?? []);
      const client = await connect(opts, io);
      const created = await client.createEnrollToken({ name, labels, ...(expiresInS !== undefined ? { expiresInS } : {}), ...(maxUses !== undefined ? { maxUses } : {}) });
      if (opts.json === true) {
        io.stdout.write(`${JSON.stringify(created, null, 2)}\n`);
        return;
      }
      io.stdout.write(`${created.token}\n`);
      io.stderr.write(`created enrollment token ${created.name} (${created.id}); the secret above is shown only now\n`);
    });

  withConnectionOptions(group.command('list'))
    .description('List scoped enrollment tokens: state, uses, expiry, label constraints (never the secrets).')
    .option('--json', 'print them as JSON')
    .action(async (opts: ConnectionOptions & { json?: boolean }) => {
      const client = await connect(opts, io);
      const tokens = await client.listEnrollTokens();
      if (opts.json === true) {
        io.stdout.write(`${JSON.stringify(tokens.map((t) => ({ ...t, expiresAt: toIso(t.expiresAt), createdAt: toIso(t.createdAt), revokedAt: toIso(t.revokedAt) })), null, 2)}\n`);
        return;
      }
      if (tokens.length === 0) {
        io.stdout.write('No enrollment tokens.\n');
        return;
      }
      const now = io.now();
      const rows = tokens.map((t) => [
        t.name,
        t.id,
        t.state,
        t.maxUses === null ? `${t.uses}` : `${t.uses}/${t.maxUses}`,
        t.expiresAt === null ? 'never' : (toIso(t.expiresAt) ?? ''),
        Object.entries(t.labels)
          .map(([k, v]) => `${k}=${v.join('|')}`)
          .join(',') || '-',
        `${t.createdBy}, ${formatAgo(t.createdAt, now)}`,
      ]);
      io.stdout.write(renderTable([['NAME', 'ID', 'STATE', 'USES', 'EXPIRES', 'LABELS', 'CREATED'], ...rows]));
    });

  withConnectionOptions(group.command('revoke <id-or-name>'))
    .description('Revoke a scoped enrollment token: it enrolls nothing from now on (hosts enrolled with it stay).')
    .action(async (id: string, opts: ConnectionOptions) => {
      const client = await connect(opts, io);
      const row = await client.revokeEnrollToken(id);
      io.stdout.write(`revoked enrollment token ${row.name} (${row.id})\n`);
    });
}

// `sluice audit`: the server's audit log (admin only): who asked for which change, from where,
// and whether it was done, refused (401/403) or failed. Oldest first; --follow keeps printing new
// entries as they are written.
import type { Command } from 'commander';
import type { AuditRow } from '../store/store.ts';
import { ValidationError } from '../core/errors.ts';
import { parseDuration } from '../core/plan/duration.ts';
import type { CliIo } from './io.ts';
import { colorEnabled } from './io.ts';
import { resolveConnection, withConnectionOptions } from './resolve-connection.ts';
import type { ConnectionOptions } from './resolve-connection.ts';

/** An entry as GET /v1/audit answers it: the stored row (a type only: the CLI loads no store code). */
export type AuditEntryView = AuditRow;

interface AuditOptions extends ConnectionOptions {
  actor?: string;
  action?: string;
  target?: string;
  result?: string;
  since?: string;
  until?: string;
  limit?: string;
  json?: boolean;
  jsonl?: boolean;
  follow?: boolean;
}

const FOLLOW_POLL_MS = 1000;
const PAGE = 1000;

/** --since/--until: a duration back from now (1h, 7d) or a time (ISO 8601), as ms since the epoch. */
export function parseWhen(flag: string, text: string, now: number): number {
  const ago = parseDuration(text);
  if (ago !== null) return now - ago;
  const at = Date.parse(text);
  if (!Number.isFinite(at)) throw new ValidationError(`${flag} takes a duration back from now (90m, 1h, 7d) or a time (2026-12-03T06:00:00Z), got "${text}"`);
  return at;
}

export async function renderAudit(entries: readonly AuditEntryView[], color: boolean, header: boolean): Promise<string> {
  const { renderTable } = await import('./render-table.ts');
  const { createPaint } = await import('./render-style.ts');
  const paint = createPaint(color);
  const rows = entries.map((e) => [
    new Date(e.at).toISOString().replace('T', ' ').slice(0, 19),
    e.role ? `${e.actor} (${e.role})` : e.actor,
    e.action,
    e.target ?? '-',
    paint(e.result === 'ok' ? 'green' : e.result === 'denied' ? 'red' : 'yellow', e.result),
    e.sourceIp ?? '-',
    typeof e.detail?.error === 'string' ? e.detail.error : '',
  ]);
  if (header) rows.unshift(['TIME (UTC)', 'ACTOR', 'ACTION', 'TARGET', 'RESULT', 'FROM', 'WHY'].map((h) => paint('bold', h)));
  return renderTable(rows);
}

export function registerAuditCommand(program: Command, io: CliIo): Command {
  return withConnectionOptions(program.command('audit'))
    .description('Show the audit log: who changed what, from where, and what came of it (ok, denied, failed). Admin only.')
    .option('--actor <name>', 'only entries of this principal (a token name, `admin` for the bootstrap token, `anonymous`)')
    .option('--action <action>', 'only this action (rollout.approve), or a prefix ending in . or * (rollout.*)')
    .option('--target <target>', 'only entries about this rollout id or token name')
    .option('--result <result>', 'only ok, denied or failed')
    .option('--since <when>', 'from this long ago (90m, 1h, 7d) or this time (ISO 8601); default 24h')
    .option('--until <when>', 'up to (not including) this long ago or this time')
    .option('--limit <n>', `at most this many entries (default ${PAGE})`)
    .option('--json', 'print the entries as a JSON array')
    .option('--jsonl', 'print one JSON object per line (also with --follow)')
    .option('--follow', 'keep printing new entries as they are written (Ctrl-C to stop)')
    .addHelpText(
      'after',
      `
Every request that changes state is recorded (a rollout start or command, a token created or
revoked, a host enrolled), in the same transaction as the change where there is one, and so is
every refused (401/403) or failed request. Entries are never changed or deleted.

Actions: rollout.start, rollout.pause, rollout.resume, rollout.abort, rollout.approve,
rollout.rollback, rollout.retry, token.create, token.revoke, host.enroll; other requests appear
as METHOD /route.

Examples:
  sluice audit --since 1h
  sluice audit --result denied --since 7d
  sluice audit --actor alice --action 'rollout.*' --json
  sluice audit --jsonl --follow >> audit.jsonl`,
    )
    .action(async (opts: AuditOptions) => {
      if (opts.json === true && opts.jsonl === true) throw new ValidationError('--json and --jsonl: choose one');
      if (opts.json === true && opts.follow === true) throw new ValidationError('--follow prints as it goes: use --jsonl instead of --json');
      if (opts.result !== undefined && !['ok', 'denied', 'failed'].includes(opts.result)) {
        throw new ValidationError(`--result is ok, denied or failed, got "${opts.result}"`);
      }
      const limit = opts.limit === undefined ? PAGE : Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 1) throw new ValidationError(`--limit takes a positive whole number, got "${opts.limit}"`);
      const now = io.now();
      const query = new URLSearchParams();
      if (opts.actor !== undefined) query.set('actor', opts.actor);
      if (opts.action !== undefined) query.set('action', opts.action);
      if (opts.target !== undefined) query.set('target', opts.target);
      if (opts.result !== undefined) query.set('result', opts.result);
      query.set('since', String(parseWhen('--since', opts.since ?? '24h', now)));
      if (opts.until !== undefined) query.set('until', String(parseWhen('--until', opts.until, now)));

      const connection = await resolveConnection(opts, io);
      const { accessCall } = await import('./access-client.ts');
      const color = colorEnabled(io.stdout, io.env);
      let cursor: string | null = null;
      const fetchPage = async (max: number) => {
        const q = new URLSearchParams(query);
        q.set('limit', String(Math.min(max, PAGE)));
        if (cursor !== null) q.set('cursor', cursor);
        const res = await accessCall(connection, 'GET', `/v1/audit?${q.toString()}`);
        cursor = (res.json.nextCursor as string | null) ?? cursor;
        return { entries: res.json.entries as AuditEntryView[], complete: res.json.complete === true };
      };

      const all: AuditEntryView[] = [];
      let more = false;
      for (;;) {
        const page = await fetchPage(limit - all.length);
        all.push(...page.entries);
        if (page.complete) break;
        if (all.length >= limit) {
          more = true;
          break;
        }
      }
      const print = async (entries: readonly AuditEntryView[], header: boolean) => {
        if (opts.jsonl === true) io.stdout.write(entries.map((e) => `${JSON.stringify(e)}\n`).join(''));
        else if (entries.length > 0) io.stdout.write(await renderAudit(entries, color, header));
      };
      if (opts.json === true) io.stdout.write(`${JSON.stringify(all, null, 2)}\n`);
      else if (all.length === 0 && opts.jsonl !== true && opts.follow !== true) io.stdout.write('No audit entries match.\n');
      else await print(all, true);
      if (more) io.stderr.write(`(stopped at ${limit} entries: narrow with --since, or raise --limit)\n`);
      if (opts.follow !== true) return;
      if (more) {
        // skip to the end: --follow is about what happens from now on
        for (;;) if ((await fetchPage(PAGE)).complete) break;
      }
      for (;;) {
        await io.sleep(FOLLOW_POLL_MS);
        for (;;) {
          const page = await fetchPage(PAGE);
          await print(page.entries, false);
          if (page.complete) break;
        }
      }
    });
}

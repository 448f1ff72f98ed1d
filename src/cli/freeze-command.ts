// `sluice freeze start|end|status`: a fleet-wide freeze. Running rollouts stop at their next wave
// boundary (waves in flight finish their hosts and bake), new starts are refused unless the plan is
// an emergency change. Start and end need an admin token and are audited; status any token.
import type { Command } from 'commander';
import { ValidationError } from '../core/errors.ts';
import type { CliIo } from './io.ts';
import { resolveConnection, withConnectionOptions } from './resolve-connection.ts';
import type { ConnectionOptions } from './resolve-connection.ts';

interface FreezeView {
  readonly reason: string;
  readonly by: string;
  readonly startedAt: number;
  readonly until: number | null;
  readonly endedAt: number | null;
  readonly endedBy: string | null;
}

function iso(at: number): string {
  return new Date(at).toISOString().replace(/:00\.000Z$/, 'Z').replace(/\.000Z$/, 'Z');
}

/** `frozen since ... by alice: sales weekend; until ...` */
export function describeFreeze(f: FreezeView | null): string {
  if (f === null) return 'The fleet is not frozen.\n';
  const until = f.until === null ? 'until `sluice freeze end`' : `until ${iso(f.until)}`;
  return `The fleet is frozen (${f.reason}) by ${f.by} since ${iso(f.startedAt)}, ${until}.\nRunning rollouts stop at their next wave boundary; new starts are refused unless the plan is an emergency change.\n`;
}

/** `--until` (a time) or `--for` (a duration) as the API's until / for. */
export function freezeEndField(opts: { until?: string; for?: string }): Record<string, string> {
  if (opts.until !== undefined && opts.for !== undefined) throw new ValidationError('give --until or --for, not both');
  if (opts.for !== undefined) {
    if (!/^\d+(ms|s|m|h|d|w)/.test(opts.for)) throw new ValidationError(`--for takes a duration such as 48h or 3d, got "${opts.for}"`);
    return { for: opts.for };
  }
  if (opts.until !== undefined) {
    if (!Number.isFinite(Date.parse(opts.until))) throw new ValidationError(`--until takes a time such as 2026-12-24T00:00Z, got "${opts.until}"`);
    return { until: opts.until };
  }
  return {};
}

export function registerFreezeCommand(program: Command, io: CliIo): Command {
  const freeze = program
    .command('freeze')
    .description('A fleet-wide freeze: start (admin), end (admin), status. Rollouts stop at their next wave boundary.')
    .addHelpText(
      'after',
      `
While the fleet is frozen, every running rollout stops at its next wave boundary: waves in flight
finish their hosts and their bake, the next wave waits ("waiting: fleet frozen (REASON) by NAME
until ..."). New rollouts are refused (409), except plans marked \`emergency: { reason: "..." }\`,
which start and run through the freeze (the event log records the reason). When the freeze ends
(\`freeze end\`, or its --until/--for passes), waiting rollouts go on by themselves. The freeze is
stored, so every server replica sees it; start and end are in the audit log. See docs/freeze.md.

Examples:
  sluice freeze start --reason "Black Friday" --until 2026-11-30T00:00Z
  sluice freeze start --reason "incident 4711" --for 48h
  sluice freeze status
  sluice freeze end`,
    );

  withConnectionOptions(freeze.command('start'))
    .description('Freeze the fleet (admin).')
    .requiredOption('--reason <text>', 'why: shown to everyone whose rollout waits, and in the audit log')
    .option('--until <time>', 'when the freeze ends by itself (ISO 8601, e.g. 2026-12-24T00:00Z); default: at `freeze end`')
    .option('--for <duration>', 'how long the freeze lasts (48h, 3d), instead of --until')
    .option('--json', 'print the freeze as JSON')
    .action(async (opts: ConnectionOptions & { reason: string; until?: string; for?: string; json?: boolean }) => {
      const body = { reason: opts.reason, ...freezeEndField(opts) };
      const { accessCall } = await import('./access-client.ts');
      const res = await accessCall(await resolveConnection(opts, io), 'POST', '/v1/freeze', body);
      if (opts.json === true) {
        io.stdout.write(`${JSON.stringify(res.json, null, 2)}\n`);
        return;
      }
      io.stdout.write(describeFreeze(res.json.freeze as FreezeView));
    });

  withConnectionOptions(freeze.command('end'))
    .description('End the fleet freeze (admin): waiting rollouts go on. Exit 1 when the fleet is not frozen.')
    .action(async (opts: ConnectionOptions) => {
      const { accessCall } = await import('./access-client.ts');
      const res = await accessCall(await resolveConnection(opts, io), 'POST', '/v1/freeze/end', {});
      const f = res.json.freeze as FreezeView;
      io.stdout.write(`The freeze (${f.reason}, by ${f.by}) ended${f.endedBy ? ` by ${f.endedBy}` : ''}; waiting rollouts go on.\n`);
    });

  withConnectionOptions(freeze.command('status'))
    .description('Whether the fleet is frozen, by whom, why and until when.')
    .option('--json', 'print {frozen, freeze} as JSON')
    .action(async (opts: ConnectionOptions & { json?: boolean }) => {
      const { accessCall } = await import('./access-client.ts');
      const res = await accessCall(await resolveConnection(opts, io), 'GET', '/v1/freeze');
      if (opts.json === true) {
        io.stdout.write(`${JSON.stringify(res.json, null, 2)}\n`);
        return;
      }
      io.stdout.write(describeFreeze((res.json.freeze as FreezeView | null) ?? null));
    });

  return freeze;
}

// `sluice rollout ...`: start a plan, watch it, steer it (pause, resume, abort, approve, rollback,
// retry), list rollouts and read their event log. Talks to the server's operator API only.
import type { Command } from 'commander';
import { SluiceError, ValidationError } from '../core/errors.ts';
import type { ApiClient, RolloutView } from './api-client.ts';
import { ROLLOUT_ACTIONS } from './rollout-actions.ts';
import type { RolloutAction } from './rollout-actions.ts';
import { colorEnabled } from './io.ts';
import type { CliIo } from './io.ts';
import { eventJson, renderEventLine } from './render-events.ts';
import { renderProblems } from './render-problems.ts';
import { FAILED_SHOWN, SUMMARY_OVER, renderRolloutList, rolloutListJson } from './render-rollout.ts';
import { printRolloutStatus, type RolloutStatusOptions } from './rollout-status.ts';
import { connect, withConnectionOptions } from './resolve-connection.ts';
import type { ConnectionOptions } from './resolve-connection.ts';
import { fetchNewEvents, watchRollout } from './watch-rollout.ts';

/** Actions that only post and print the new state; `rollback` asks first and `retry` can wait. */
const STEER_ACTIONS = ['pause', 'resume', 'abort', 'approve'] as const satisfies readonly RolloutAction[];

const ACTION_HELP: Record<(typeof STEER_ACTIONS)[number], string> = {
  pause: 'Pause a running rollout: no new host is assigned until it is resumed (hosts in flight finish).',
  resume: 'Resume a paused rollout.',
  abort: 'Stop a rollout for good, leaving hosts as they are (no rollback).',
  approve: 'Let a wave that waits for approval (`approve: true`) start.',
};

/** Step states of hosts that may carry the change (a server without `rollbackHosts`: an estimate). */
const CHANGED_STATES = new Set(['applying', 'verifying', 'healthy', 'failed', 'silent']);

export function registerRolloutCommands(program: Command, io: CliIo): Command {
  const rollout = program
    .command('rollout')
    .description('Start, watch and steer rollouts (one execution of a plan).')
    .addHelpText(
      'after',
      `
Examples:
  id=$(sluice rollout start plan.yaml)
  sluice rollout status "$id" --watch
  sluice rollout approve "$id"`,
    );

  withConnectionOptions(rollout.command('start'))
    .description('Validate a plan file, start a rollout of it and print the rollout id on stdout.')
    .argument('<file>', 'plan file (YAML)')
    .option('--wait', 'follow the rollout on stderr until it ends; exit 0 if it completed, 1 otherwise')
    .addHelpText(
      'after',
      `
A plan with mistakes is not sent: each one is printed as FILE:LINE:COL: message (exit 2).

Examples:
  id=$(sluice rollout start examples/flag-on.yaml)
  sluice rollout start examples/flag-on.yaml --wait && echo rolled out`,
    )
    .action(async (file: string, opts: ConnectionOptions & { wait?: boolean }) => {
      const source = await readPlanFile(file, io);
      const { checkPlan } = await import('../core/plan/parse-plan.ts');
      const { plan, problems } = checkPlan(source, file);
      if (plan === null || problems.length > 0) {
        io.stderr.write(renderProblems(file, problems));
        throw new ValidationError(`${file}: ${plural(problems.length, 'problem')}; no rollout was started`);
      }
      const client = await connect(opts, io);
      let started;
      try {
        started = await client.startRollout(source, file);
      } catch (error) {
        // The server validates too (against its own version of the rules): show its findings the same way.
        if (error instanceof ValidationError && error.problems.length > 0) io.stderr.write(renderProblems(file, error.problems));
        throw error;
      }
      io.stdout.write(`${started.id}\n`);
      if (started.ineligible && started.ineligible.count > 0) {
        const mode = started.ineligible.mode === 'fail' ? 'they count as failed (ineligible: fail)' : 'they are skipped (ineligible: skip)';
        io.stderr.write(`${plural(started.ineligible.count, 'host')} of ${started.targeted ?? '?'} targeted ${started.ineligible.count === 1 ? 'is' : 'are'} ineligible now; ${mode}:\n`);
        for (const h of started.ineligible.hosts.slice(0, 20)) io.stderr.write(`  ${h.name}: ${h.reason}\n`);
        if (started.ineligible.hosts.length > 20) io.stderr.write(`  and ${started.ineligible.hosts.length - 20} more\n`);
      }
      if (started.queuedBehind && started.queuedBehind.length > 0) {
        io.stderr.write(`queued: waits for ${started.queuedBehind.join(', ')} to end (queue: true)\n`);
      }
      if (opts.wait === true) await waitForEnd(client, started.id, io);
    });

  withConnectionOptions(rollout.command('status'))
    .description('Show a rollout: its state, each wave with its progress, and the hosts that failed.')
    .argument('<id>', 'rollout id (a unique prefix, or `latest`)')
    .option('--json', 'print {id, name, state, reason, createdAt, updatedAt, waves: [{name, state, hosts: [{name, state, message}]}]}')
    .option('--watch', 'redraw every second until the rollout ends; exit 0 if it completed, 1 otherwise')
    .option('--hosts', 'list every host of the rollout (wave, host, state, message), paging through the server')
    .option('--all', 'the same as --hosts')
    .option('--state <states>', 'list only hosts in these step states, e.g. failed,silent (also filters --json)')
    .option('--wave <wave>', "list only this wave's hosts: its name or 0-based index (also filters --json)")
    .addHelpText(
      'after',
      `
Over ${SUMMARY_OVER} hosts the view shows counts per wave and at most ${FAILED_SHOWN} failed hosts per wave.

Examples:
  sluice rollout status r_01h...
  sluice rollout status r_01h... --watch
  sluice rollout status r_01h... --state failed,silent
  sluice rollout status r_01h... --json | jq -r .state`,
    )
    .action(async (id: string, opts: ConnectionOptions & RolloutStatusOptions & { watch?: boolean }) => {
      const client = await connect(opts, io);
      const color = colorEnabled(io.stdout, io.env);
      if (opts.watch === true) {
        id = await (await import('./api-client.ts')).resolveRolloutId(client, id); // a prefix or `latest`, once: it must not move under the watch
        const final = await watchRollout({ client, id, io, out: io.stdout, color, format: opts.json === true ? 'json' : 'view' });
        requireCompleted(final.id, final.state, final.reason, final.revertedHosts ?? 0);
        return;
      }
      await printRolloutStatus(client, id, opts, io, color);
    });

  withConnectionOptions(rollout.command('list'))
    .description('List rollouts, newest first.')
    .option('--json', 'print [{id, name, state, reason, createdAt, updatedAt}]')
    .addHelpText('after', '\nExample:\n  sluice rollout list')
    .action(async (opts: ConnectionOptions & { json?: boolean }) => {
      const client = await connect(opts, io);
      const rollouts = await client.listRollouts();
      io.stdout.write(
        opts.json === true
          ? `${JSON.stringify(rolloutListJson(rollouts), null, 2)}\n`
          : renderRolloutList(rollouts, { now: io.now(), color: colorEnabled(io.stdout, io.env) }),
      );
    });

  withConnectionOptions(rollout.command('events'))
    .description("Print a rollout's event log, oldest first.")
    .argument('<id>', 'rollout id (a unique prefix, or `latest`)')
    .option('--json', 'print [{seq, at, kind, message, host, wave}] (with --follow: one object per line)')
    .option('--follow', 'keep printing new events until the rollout ends')
    .addHelpText('after', '\nExamples:\n  sluice rollout events r_01h...\n  sluice rollout events r_01h... --follow')
    .action(async (id: string, opts: ConnectionOptions & { json?: boolean; follow?: boolean }) => {
      const client = await connect(opts, io);
      id = await (await import('./api-client.ts')).resolveRolloutId(client, id); // a prefix or `latest`, once: it must not move while paging
      const color = colorEnabled(io.stdout, io.env);
      if (opts.follow === true) {
        await watchRollout({ client, id, io, out: io.stdout, color, format: opts.json === true ? 'events-json' : 'events', fromStart: true });
        return;
      }
      // An unknown id is a 404 from the events route itself, not an empty log.
      const events = await fetchNewEvents(client, id, undefined);
      io.stdout.write(
        opts.json === true
          ? `${JSON.stringify(events.map(eventJson), null, 2)}\n`
          : events.map((e) => renderEventLine(e, { color })).join(''),
      );
    });

  for (const action of STEER_ACTIONS) {
    withConnectionOptions(rollout.command(action))
      .description(`${ACTION_HELP[action]} Prints the rollout's new state.`)
      .argument('<id>', 'rollout id (a unique prefix, or `latest`)')
      .addHelpText(
        'after',
        `
Exits 1 with the server's explanation when the rollout's state does not allow it.

Example:
  sluice rollout ${action} r_01h...`,
      )
      .action(async (id: string, opts: ConnectionOptions) => {
        const client = await connect(opts, io);
        const result = await client.rolloutAction(id, action);
        io.stdout.write(`${result.state}\n`);
      });
  }

  withConnectionOptions(rollout.command('rollback'))
    .description(
      "Return every host a rollout changed to its previous state, wave by wave, most recent first. Says how many hosts it will touch and asks first. Prints the rollout's new state.",
    )
    .argument('<id>', 'rollout id (a unique prefix, or `latest`)')
    .option('-y, --yes', 'do not ask (for scripts): roll back at once')
    .addHelpText(
      'after',
      `
On a terminal it asks "Roll back N hosts of rollout ID (NAME)? [y/N]" and goes on only on y or
yes. Without a terminal (stdin or stdout redirected) it refuses with exit 2 unless --yes is given,
and nothing is sent. N counts the hosts that may carry the change, plus, asked again on a
rolled_back or halted rollout, those whose rollback failed or was never confirmed.
Exits 1 with the server's explanation when the rollout's state does not allow it.

Examples:
  sluice rollout rollback r_01h...
  sluice rollout rollback latest --yes`,
    )
    .action(async (ref: string, opts: ConnectionOptions & { yes?: boolean }) => {
      const client = await connect(opts, io);
      // The full id from here on: \`latest\` must not move between the question and the answer.
      const view = await client.getRollout(ref);
      const what = `${plural(rollbackHostsOf(view), 'host')} of rollout ${view.id} (${view.name})`;
      if (opts.yes !== true) {
        if (io.stdinIsTTY !== true || !io.stdout.isTTY || io.ask === undefined) {
          throw new ValidationError(`not rolling back ${what}: stdin or stdout is not a terminal, so nobody can confirm; pass --yes to roll back without asking`);
        }
        const answer = (await io.ask(`Roll back ${what}? [y/N] `)) ?? '';
        if (!/^(y|yes)$/i.test(answer.trim())) throw new SluiceError('failed', `not rolled back (the answer was not yes); nothing was sent`);
      } else {
        io.stderr.write(`rolling back ${what}\n`);
      }
      const result = await client.rolloutAction(view.id, 'rollback');
      io.stdout.write(`${result.state}\n`);
    });

  withConnectionOptions(rollout.command('retry'))
    .description(
      "Resume a halted rollout from its failed wave: its failed and silent hosts get a new attempt, healthy waves are kept as they are. Prints the rollout's new state.",
    )
    .argument('<id>', 'rollout id (a unique prefix, or `latest`)')
    .option('--wait', 'follow the rollout on stderr until it ends; exit 0 if it completed, 1 otherwise')
    .addHelpText(
      'after',
      `
For a rollout the failure budget halted (onFailure: halt): fix the cause, then retry. The failed
wave goes on where it stopped: each failed or silent host of it is assigned again with a new
attempt (its agent applies afresh, with preflight, checks and confirmation) and no longer counts
against the budget; hosts that are healthy are not touched again, and the waves the halt skipped
follow as usual. Exits 1 with the server's explanation when the rollout cannot be retried (not
halted, its rollback halted: run \`sluice rollout rollback\` again, or its hosts are in another
active rollout).

Examples:
  sluice rollout retry r_01h...
  sluice rollout retry latest --wait && echo rolled out`,
    )
    .action(async (ref: string, opts: ConnectionOptions & { wait?: boolean }) => {
      const client = await connect(opts, io);
      const result = await client.rolloutAction(ref, 'retry');
      io.stdout.write(`${result.state}\n`);
      if (opts.wait === true) await waitForEnd(client, result.id, io);
    });
  return rollout;
}

/** How many hosts a rollback asked now would touch, as the server counts them. */
function rollbackHostsOf(view: RolloutView): number {
  if (view.rollbackHosts !== undefined) return view.rollbackHosts;
  return view.waves.reduce((n, w) => n + w.hosts.filter((h) => CHANGED_STATES.has(h.state)).length, 0);
}

/** `--wait`: follows the rollout on stderr until it ends; throws (exit 1) unless it completed. */
async function waitForEnd(client: ApiClient, id: string, io: CliIo): Promise<void> {
  const final = await watchRollout({ client, id, io, out: io.stderr, color: colorEnabled(io.stderr, io.env), format: 'view' });
  requireCompleted(final.id, final.state, final.reason, final.revertedHosts ?? 0);
}

async function readPlanFile(file: string, io: CliIo): Promise<string> {
  try {
    return await io.readFile(file);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : String((error as Error).message);
    throw new ValidationError(`cannot read plan ${file}: ${reason}`);
  }
}

function requireCompleted(id: string, state: string, reason: string | null, reverted = 0): void {
  // "completed, N hosts reverted themselves" is not a success: those hosts do not run the change.
  if (state !== 'completed' || reverted > 0) {
    throw new SluiceError('failed', `rollout ${id} ended ${state}${reason !== null && reason !== '' ? `: ${reason}` : ''}`);
  }
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

// `sluice rollout ...`: start a plan, watch it, steer it (pause, resume, abort, approve, rollback),
// list rollouts and read their event log. Talks to the server's operator API only.
import type { Command } from 'commander';
import { SluiceError, ValidationError } from '../core/errors.ts';
import { ROLLOUT_ACTIONS } from './rollout-actions.ts';
import type { RolloutAction } from './rollout-actions.ts';
import { colorEnabled } from './io.ts';
import type { CliIo } from './io.ts';
import { eventJson, renderEventLine } from './render-events.ts';
import { renderProblems } from './render-problems.ts';
import { renderRolloutList, renderRolloutStatus, rolloutListJson, rolloutStatusJson } from './render-rollout.ts';
import { connect, withConnectionOptions } from './resolve-connection.ts';
import type { ConnectionOptions } from './resolve-connection.ts';
import { fetchNewEvents, watchRollout } from './watch-rollout.ts';

const ACTION_HELP: Record<RolloutAction, string> = {
  pause: 'Pause a running rollout: no new host is assigned until it is resumed (hosts in flight finish).',
  resume: 'Resume a paused rollout.',
  abort: 'Stop a rollout for good, leaving hosts as they are (no rollback).',
  approve: 'Let a wave that waits for approval (`approve: true`) start.',
  rollback: 'Stop a rollout and return every host it changed to its previous state, most recent wave first.',
};

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
      if (opts.wait === true) {
        const final = await watchRollout({
          client,
          id: started.id,
          io,
          out: io.stderr,
          color: colorEnabled(io.stderr, io.env),
          format: 'view',
        });
        requireCompleted(final.id, final.state, final.reason, final.revertedHosts ?? 0);
      }
    });

  withConnectionOptions(rollout.command('status'))
    .description('Show a rollout: its state, each wave with its progress, and the hosts that failed.')
    .argument('<id>', 'rollout id (a unique prefix, or `latest`)')
    .option('--json', 'print {id, name, state, reason, createdAt, updatedAt, waves: [{name, state, hosts: [{name, state, message}]}]}')
    .option('--watch', 'redraw every second until the rollout ends; exit 0 if it completed, 1 otherwise')
    .addHelpText(
      'after',
      `
Examples:
  sluice rollout status r_01h...
  sluice rollout status r_01h... --watch
  sluice rollout status r_01h... --json | jq -r .state`,
    )
    .action(async (id: string, opts: ConnectionOptions & { json?: boolean; watch?: boolean }) => {
      const client = await connect(opts, io);
      const color = colorEnabled(io.stdout, io.env);
      if (opts.watch === true) {
        id = await (await import('./api-client.ts')).resolveRolloutId(client, id); // a prefix or `latest`, once: it must not move under the watch
        const final = await watchRollout({ client, id, io, out: io.stdout, color, format: opts.json === true ? 'json' : 'view' });
        requireCompleted(final.id, final.state, final.reason, final.revertedHosts ?? 0);
        return;
      }
      const view = await client.getRollout(id);
      io.stdout.write(
        opts.json === true ? `${JSON.stringify(rolloutStatusJson(view), null, 2)}\n` : renderRolloutStatus(view, { now: io.now(), color }),
      );
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

  for (const action of ROLLOUT_ACTIONS) {
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
  return rollout;
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

// `sluice rollout status ID`: counts per wave (and a few failed hosts) for a large rollout, every
// host on request (--hosts, --state, --wave), paging through GET /v1/rollouts/:id/hosts. The
// `--json` shape is DESIGN.md's, with every host, whatever the size: the pages are joined here.
import { ValidationError } from '../core/errors.ts';
import { STEP_STATES } from '../core/types.ts';
import { PAGE } from './page-size.ts';
import type { ApiClient, RolloutHostView, RolloutHostsQuery } from './api-client.ts';
import type { CliIo } from './io.ts';
import { renderRolloutHostsTable, withPagedHosts } from './render-rollout-hosts.ts';
import { renderRolloutStatus, rolloutStatusJson } from './render-rollout.ts';

export interface RolloutStatusOptions {
  readonly json?: boolean;
  /** Every host step, as a table. */
  readonly hosts?: boolean;
  readonly all?: boolean;
  /** Comma-separated step states; implies the host table. */
  readonly state?: string;
  /** A wave's name or index; implies the host table. */
  readonly wave?: string;
}

/** Failed hosts fetched for the summary of a rollout too large to embed them. */
const FAILED_FETCHED = 200;

export function parseStepStates(text: string): string[] {
  const states = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const bad = states.find((s) => !(STEP_STATES as readonly string[]).includes(s));
  if (states.length === 0 || bad !== undefined) {
    throw new ValidationError(`--state takes step states separated by commas (${STEP_STATES.join(', ')})${bad !== undefined ? `; "${bad}" is none of them` : ''}`);
  }
  return states;
}

/** Every step of the rollout the query covers, page by page. */
export async function allRolloutHosts(client: ApiClient, id: string, query: RolloutHostsQuery): Promise<RolloutHostView[]> {
  const hosts: RolloutHostView[] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await client.rolloutHostsPage(id, { ...query, limit: PAGE, ...(cursor !== undefined ? { cursor } : {}) });
    hosts.push(...page.hosts);
    if (page.nextCursor === null || page.hosts.length === 0) return hosts;
    cursor = page.nextCursor;
  }
}

export async function printRolloutStatus(client: ApiClient, ref: string, opts: RolloutStatusOptions, io: CliIo, color: boolean): Promise<void> {
  const states = opts.state !== undefined ? parseStepStates(opts.state) : undefined;
  const query: RolloutHostsQuery = { ...(states ? { states } : {}), ...(opts.wave !== undefined ? { wave: opts.wave } : {}) };
  const filtered = states !== undefined || opts.wave !== undefined;
  const view = await client.getRollout(ref);
  if (opts.json === true) {
    const full = view.hostsIncluded === false || filtered ? withPagedHosts(view, await allRolloutHosts(client, view.id, query)) : view;
    io.stdout.write(`${JSON.stringify(rolloutStatusJson(full), null, 2)}\n`);
    return;
  }
  if (opts.hosts === true || opts.all === true || filtered) {
    io.stdout.write(renderRolloutHostsTable(await allRolloutHosts(client, view.id, query), { now: io.now(), color, filtered }));
    return;
  }
  // The counts came with the view; name a few failed hosts per wave.
  const shown =
    view.hostsIncluded === false
      ? withPagedHosts(view, (await client.rolloutHostsPage(view.id, { states: ['failed', 'silent'], limit: FAILED_FETCHED })).hosts)
      : view;
  io.stdout.write(renderRolloutStatus(shown, { now: io.now(), color }));
}

// A small typed client for the operator routes of the HTTP API (docs/api.md). Every failure comes
// back as a SluiceError carrying the server's own code and message, so the CLI maps it to an exit
// code in one place.
import { z } from 'zod';
import {
  ConflictError,
  NotFoundError,
  SluiceError,
  UnavailableError,
  ValidationError,
  isErrorCode,
} from '../core/errors.ts';
import type { ErrorCode } from '../core/errors.ts';
import { driftViewSchema, updatesViewSchema } from './render-drift.ts';
import { describeCertificateError } from '../core/tls-trust.ts';
import type { DriftView, UpdatesView } from './render-drift.ts';

// Responses are parsed, not trusted: a server of another version should fail with a clear
// message, not with `undefined` deep inside a renderer.
const instant = z.number();

const rolloutSummarySchema = z.object({
  id: z.string(),
  name: z.string(),
  state: z.string(),
  reason: z.string().nullable().optional().transform((v) => v ?? null),
  createdAt: instant,
  updatedAt: instant,
  /** Hosts that rolled the change back by themselves (commit-confirmed). */
  revertedHosts: z.number().optional(),
});

const hostStepSchema = z.object({
  name: z.string(),
  state: z.string(),
  message: z.string().nullable().optional().transform((v) => v ?? null),
  updatedAt: instant.nullable().optional().transform((v) => v ?? null),
});

const hostSchema = z.object({
  name: z.string(),
  labels: z.record(z.string(), z.string()),
  status: z.string(),
  lastSeen: instant.nullable().optional().transform((v) => v ?? null),
  facts: z.record(z.string(), z.unknown()).optional().transform((v) => v ?? {}),
});

/** Steps by state (servers since issue 8 send every state, zeros included). */
const stateCountsSchema = z.record(z.string(), z.number());

const waveViewSchema = z.object({
  name: z.string(),
  state: z.string(),
  index: z.number().optional(),
  /** Steps in the wave, and their counts by state: present even when `hosts` is left out. */
  hostCount: z.number().optional(),
  counts: stateCountsSchema.optional(),
  startedAt: instant.nullable().optional().transform((v) => v ?? null),
  bakeStartedAt: instant.nullable().optional().transform((v) => v ?? null),
  bakeEndsAt: instant.nullable().optional().transform((v) => v ?? null),
  failed: z.number().optional().transform((v) => v ?? 0),
  hosts: z.array(hostStepSchema),
});

const countSchema = z.number().optional();

const rolloutViewSchema = rolloutSummarySchema.extend({
  waves: z.array(waveViewSchema),
  pendingWaves: z.array(z.string()).optional().transform((v) => v ?? []),
  /** Targeted hosts left out as ineligible (offline, or cannot run the plan). */
  skippedHosts: countSchema,
  /** Why the server holds the rollout by itself (it suspects its own connectivity). */
  heldReason: z.string().nullable().optional(),
  /** Why a running rollout does not move on: its window is closed, the fleet is frozen, a fleet-wide limit. */
  waiting: z.string().nullable().optional(),
  /** Hosts whose rollback failed or was not confirmed yet (`rollout rollback` asks them again). */
  unconfirmedRollbacks: countSchema,
  /** Hosts a `rollout rollback` asked now would touch. */
  rollbackHosts: countSchema,
  /** Steps in the rollout; false `hostsIncluded`: the waves' `hosts` were left out (too many): page them. */
  hostsTotal: countSchema,
  hostsIncluded: z.boolean().optional(),
  /** Who started the rollout (a token name, `admin`); null when not recorded. */
  startedBy: z.string().nullable().optional(),
  /** Who approved which wave, oldest first. */
  approvals: z
    .array(z.object({ wave: z.string().nullable(), by: z.string().nullable(), at: instant }))
    .optional(),
});

const hostsPageSchema = z.object({ hosts: z.array(hostSchema), nextCursor: z.string().nullable().optional().transform((v) => v ?? null) });

const hostsSummarySchema = z.object({
  total: z.number(),
  online: z.number(),
  offline: z.number(),
  by: z
    .object({
      key: z.string(),
      values: z.array(z.object({ value: z.string().nullable(), total: z.number(), online: z.number(), offline: z.number() })),
      truncated: z.boolean().optional().transform((v) => v ?? false),
    })
    .optional(),
});

const rolloutHostSchema = z.object({
  name: z.string(),
  wave: z.string().nullable().optional().transform((v) => v ?? null),
  waveIndex: z.number(),
  state: z.string(),
  attempt: z.number().optional(),
  message: z.string().nullable().optional().transform((v) => v ?? null),
  updatedAt: instant.nullable().optional().transform((v) => v ?? null),
});
const rolloutHostsPageSchema = z.object({ hosts: z.array(rolloutHostSchema), nextCursor: z.string().nullable().optional().transform((v) => v ?? null) });

const ineligibleSchema = z
  .object({ count: z.number(), mode: z.string().optional(), hosts: z.array(z.object({ name: z.string(), reason: z.string() })) })
  .optional();

const previewSchema = z.object({ targeted: z.number(), ineligible: ineligibleSchema.unwrap() });
export type RolloutPreviewView = z.infer<typeof previewSchema>;

const eventSchema = z.object({
  seq: z.number(),
  at: instant,
  kind: z.string(),
  message: z.string(),
  host: z.string().nullable().optional().transform((v) => v ?? null),
  wave: z.string().nullable().optional().transform((v) => v ?? null),
});


const startedSchema = z.object({
  id: z.string(),
  name: z.string(),
  state: z.string(),
  targeted: z.number().optional(),
  ineligible: ineligibleSchema,
  queuedBehind: z.array(z.string()).optional(),
});
const actionResultSchema = z.object({ id: z.string(), state: z.string() });

const errorBodySchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    problems: z.array(z.object({ line: z.number(), col: z.number(), message: z.string() })).optional(),
  }),
});

export type RolloutSummary = z.infer<typeof rolloutSummarySchema>;
export type RolloutView = z.infer<typeof rolloutViewSchema>;
export type WaveView = z.infer<typeof waveViewSchema>;
export type HostStepView = z.infer<typeof hostStepSchema>;
export type RolloutEventView = z.infer<typeof eventSchema>;
export type HostView = z.infer<typeof hostSchema>;
export type HostsPage = z.infer<typeof hostsPageSchema>;
export type HostsSummaryView = z.infer<typeof hostsSummarySchema>;
export type RolloutHostView = z.infer<typeof rolloutHostSchema>;
export type RolloutHostsPage = z.infer<typeof rolloutHostsPageSchema>;

/** Which hosts a list or summary covers (GET /v1/hosts, /v1/hosts/summary). */
export interface HostFilterQuery {
  readonly labels?: Readonly<Record<string, string>>;
  readonly status?: 'online' | 'offline';
  /** false: leave facts out (only `allow`). */
  readonly facts?: boolean;
}
export interface RolloutHostsQuery {
  /** Step states, any of them. */
  readonly states?: readonly string[];
  /** A wave's name or 0-based index. */
  readonly wave?: string;
}
export interface PageQuery {
  readonly limit?: number;
  readonly cursor?: string;
}
export type StartedRollout = z.infer<typeof startedSchema>;
export type RolloutActionResult = z.infer<typeof actionResultSchema>;

import { ROLLOUT_ACTIONS, type RolloutAction } from './rollout-actions.ts';
export { ROLLOUT_ACTIONS, type RolloutAction };

export interface ApiClient {
  readonly server: string;
  startRollout(plan: string, file?: string): Promise<StartedRollout>;
  /** How many hosts the plan targets now, and which are ineligible and why (nothing is started). */
  previewRollout?(plan: string, file?: string): Promise<RolloutPreviewView>;
  listRollouts(): Promise<RolloutSummary[]>;
  getRollout(id: string): Promise<RolloutView>;
  rolloutAction(id: string, action: RolloutAction): Promise<RolloutActionResult>;
  /** Events with `seq` greater than `after`, oldest first. */
  listEvents(id: string, after?: number, limit?: number): Promise<RolloutEventView[]>;
  /** Every host the filter covers, paging through GET /v1/hosts. */
  listHosts(filter?: HostFilterQuery): Promise<HostView[]>;
  /** One page of hosts; pass `nextCursor` back as `cursor` for the next one. */
  listHostsPage(filter: HostFilterQuery & PageQuery): Promise<HostsPage>;
  /** Host counts by status, and per value of the label key `by`. */
  hostsSummary(filter: { labels?: Readonly<Record<string, string>>; by?: string }): Promise<HostsSummaryView>;
  /** One page of a rollout's steps, in wave then host order. */
  rolloutHostsPage(id: string, query: RolloutHostsQuery & PageQuery): Promise<RolloutHostsPage>;
  /** Open drift per host and recent drift events, fleet-wide or for one host. */
  getDrift(host?: string): Promise<DriftView>;
  /** Updates pending on hosts: security ones only, or every one with `all`. */
  getUpdates(all: boolean): Promise<UpdatesView>;
}

/** Host identity (admin): what `sluice hosts reset` and `sluice enroll-tokens` call. */
export interface IdentityApi {
  /** Clears a host's credential (admin): the next enrollment of the name is accepted. */
  resetHost(name: string): Promise<{ host: string; message: string }>;
  createEnrollToken(body: EnrollTokenCreate): Promise<EnrollTokenView & { token: string }>;
  listEnrollTokens(): Promise<EnrollTokenView[]>;
  revokeEnrollToken(idOrName: string): Promise<EnrollTokenView>;
}

export interface EnrollTokenCreate {
  readonly name: string;
  readonly expiresInS?: number;
  readonly maxUses?: number;
  readonly labels?: Readonly<Record<string, readonly string[]>>;
}

const enrollTokenSchema = z.object({
  id: z.string(),
  name: z.string(),
  state: z.string(),
  expiresAt: z.number().nullable(),
  maxUses: z.number().nullable(),
  uses: z.number(),
  labels: z.record(z.string(), z.array(z.string())),
  createdBy: z.string(),
  createdAt: z.number(),
  revokedAt: z.number().nullable(),
});
export type EnrollTokenView = z.infer<typeof enrollTokenSchema>;

export interface ApiClientOptions {
  /** Base URL, e.g. http://127.0.0.1:7400 */
  readonly server: string;
  readonly token: string;
  readonly timeoutMs?: number;
  readonly fetch?: typeof globalThis.fetch;
}

export { PAGE } from './page-size.ts';
import { PAGE } from './page-size.ts';

const STATUS_CODES: Record<number, ErrorCode> = {
  400: 'invalid',
  401: 'unauthenticated',
  403: 'forbidden',
  404: 'not_found',
  409: 'conflict',
  413: 'too_large',
  503: 'unavailable',
};

export function createApiClient(options: ApiClientOptions): ApiClient & IdentityApi {
  const base = options.server.replace(/\/+$/, '');
  const timeoutMs = options.timeoutMs ?? 10_000;
  const fetchImpl = options.fetch ?? globalThis.fetch;

  async function call<T>(method: 'GET' | 'POST', path: string, schema: z.ZodType<T>, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${options.token}`, accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    let text: string;
    try {
      response = await fetchImpl(`${base}${path}`, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(timeoutMs),
      });
      text = await response.text();
    } catch (error) {
      throw transportError(error, base, timeoutMs);
    }
    const json = parseJson(text);
    if (!response.ok) throw errorFromResponse(response.status, json);
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      throw new SluiceError(
        'failed',
        `unexpected answer from the Sluice server at ${base} (${method} ${path}): ${z.prettifyError(parsed.error).replace(/\n/g, '; ')}`,
      );
    }
    return parsed.data;
  }

  const rolloutPath = (id: string) => `/v1/rollouts/${encodeURIComponent(id)}`;
  const suffixOf = (query: URLSearchParams) => (query.size > 0 ? `?${query.toString()}` : '');
  const listHostsPage = (q: HostFilterQuery & PageQuery) => {
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(q.labels ?? {})) query.append('label', `${k}=${v}`);
    if (q.status !== undefined) query.set('status', q.status);
    if (q.facts === false) query.set('facts', 'false');
    if (q.limit !== undefined) query.set('limit', String(q.limit));
    if (q.cursor !== undefined) query.set('cursor', q.cursor);
    return call('GET', `/v1/hosts${suffixOf(query)}`, hostsPageSchema);
  };

  return {
    server: base,
    startRollout: (plan, file) =>
      call('POST', '/v1/rollouts', startedSchema, file === undefined ? { plan } : { plan, file }),
    previewRollout: (plan, file) =>
      call('POST', '/v1/rollouts/preview', previewSchema, file === undefined ? { plan } : { plan, file }),
    listRollouts: async () =>
      (await call('GET', '/v1/rollouts', z.object({ rollouts: z.array(rolloutSummarySchema) }))).rollouts,
    getRollout: (id) => call('GET', rolloutPath(id), rolloutViewSchema),
    rolloutAction: (id, action) => call('POST', `${rolloutPath(id)}/${action}`, actionResultSchema, {}),
    listEvents: async (id, after, limit) => {
      const query = new URLSearchParams();
      if (after !== undefined) query.set('after', String(after));
      if (limit !== undefined) query.set('limit', String(limit));
      const suffix = query.size > 0 ? `?${query.toString()}` : '';
      return (await call('GET', `${rolloutPath(id)}/events${suffix}`, z.object({ events: z.array(eventSchema) }))).events;
    },
    listHosts: async (filter = {}) => {
      const hosts: HostView[] = [];
      let cursor: string | undefined;
      for (;;) {
        const page = await listHostsPage({ ...filter, limit: PAGE, ...(cursor !== undefined ? { cursor } : {}) });
        hosts.push(...page.hosts);
        if (page.nextCursor === null || page.hosts.length === 0) return hosts;
        cursor = page.nextCursor;
      }
    },
    listHostsPage: (query) => listHostsPage(query),
    hostsSummary: (filter) => {
      const query = new URLSearchParams();
      for (const [k, v] of Object.entries(filter.labels ?? {})) query.append('label', `${k}=${v}`);
      if (filter.by !== undefined) query.set('by', filter.by);
      return call('GET', `/v1/hosts/summary${suffixOf(query)}`, hostsSummarySchema);
    },
    rolloutHostsPage: (id, q) => {
      const query = new URLSearchParams();
      if (q.states !== undefined && q.states.length > 0) query.set('state', q.states.join(','));
      if (q.wave !== undefined) query.set('wave', q.wave);
      if (q.limit !== undefined) query.set('limit', String(q.limit));
      if (q.cursor !== undefined) query.set('cursor', q.cursor);
      return call('GET', `${rolloutPath(id)}/hosts${suffixOf(query)}`, rolloutHostsPageSchema);
    },
    getDrift: (host) => {
      const query = new URLSearchParams({ limit: '200' });
      if (host !== undefined) query.set('host', host);
      return call('GET', `/v1/drift?${query.toString()}`, driftViewSchema);
    },
    getUpdates: (all) => call('GET', `/v1/updates${all ? '?all=true' : ''}`, updatesViewSchema),
    resetHost: (name) => call('POST', `/v1/hosts/${encodeURIComponent(name)}/reset`, z.object({ host: z.string(), message: z.string() }), {}),
    createEnrollToken: (body) => call('POST', '/v1/enroll-tokens', enrollTokenSchema.extend({ token: z.string() }), body),
    listEnrollTokens: async () => (await call('GET', '/v1/enroll-tokens', z.object({ tokens: z.array(enrollTokenSchema) }))).tokens,
    revokeEnrollToken: (id) => call('POST', `/v1/enroll-tokens/${encodeURIComponent(id)}/revoke`, enrollTokenSchema, {}),
  };
}

/**
 * The full id of a rollout reference (full id, unique prefix or `latest`; the server resolves
 * them), for commands that make several calls: `latest` must not move under a watch.
 */
export async function resolveRolloutId(client: Pick<ApiClient, 'listRollouts' | 'getRollout'>, ref: string): Promise<string> {
  if ((await client.listRollouts()).some((r) => r.id === ref)) return ref;
  return (await client.getRollout(ref)).id;
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Turns an HTTP error answer into the matching SluiceError, keeping the server's words. */
export function errorFromResponse(status: number, body: unknown): SluiceError {
  const parsed = errorBodySchema.safeParse(body);
  const code: ErrorCode =
    parsed.success && isErrorCode(parsed.data.error.code) ? parsed.data.error.code : (STATUS_CODES[status] ?? 'failed');
  const message = parsed.success ? parsed.data.error.message : `the server answered HTTP ${status}`;
  switch (code) {
    case 'invalid':
      return new ValidationError(message, parsed.success ? (parsed.data.error.problems ?? []) : []);
    case 'not_found':
      return new NotFoundError(message);
    case 'conflict':
      return new ConflictError(message);
    case 'unavailable':
      return new UnavailableError(message);
    case 'unauthenticated':
      return new SluiceError(code, `${message} (pass the admin token with --token-file, SLUICE_TOKEN_FILE or SLUICE_TOKEN)`);
    default:
      return new SluiceError(code, message);
  }
}

function transportError(error: unknown, base: string, timeoutMs: number): SluiceError {
  if (error instanceof SluiceError) return error;
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
    return new UnavailableError(`the Sluice server at ${base} did not answer within ${Math.round(timeoutMs / 1000)}s`, {
      cause: error,
    });
  }
  // A certificate the CLI does not trust: say so, not "is the server running?".
  const tls = describeCertificateError(error, base);
  if (tls !== null) return new SluiceError('unavailable', tls, { cause: error });
  // fetch wraps every network failure (refused, DNS, reset) in a TypeError("fetch failed").
  return new UnavailableError(`cannot reach the Sluice server at ${base}: is \`sluice server\` running?`, { cause: error });
}

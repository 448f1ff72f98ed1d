// The OpenAPI 3.1 document served at /v1/openapi.json. Request bodies come from the same zod
// schemas the routes validate with; responses are described by hand (docs/api.md has examples).
import { z } from 'zod';
import { createRolloutBody, driftBody, enrollBody, enrollTokenBody, heartbeatBody, reportsBody } from './schemas.ts';
import { DEFAULT_PAGE, MAX_PAGE } from './list-schemas.ts';
import { remediationOverrideBody, remediationRequestBody } from './routes/remediation-routes.ts';
import { STEP_STATES } from '../core/types.ts';
import type { Role } from './auth.ts';
import { createTokenBody } from './routes/token-routes.ts';
import { endFreezeBody, startFreezeBody } from './routes/freeze-routes.ts';
import { DEFAULT_AUDIT_PAGE, MAX_AUDIT_PAGE } from './routes/audit-routes.ts';
import { DEFAULT_NOTIFICATIONS_PAGE, MAX_NOTIFICATIONS_PAGE } from './routes/notification-routes.ts';

const errorResponse = {
  description: 'Error',
  content: {
    'application/json': {
      schema: {
        type: 'object',
        properties: {
          error: {
            type: 'object',
            properties: {
              code: { type: 'string', enum: ['invalid', 'unauthenticated', 'forbidden', 'not_found', 'conflict', 'too_large', 'unavailable', 'failed'] },
              message: { type: 'string' },
              problems: { type: 'array', items: { type: 'object', properties: { line: { type: 'integer' }, col: { type: 'integer' }, message: { type: 'string' } } } },
            },
            required: ['code', 'message'],
          },
        },
      },
    },
  },
};

function body(schema: z.ZodType): Record<string, unknown> {
  return { required: true, content: { 'application/json': { schema: z.toJSONSchema(schema, { io: 'input' }) } } };
}

function ok(description: string): Record<string, unknown> {
  return { description, content: { 'application/json': { schema: { type: 'object' } } } };
}

const errors = { '400': errorResponse, '401': errorResponse, '403': errorResponse, '404': errorResponse, '409': errorResponse, '413': errorResponse };

let cached: Record<string, unknown> | null = null;

// ---- paged lists and summaries (issue 8) ----

const pageParams = [
  { name: 'limit', in: 'query', description: `Rows per page (default ${DEFAULT_PAGE}).`, schema: { type: 'integer', minimum: 1, maximum: MAX_PAGE, default: DEFAULT_PAGE } },
  { name: 'cursor', in: 'query', description: 'The `nextCursor` of the previous page, unchanged. Omit for the first page.', schema: { type: 'string' } },
];
const labelParam = {
  name: 'label',
  in: 'query',
  description: 'KEY=VALUE; repeat it to require several labels (`label=env=prod&label=zone=a`).',
  style: 'form',
  explode: true,
  schema: { type: 'array', items: { type: 'string', pattern: '^[A-Za-z0-9._/-]{1,63}=' } },
};
const countsSchema = { type: 'object', description: 'Steps by state (every state, 0 included).', properties: Object.fromEntries(STEP_STATES.map((st) => [st, { type: 'integer' }])) };
const hostSchema = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    labels: { type: 'object', additionalProperties: { type: 'string' } },
    status: { type: 'string', enum: ['online', 'offline'] },
    lastSeen: { type: 'integer', description: 'ms since the epoch' },
    enrolledAt: { type: 'integer' },
    facts: { type: 'object', description: 'What the agent last reported; only `allow` with facts=false.' },
  },
  required: ['name', 'labels', 'status', 'lastSeen'],
};
const nextCursor = { type: ['string', 'null'], description: 'Pass as `cursor` for the next page; null on the last page.' };
const stepSchema = {
  type: 'object',
  properties: {
    name: { type: 'string', description: 'host name' },
    wave: { type: ['string', 'null'] },
    waveIndex: { type: 'integer' },
    state: { type: 'string', enum: [...STEP_STATES] },
    attempt: { type: 'integer' },
    message: { type: ['string', 'null'] },
    updatedAt: { type: 'integer' },
  },
  required: ['name', 'waveIndex', 'state'],
};
const waveCountsSchema = {
  type: 'object',
  properties: {
    index: { type: 'integer' },
    name: { type: 'string' },
    state: { type: 'string' },
    hostCount: { type: 'integer' },
    failed: { type: 'integer' },
    counts: countsSchema,
    bakeEndsAt: { type: ['integer', 'null'] },
  },
};

function json(description: string, schema: Record<string, unknown>): Record<string, unknown> {
  return { description, content: { 'application/json': { schema } } };
}

export function buildOpenApi(): Record<string, unknown> {
  if (cached) return cached;
  // x-sluice-role: the least role an operation needs (viewer, operator, approver, admin), or who
  // else may call it (host, enrollment, none). test/roles-matrix.test.ts calls every operation with
  // every role's token and holds the server to it.
  const role = (need: Role) => ({ security: [{ token: [] }], 'x-sluice-role': need });
  const host = { security: [{ hostCredential: [] }], 'x-sluice-role': 'host' };
  const idParam = [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }];
  const command = (name: string, need: Role) => ({
    post: { summary: `${name} a rollout`, ...role(need), parameters: idParam, responses: { '200': ok('The rollout id and its new state'), ...errors } },
  });
  cached = {
    openapi: '3.1.0',
    info: { title: 'Sluice API', version: '1', description: 'Progressive, health-gated rollouts of infrastructure changes. See docs/api.md.' },
    components: {
      securitySchemes: {
        token: {
          type: 'http',
          scheme: 'bearer',
          description: 'A named token (`sluice tokens create`), or the bootstrap admin token (SLUICE_ADMIN_TOKEN, SLUICE_ADMIN_TOKEN_FILE or DATA_DIR/admin.token). Each operation needs the role in its x-sluice-role.',
        },
        enrollment: { type: 'http', scheme: 'bearer', description: 'The enrollment token (SLUICE_ENROLL_TOKEN, SLUICE_ENROLL_TOKEN_FILE or DATA_DIR/enroll.token).' },
        hostCredential: { type: 'http', scheme: 'bearer', description: 'The credential a host received when it enrolled.' },
      },
    },
    paths: {
      '/healthz': { get: { summary: 'Liveness; no authentication', security: [], 'x-sluice-role': 'none', responses: { '200': { description: 'ok' } } } },
      '/v1/health': { get: { summary: "This replica's role (leader, starting, follower, unavailable), why, and who leads", ...role('viewer'), responses: { '200': ok('{role, replica, leader, reason, database, since, stoppedLeading, store}'), ...errors } } },
      '/metrics': { get: { summary: 'Prometheus metrics', ...role('viewer'), responses: { '200': { description: 'text/plain metrics' } } } },
      '/v1/agent/enroll': { post: { summary: 'Enroll a host', security: [{ enrollment: [] }], 'x-sluice-role': 'enrollment', requestBody: body(enrollBody), responses: { '200': ok('{host, credential}'), ...errors } } },
      '/v1/agent/rotate': {
        post: {
          summary: 'A new host credential; the one used here stays valid until the new one is used or the grace ends (10 minutes)',
          ...host,
          responses: { '200': ok('{host, credential, previousValidUntil}'), ...errors },
        },
      },
      '/v1/hosts/{name}/reset': {
        post: {
          summary: "Clear a host's credential (admin): the next enrollment of the name is accepted",
          ...role('admin'),
          parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }],
          responses: { '200': ok('{host, reset, message}'), ...errors },
        },
      },
      '/v1/enroll-tokens': {
        get: { summary: 'Scoped enrollment tokens (admin; never the secrets)', ...role('admin'), responses: { '200': ok('{tokens}'), ...errors } },
        post: { summary: 'Create a scoped enrollment token (admin); the secret is in this answer only', ...role('admin'), requestBody: body(enrollTokenBody), responses: { '201': ok('{token, id, name, state, expiresAt, maxUses, uses, labels, createdBy, createdAt, revokedAt}'), ...errors } },
      },
      '/v1/enroll-tokens/{id}/revoke': {
        post: { summary: 'Revoke a scoped enrollment token (admin), by id or name', ...role('admin'), parameters: idParam, responses: { '200': ok('The token'), ...errors } },
      },
      '/v1/agent/heartbeat': { post: { summary: 'Heartbeat with labels and facts', ...host, requestBody: body(heartbeatBody), responses: { '200': ok('{ok, heartbeatMs}'), ...errors } } },
      '/v1/agent/assignments': {
        get: {
          summary: "Long-poll the host's assignments",
          ...host,
          parameters: [
            { name: 'waitMs', in: 'query', schema: { type: 'integer', minimum: 0, maximum: 30000 } },
            { name: 'version', in: 'query', schema: { type: 'string' } },
          ],
          responses: { '200': ok('{version, assignments}'), ...errors },
        },
      },
      '/v1/agent/reports': { post: { summary: 'Report step and check results (idempotent by report id)', ...host, requestBody: body(reportsBody), responses: { '200': ok('{accepted}'), ...errors } } },
      '/v1/rollouts': {
        get: { summary: 'List rollouts, newest first', ...role('viewer'), responses: { '200': ok('{rollouts}'), ...errors } },
        post: { summary: 'Start a rollout from a plan', ...role('operator'), requestBody: body(createRolloutBody), responses: { '201': ok('{id, name, state}'), ...errors } },
      },
      '/v1/rollouts/{id}': {
        get: {
          summary: 'A rollout with its waves, counts by step state, and per-host steps while it has at most 1,000 of them',
          description:
            'Each wave carries `index`, `hostCount` and `counts`; the rollout `hostsTotal`, `counts` and `hostsIncluded`. When `hostsIncluded` is false (over 1,000 steps) every wave has `hosts: []`: page through /v1/rollouts/{id}/hosts.',
          ...role('viewer'),
          parameters: idParam,
          responses: { '200': ok('rollout'), ...errors },
        },
      },
      '/v1/rollouts/{id}/summary': {
        get: {
          summary: 'A rollout with counts by step state per wave; no hosts',
          ...role('viewer'),
          parameters: idParam,
          responses: {
            '200': json('rollout summary', {
              type: 'object',
              properties: {
                id: { type: 'string' },
                name: { type: 'string' },
                state: { type: 'string' },
                hostsTotal: { type: 'integer' },
                counts: countsSchema,
                unconfirmedRollbacks: { type: 'integer' },
                waves: { type: 'array', items: waveCountsSchema },
                pendingWaves: { type: 'array', items: { type: 'string' } },
              },
            }),
            ...errors,
          },
        },
      },
      '/v1/rollouts/{id}/hosts': {
        get: {
          summary: "A page of a rollout's steps (one per host), in wave then host-name order",
          ...role('viewer'),
          parameters: [
            ...idParam,
            { name: 'state', in: 'query', description: 'Comma-separated step states, e.g. `failed,silent`.', schema: { type: 'string' } },
            { name: 'wave', in: 'query', description: "A wave's name (`prod`, `prod/zone-a`) or 0-based index.", schema: { type: 'string' } },
            ...pageParams,
          ],
          responses: {
            '200': json('a page of steps', { type: 'object', properties: { id: { type: 'string' }, hosts: { type: 'array', items: stepSchema }, nextCursor }, required: ['hosts', 'nextCursor'] }),
            ...errors,
          },
        },
      },
      '/v1/rollouts/{id}/events': {
        get: {
          summary: "A rollout's event log",
          ...role('viewer'),
          parameters: [...idParam, { name: 'after', in: 'query', schema: { type: 'integer' } }, { name: 'limit', in: 'query', schema: { type: 'integer', maximum: 5000 } }],
          responses: { '200': ok('{events}'), ...errors },
        },
      },
      '/v1/rollouts/{id}/pause': command('Pause', 'operator'),
      '/v1/rollouts/{id}/resume': command('Resume', 'operator'),
      '/v1/rollouts/{id}/abort': command('Abort', 'operator'),
      '/v1/rollouts/{id}/approve': command('Approve the wave waiting for approval in', 'approver'),
      '/v1/rollouts/{id}/rollback': command('Roll back', 'operator'),
      '/v1/rollouts/{id}/retry': command('Retry the failed wave of', 'operator'),
      '/v1/agent/drift': {
        post: { summary: 'Report drift events and resolved conditions (idempotent by event id)', ...host, requestBody: body(driftBody), responses: { '200': ok('{recorded}'), ...errors } },
      },
      '/v1/drift': {
        get: {
          summary: 'Drift by host and fleet-wide: open drift per kind, recent events',
          ...role('viewer'),
          parameters: [{ name: 'host', in: 'query', schema: { type: 'string' } }, { name: 'limit', in: 'query', schema: { type: 'integer', maximum: 5000 } }],
          responses: { '200': ok('{summary, hosts, events}'), ...errors },
        },
      },
      '/v1/updates': {
        get: {
          summary: 'Pending (security) updates reported in host facts, by package and per host',
          ...role('viewer'),
          parameters: [{ name: 'all', in: 'query', schema: { type: 'string', enum: ['true', 'false'] } }],
          responses: { '200': ok('{updates, hosts}'), ...errors },
        },
      },
      '/v1/hosts': {
        get: {
          summary: 'A page of enrolled hosts by name, with status and facts, filtered by labels and status',
          ...role('viewer'),
          parameters: [
            labelParam,
            { name: 'status', in: 'query', description: 'online: heard from within 3 heartbeat intervals.', schema: { type: 'string', enum: ['online', 'offline'] } },
            ...pageParams,
            { name: 'facts', in: 'query', description: 'false: leave facts out (only `allow`).', schema: { type: 'string', enum: ['true', 'false'], default: 'true' } },
          ],
          responses: {
            '200': json('a page of hosts', { type: 'object', properties: { hosts: { type: 'array', items: hostSchema }, nextCursor }, required: ['hosts', 'nextCursor'] }),
            ...errors,
          },
        },
      },
      '/v1/hosts/summary': {
        get: {
          summary: 'Host counts by status, and per value of one label key',
          ...role('viewer'),
          parameters: [labelParam, { name: 'by', in: 'query', description: 'A label key to count by (e.g. zone).', schema: { type: 'string' } }],
          responses: {
            '200': json('host counts', {
              type: 'object',
              properties: {
                total: { type: 'integer' },
                online: { type: 'integer' },
                offline: { type: 'integer' },
                labels: { type: 'object', additionalProperties: { type: 'string' } },
                by: {
                  type: 'object',
                  properties: {
                    key: { type: 'string' },
                    values: {
                      type: 'array',
                      description: 'Largest groups first, at most 1,000; value null: hosts without the label.',
                      items: { type: 'object', properties: { value: { type: ['string', 'null'] }, total: { type: 'integer' }, online: { type: 'integer' }, offline: { type: 'integer' } } },
                    },
                    truncated: { type: 'boolean' },
                  },
                },
              },
              required: ['total', 'online', 'offline'],
            }),
            ...errors,
          },
        },
      },
      // ---- the dashboard's routes (issue 11; routes/dashboard-routes.ts), usable with a token too ----
      '/v1/rollouts/{id}/stream': {
        get: {
          summary: 'Server-sent events: `plan` once, `rollout` (the GET /v1/rollouts/{id} view) whenever it changes, `events` (new event-log lines, id = last seq)',
          ...role('viewer'),
          parameters: [...idParam, { name: 'after', in: 'query', description: 'Event-log seq to go on after (or the Last-Event-ID header).', schema: { type: 'integer' } }],
          responses: { '200': { description: 'text/event-stream', content: { 'text/event-stream': { schema: { type: 'string' } } } }, '503': errorResponse, ...errors },
        },
      },
      '/v1/fleet/topology': {
        get: {
          summary: 'Host counts per combination of topology labels (aggregate cells, never hosts)',
          ...role('viewer'),
          parameters: [labelParam, { name: 'levels', in: 'query', description: 'Comma-separated label keys (default provider,region,zone,cluster).', schema: { type: 'string' } }],
          responses: {
            '200': json('topology cells', {
              type: 'object',
              properties: {
                levels: { type: 'array', items: { type: 'string' } },
                total: { type: 'integer' },
                online: { type: 'integer' },
                inRollout: { type: 'integer' },
                failing: { type: 'integer' },
                drifting: { type: 'integer' },
                cells: {
                  type: 'array',
                  description: 'At most 5,000, in label value order; a label value null: hosts without it.',
                  items: {
                    type: 'object',
                    properties: {
                      labels: { type: 'object', additionalProperties: { type: ['string', 'null'] } },
                      total: { type: 'integer' },
                      online: { type: 'integer' },
                      offline: { type: 'integer' },
                      inRollout: { type: 'integer', description: 'Hosts with a step in an unfinished rollout.' },
                      failing: { type: 'integer', description: 'Hosts failed or silent in an unfinished rollout.' },
                      drifting: { type: 'integer', description: 'Hosts with open drift.' },
                    },
                  },
                },
                truncated: { type: 'boolean' },
              },
            }),
            ...errors,
          },
        },
      },
      '/v1/hosts/{name}': {
        get: {
          summary: 'One host (labels, facts, status) and its steps across rollouts, newest first (at most 200)',
          ...role('viewer'),
          parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }],
          responses: { '200': ok('The host and its steps'), ...errors },
        },
      },
      '/v1/plans/scenarios': {
        get: { summary: 'The built-in incident scenarios a plan can be analysed over', ...role('viewer'), responses: { '200': ok('{scenarios: [name]}'), ...errors } },
      },
      '/v1/plans/analyze': {
        post: {
          summary: 'What a plan would do (`sluice plan analyze`), over the live inventory or a built-in scenario\'s simulated fleet; runs nothing',
          ...role('viewer'),
          requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['plan'], properties: { plan: { type: 'string' }, file: { type: 'string' }, scenario: { type: 'string' }, hosts: { type: 'integer', minimum: 1, maximum: 100000 } } } } } },
          responses: { '200': ok('{fleetSource, fleet, waves, worstCase, completion, warnings, text, ineligible?}'), ...errors },
        },
      },
      '/v1/plans/simulate': {
        post: {
          summary: "The incident of a built-in scenario rehearsed through the plan (`sluice sim run SCENARIO --plan`), at most 20,000 simulated hosts, one at a time per server; the HTML report is at the returned /ui/reports/ID for an hour",
          ...role('viewer'),
          requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['plan', 'scenario'], properties: { plan: { type: 'string' }, file: { type: 'string' }, scenario: { type: 'string' }, hosts: { type: 'integer', minimum: 1, maximum: 20000 }, seed: { type: 'integer', minimum: 0 } } } } } },
          responses: { '200': ok('{scenario, hosts, seed, text, report, uncontrolled, controlled}'), '503': errorResponse, ...errors },
        },
      },
      '/v1/updates/plan': {
        get: {
          summary: 'The staged plan for the security updates pending on the hosts matching `label` (what `sluice updates plan` writes); yaml null with a message when none is pending',
          ...role('viewer'),
          parameters: [labelParam, { name: 'name', in: 'query', description: 'The plan name (default security-updates-YYYY-MM-DD).', schema: { type: 'string' } }],
          responses: { '200': ok('{yaml, warnings, packages, hosts} or {yaml: null, message}'), ...errors },
        },
      },
      '/v1/rollouts/preview': {
        post: { summary: 'How many hosts a plan targets now and which of them are ineligible, and why; starts nothing', ...role('viewer'), requestBody: body(createRolloutBody), responses: { '200': ok('{targeted, ineligible}'), ...errors } },
      },
      '/v1/remediation/requests': {
        post: {
          summary: 'Ask the remediation guard before replacing, rebooting or deleting a host: allow or deny, with the reason (both 200), recorded',
          ...role('remediator'),
          requestBody: body(remediationRequestBody),
          responses: { '200': ok('{id, at, host, action, requester, principal, decision, reason, scope, affected, limit, alert}'), ...errors },
        },
        get: {
          summary: 'Remediation requests and answers, newest first',
          ...role('viewer'),
          parameters: [
            { name: 'host', in: 'query', schema: { type: 'string' } },
            { name: 'decision', in: 'query', schema: { type: 'string', enum: ['allow', 'deny'] } },
            { name: 'since', in: 'query', description: 'Unix milliseconds.', schema: { type: 'integer' } },
            { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 5000, default: 200 } },
          ],
          responses: { '200': ok('{requests}'), ...errors },
        },
      },
      '/v1/remediation/overrides': {
        post: {
          summary: "Override the guard for a scope (fleet, host=NAME, LABEL=VALUE) for a while, with a reason: its requests are allowed",
          ...role('operator'),
          requestBody: body(remediationOverrideBody),
          responses: { '201': ok('{override}'), ...errors },
        },
        get: { summary: 'Active overrides', ...role('viewer'), responses: { '200': ok('{overrides}'), ...errors } },
      },
      '/v1/remediation/overrides/{id}/end': {
        post: { summary: 'End an override before its time', ...role('operator'), parameters: idParam, responses: { '200': ok('{ended}'), ...errors } },
      },
      '/v1/tokens': {
        get: { summary: 'Named tokens (never a secret or a hash), revoked and expired ones included', ...role('admin'), responses: { '200': ok('{tokens}'), ...errors } },
        post: {
          summary: 'Create a named token; the answer carries its secret, shown this once and stored nowhere',
          ...role('admin'),
          requestBody: body(createTokenBody),
          responses: { '201': ok('{token, secret}'), ...errors },
        },
      },
      '/v1/tokens/{name}/revoke': {
        post: {
          summary: 'Revoke a named token: refused (401) within a second on every replica',
          ...role('admin'),
          parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }],
          responses: { '200': ok('{token}'), ...errors },
        },
      },
      '/v1/freeze': {
        get: { summary: 'The fleet freeze in force, if any: {frozen, freeze: {reason, by, startedAt, until, text}}', ...role('viewer'), responses: { '200': ok('{frozen, freeze}'), ...errors } },
        post: {
          summary: 'Freeze the fleet: every running rollout stops at its next wave boundary, new starts are refused (409) unless the plan is an emergency change; audited',
          ...role('admin'),
          requestBody: body(startFreezeBody),
          responses: { '201': ok('{frozen, freeze}'), ...errors },
        },
      },
      '/v1/freeze/end': {
        post: { summary: 'End the fleet freeze (409 when none is in force): waiting rollouts go on at the next tick; audited', ...role('admin'), requestBody: body(endFreezeBody), responses: { '200': ok('{frozen, freeze}'), ...errors } },
      },
      '/v1/audit': {
        get: {
          summary: 'The audit log, oldest first: state-changing requests, and refused or failed ones',
          ...role('admin'),
          parameters: [
            { name: 'actor', in: 'query', schema: { type: 'string' } },
            { name: 'action', in: 'query', description: 'Exact (`rollout.approve`) or a prefix ending in `.` or `*` (`rollout.*`).', schema: { type: 'string' } },
            { name: 'target', in: 'query', schema: { type: 'string' } },
            { name: 'result', in: 'query', schema: { type: 'string', enum: ['ok', 'denied', 'failed'] } },
            { name: 'since', in: 'query', description: 'ms since the epoch or ISO 8601; at >= since.', schema: { type: 'string' } },
            { name: 'until', in: 'query', description: 'ms since the epoch or ISO 8601; at < until.', schema: { type: 'string' } },
            { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: MAX_AUDIT_PAGE, default: DEFAULT_AUDIT_PAGE } },
            { name: 'cursor', in: 'query', description: 'The `nextCursor` of the previous page (the last id seen).', schema: { type: 'string' } },
            { name: 'format', in: 'query', description: 'jsonl: one JSON object per line; the next cursor in x-next-cursor.', schema: { type: 'string', enum: ['json', 'jsonl'] } },
          ],
          responses: { '200': ok('{entries, nextCursor, complete}'), ...errors },
        },
      },
      '/v1/notifications': {
        get: {
          summary: 'Recent webhook deliveries (the notification outbox), newest first, and their state',
          ...role('viewer'),
          parameters: [
            { name: 'state', in: 'query', schema: { type: 'string', enum: ['pending', 'delivered', 'failed'] } },
            { name: 'rollout', in: 'query', description: 'Only deliveries about this rollout id.', schema: { type: 'string' } },
            { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: MAX_NOTIFICATIONS_PAGE, default: DEFAULT_NOTIFICATIONS_PAGE } },
          ],
          responses: { '200': ok('{deliveries: [{id, event, rolloutId, endpoint, format, signed, state, attempts, createdAt, nextAttemptAt, deliveredAt, lastStatus, lastError}]}'), ...errors },
        },
      },
      '/v1/openapi.json': { get: { summary: 'This document', ...role('viewer'), responses: { '200': ok('OpenAPI document') } } },
    },
  };
  return cached;
}

// The OpenAPI 3.1 document served at /v1/openapi.json. Request bodies come from the same zod
// schemas the routes validate with; responses are described by hand (docs/api.md has examples).
import { z } from 'zod';
import { createRolloutBody, driftBody, enrollBody, heartbeatBody, reportsBody } from './schemas.ts';

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

export function buildOpenApi(): Record<string, unknown> {
  if (cached) return cached;
  const admin = [{ admin: [] }];
  const host = [{ hostCredential: [] }];
  const idParam = [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }];
  const command = (name: string) => ({
    post: { summary: `${name} a rollout`, security: admin, parameters: idParam, responses: { '200': ok('The rollout id and its new state'), ...errors } },
  });
  cached = {
    openapi: '3.1.0',
    info: { title: 'Sluice API', version: '1', description: 'Progressive, health-gated rollouts of infrastructure changes. See docs/api.md.' },
    components: {
      securitySchemes: {
        admin: { type: 'http', scheme: 'bearer', description: 'The admin token (SLUICE_ADMIN_TOKEN or DATA_DIR/admin.token).' },
        enrollment: { type: 'http', scheme: 'bearer', description: 'The enrollment token (SLUICE_ENROLL_TOKEN or DATA_DIR/enroll.token).' },
        hostCredential: { type: 'http', scheme: 'bearer', description: 'The credential a host received when it enrolled.' },
      },
    },
    paths: {
      '/healthz': { get: { summary: 'Liveness; no authentication', security: [], responses: { '200': { description: 'ok' } } } },
      '/v1/health': { get: { summary: "This replica's role (leader, starting, follower, unavailable), why, and who leads", security: admin, responses: { '200': ok('{role, replica, leader, reason, database, since, stoppedLeading, store}'), ...errors } } },
      '/metrics': { get: { summary: 'Prometheus metrics', security: admin, responses: { '200': { description: 'text/plain metrics' } } } },
      '/v1/agent/enroll': { post: { summary: 'Enroll a host', security: [{ enrollment: [] }], requestBody: body(enrollBody), responses: { '200': ok('{host, credential}'), ...errors } } },
      '/v1/agent/heartbeat': { post: { summary: 'Heartbeat with labels and facts', security: host, requestBody: body(heartbeatBody), responses: { '200': ok('{ok, heartbeatMs}'), ...errors } } },
      '/v1/agent/assignments': {
        get: {
          summary: "Long-poll the host's assignments",
          security: host,
          parameters: [
            { name: 'waitMs', in: 'query', schema: { type: 'integer', minimum: 0, maximum: 30000 } },
            { name: 'version', in: 'query', schema: { type: 'string' } },
          ],
          responses: { '200': ok('{version, assignments}'), ...errors },
        },
      },
      '/v1/agent/reports': { post: { summary: 'Report step and check results (idempotent by report id)', security: host, requestBody: body(reportsBody), responses: { '200': ok('{accepted}'), ...errors } } },
      '/v1/rollouts': {
        get: { summary: 'List rollouts, newest first', security: admin, responses: { '200': ok('{rollouts}'), ...errors } },
        post: { summary: 'Start a rollout from a plan', security: admin, requestBody: body(createRolloutBody), responses: { '201': ok('{id, name, state}'), ...errors } },
      },
      '/v1/rollouts/{id}': { get: { summary: 'A rollout with its waves and per-host steps', security: admin, parameters: idParam, responses: { '200': ok('rollout'), ...errors } } },
      '/v1/rollouts/{id}/events': {
        get: {
          summary: "A rollout's event log",
          security: admin,
          parameters: [...idParam, { name: 'after', in: 'query', schema: { type: 'integer' } }, { name: 'limit', in: 'query', schema: { type: 'integer', maximum: 5000 } }],
          responses: { '200': ok('{events}'), ...errors },
        },
      },
      '/v1/rollouts/{id}/pause': command('Pause'),
      '/v1/rollouts/{id}/resume': command('Resume'),
      '/v1/rollouts/{id}/abort': command('Abort'),
      '/v1/rollouts/{id}/approve': command('Approve the wave waiting for approval in'),
      '/v1/rollouts/{id}/rollback': command('Roll back'),
      '/v1/rollouts/{id}/retry': command('Retry the failed wave of'),
      '/v1/agent/drift': {
        post: { summary: 'Report drift events and resolved conditions (idempotent by event id)', security: host, requestBody: body(driftBody), responses: { '200': ok('{recorded}'), ...errors } },
      },
      '/v1/drift': {
        get: {
          summary: 'Drift by host and fleet-wide: open drift per kind, recent events',
          security: admin,
          parameters: [{ name: 'host', in: 'query', schema: { type: 'string' } }, { name: 'limit', in: 'query', schema: { type: 'integer', maximum: 5000 } }],
          responses: { '200': ok('{summary, hosts, events}'), ...errors },
        },
      },
      '/v1/updates': {
        get: {
          summary: 'Pending (security) updates reported in host facts, by package and per host',
          security: admin,
          parameters: [{ name: 'all', in: 'query', schema: { type: 'string', enum: ['true', 'false'] } }],
          responses: { '200': ok('{updates, hosts}'), ...errors },
        },
      },
      '/v1/hosts': { get: { summary: 'Enrolled hosts with status and facts', security: admin, responses: { '200': ok('{hosts}'), ...errors } } },
      '/v1/openapi.json': { get: { summary: 'This document', security: admin, responses: { '200': ok('OpenAPI document') } } },
    },
  };
  return cached;
}

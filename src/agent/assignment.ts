// Parses the server's assignments answer: the agent validates everything it is told to do, item by
// item, so one malformed assignment cannot stop the others.
import { z } from 'zod';
import type { Change, CheckSpec } from '../core/types.ts';
import type { AssignmentAction } from '../core/types.ts';

export interface Assignment {
  readonly rolloutId: string;
  readonly rolloutName: string;
  readonly attempt: number;
  readonly action: AssignmentAction;
  readonly change: Change;
  /** May hold kinds this agent does not know: runChecks fails those clearly. */
  readonly checks: readonly CheckSpec[];
  readonly checkInterval: number;
  readonly confirmWindow: number;
  readonly preflight: 'block' | 'warn';
}

/** An item the agent could not understand; `step` is set when it is clear which step it was for. */
export interface InvalidAssignment {
  readonly problem: string;
  readonly step: { readonly rolloutId: string; readonly attempt: number; readonly action: AssignmentAction } | null;
}

export interface AssignmentsAnswer {
  readonly version: string;
  readonly assignments: readonly Assignment[];
  readonly invalid: readonly InvalidAssignment[];
}

const rolloutId = z.string().regex(/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}$/);
const argv = z.array(z.string().refine((s) => !s.includes('\0'), 'must not contain NUL')).min(1);
const millis = z.number().int().positive();

const changeSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('command'), apply: argv, rollback: argv.optional(), timeout: millis }),
  z.object({
    kind: z.literal('apt'),
    install: z.record(z.string(), z.string()),
    remove: z.array(z.string()),
    timeout: millis,
    maxListAge: z.number().int().nonnegative().optional(),
  }),
  z.object({
    kind: z.literal('file'),
    path: z.string().min(1),
    content: z.string(),
    mode: z.number().int().min(0).max(0o7777),
    owner: z.string().optional(),
    group: z.string().optional(),
    reload: argv.optional(),
    timeout: millis,
  }),
]);

const KNOWN_CHECKS = {
  command: z.object({ kind: z.literal('command'), name: z.string(), command: argv, timeout: millis }),
  tcp: z.object({
    kind: z.literal('tcp'),
    name: z.string(),
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535),
    timeout: millis,
  }),
  http: z.object({
    kind: z.literal('http'),
    name: z.string(),
    url: z.string(),
    status: z.number().int(),
    bodyMatch: z.string().optional(),
    timeout: millis,
  }),
  systemdUnitActive: z.object({ kind: z.literal('systemdUnitActive'), name: z.string(), unit: z.string(), timeout: millis }),
  ipRulesPreserved: z.object({ kind: z.literal('ipRulesPreserved'), name: z.string(), timeout: millis }),
  routesPreserved: z.object({ kind: z.literal('routesPreserved'), name: z.string(), timeout: millis }),
} as const;

// A check kind newer than this agent is kept as it is, so the agent can report it as unsupported.
const checkSchema = z.looseObject({ kind: z.string().min(1), name: z.string() }).transform((raw, ctx) => {
  const known = (KNOWN_CHECKS as Record<string, z.ZodType>)[raw.kind];
  if (!known) return raw as unknown as CheckSpec;
  const parsed = known.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path });
    return z.NEVER;
  }
  // Common to every kind: whether the check also runs on a rolled-back host.
  const after = (raw as { afterRollback?: unknown }).afterRollback;
  return (typeof after === 'boolean' ? { ...(parsed.data as object), afterRollback: after } : parsed.data) as CheckSpec;
});

const stepSchema = z.object({
  rolloutId,
  attempt: z.number().int().nonnegative(),
  action: z.enum(['apply', 'verify', 'rollback']),
});

const assignmentSchema = stepSchema.extend({
  rolloutName: z.string(),
  change: changeSchema,
  checks: z.array(checkSchema),
  checkInterval: millis,
  confirmWindow: z.number().int().nonnegative().default(0),
  preflight: z.enum(['block', 'warn']).default('warn'),
});

const answerSchema = z.object({ version: z.string(), assignments: z.array(z.unknown()) });

function describe(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
}

/** Throws (an Error with the reason) only when the answer as a whole is malformed. */
export function parseAssignmentsAnswer(body: unknown): AssignmentsAnswer {
  const answer = answerSchema.safeParse(body);
  if (!answer.success) throw new Error(`malformed assignments answer: ${describe(answer.error)}`);
  const assignments: Assignment[] = [];
  const invalid: InvalidAssignment[] = [];
  const seen = new Set<string>();
  for (const item of answer.data.assignments) {
    const parsed = assignmentSchema.safeParse(item);
    if (parsed.success) {
      // One action per rollout at a time: a second item for the same rollout is a server bug.
      if (seen.has(parsed.data.rolloutId)) {
        invalid.push({ problem: `duplicate assignment for rollout ${parsed.data.rolloutId}`, step: null });
        continue;
      }
      seen.add(parsed.data.rolloutId);
      assignments.push(parsed.data as Assignment);
      continue;
    }
    const step = stepSchema.safeParse(item);
    invalid.push({ problem: describe(parsed.error), step: step.success ? step.data : null });
  }
  return { version: answer.data.version, assignments, invalid };
}

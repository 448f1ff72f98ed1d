// Parses the server's assignments answer: the agent validates everything it is told to do, item by
// item, so one malformed assignment cannot stop the others.
import * as z from 'zod/mini';
import './zod.ts';
import type { Change, CheckSpec, RebootSpec } from '../core/types.ts';
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
  /** The plan's `reboot:`; absent: never. */
  readonly reboot?: RebootSpec;
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

const rolloutId = z.string().check(z.regex(/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}$/));
const argv = z.array(z.string().check(z.refine((s) => !s.includes('\0'), 'must not contain NUL'))).check(z.minLength(1));
const millis = z.int().check(z.positive());

const changeSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('command'), apply: argv, rollback: z.optional(argv), timeout: millis }),
  z.object({
    kind: z.literal('apt'),
    install: z.record(z.string(), z.string()),
    remove: z.array(z.string()),
    timeout: millis,
    maxListAge: z.optional(z.int().check(z.nonnegative())),
  }),
  z.object({
    kind: z.literal('file'),
    path: z.string().check(z.minLength(1)),
    content: z.string(),
    mode: z.int().check(z.gte(0), z.lte(0o7777)),
    owner: z.optional(z.string()),
    group: z.optional(z.string()),
    reload: z.optional(argv),
    timeout: millis,
  }),
]);

const KNOWN_CHECKS = {
  command: z.object({ kind: z.literal('command'), name: z.string(), command: argv, timeout: millis }),
  tcp: z.object({
    kind: z.literal('tcp'),
    name: z.string(),
    host: z.string().check(z.minLength(1)),
    port: z.int().check(z.gte(1), z.lte(65535)),
    timeout: millis,
  }),
  http: z.object({
    kind: z.literal('http'),
    name: z.string(),
    url: z.string(),
    status: z.int(),
    bodyMatch: z.optional(z.string()),
    timeout: millis,
  }),
  systemdUnitActive: z.object({ kind: z.literal('systemdUnitActive'), name: z.string(), unit: z.string(), timeout: millis }),
  ipRulesPreserved: z.object({ kind: z.literal('ipRulesPreserved'), name: z.string(), timeout: millis }),
  routesPreserved: z.object({ kind: z.literal('routesPreserved'), name: z.string(), timeout: millis }),
} as const;

// A check kind newer than this agent is kept as it is, so the agent can report it as unsupported.
const checkSchema = z.pipe(z.looseObject({ kind: z.string().check(z.minLength(1)), name: z.string() }), z.transform((raw, ctx) => {
  const known = (KNOWN_CHECKS as Record<string, z.ZodMiniType>)[raw.kind];
  if (!known) return raw as unknown as CheckSpec;
  const parsed = known.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) ctx.issues.push({ code: 'custom', message: issue.message, path: issue.path, input: raw });
    return z.NEVER;
  }
  // Common to every kind: whether the check also runs on a rolled-back host.
  const after = (raw as { afterRollback?: unknown }).afterRollback;
  return (typeof after === 'boolean' ? { ...(parsed.data as object), afterRollback: after } : parsed.data) as CheckSpec;
}));

const stepSchema = z.object({
  rolloutId,
  attempt: z.int().check(z.nonnegative()),
  action: z.enum(['apply', 'verify', 'rollback']),
});

const assignmentSchema = z.extend(stepSchema, {
  rolloutName: z.string(),
  change: changeSchema,
  checks: z.array(checkSchema),
  checkInterval: millis,
  confirmWindow: z._default(z.int().check(z.nonnegative()), 0),
  preflight: z._default(z.enum(['block', 'warn']), 'warn'),
  reboot: z.optional(z.object({ when: z.enum(['ifRequired', 'always']), before: z.optional(argv), after: z.optional(argv), timeout: millis })),
});

const answerSchema = z.object({ version: z.string(), assignments: z.array(z.unknown()) });

function describe(error: z.core.$ZodError): string {
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

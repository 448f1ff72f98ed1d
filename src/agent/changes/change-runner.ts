// How the agent applies and rolls back one change kind. One runner per kind (command, apt, file);
// the agent picks the runner by `change.kind` only after checking its own --allow list.
import type { Change, Millis } from '../../core/types.ts';

export interface AgentLog {
  info(msg: string, data?: Record<string, unknown>): void;
  warn(msg: string, data?: Record<string, unknown>): void;
  error(msg: string, data?: Record<string, unknown>): void;
}

export interface ChangeContext {
  /** The agent's --state-dir; runners keep per-step records under `${stateDir}/steps`. */
  readonly stateDir: string;
  /** Unique per rollout and host: `${rolloutId}`; records for rollback are keyed by it. */
  readonly stepKey: string;
  /** The host's name as enrolled (the `command` runner passes it to commands as SLUICE_HOST). */
  readonly host?: string;
  readonly timeout: Millis;
  /** Directories a `file` change may write under (the agent's own --file-dir config). */
  readonly fileDirs: readonly string[];
  /** Root of the host's filesystem view for dpkg/apt/config reads: '/' on a real host, a test root in tests. */
  readonly root: string;
  readonly log: AgentLog;
  readonly signal?: AbortSignal;
}

export interface StepOutcome {
  readonly ok: boolean;
  /** For people: what happened, what was expected and what was seen when it failed. */
  readonly message: string;
  /** What the runner needs later to roll back (previous versions, previous file content...). JSON. */
  readonly record?: unknown;
}

export interface ChangeRunner<C extends Change = Change> {
  readonly kind: C['kind'];
  /** Must be idempotent: applying an applied change does nothing and succeeds. */
  apply(change: C, ctx: ChangeContext): Promise<StepOutcome>;
  /** `record` is what apply returned (null if apply never ran or left no record). */
  rollback(change: C, ctx: ChangeContext, record: unknown): Promise<StepOutcome>;
}

// The agent's logs: JSON lines (pino) on stderr. Secrets are never passed to the log, and are
// redacted by path as a second line of defence.
import { pino, destination, type DestinationStream } from 'pino';
import type { AgentLog } from './changes/change-runner.ts';

export function createAgentLog(opts: { level?: string; destination?: NodeJS.WritableStream } = {}): AgentLog {
  const logger = pino(
    {
      level: opts.level ?? process.env.SLUICE_LOG_LEVEL ?? 'info',
      base: { service: 'sluice-agent' },
      redact: {
        paths: ['token', 'credential', 'authorization', '*.token', '*.credential', '*.authorization'],
        censor: '[redacted]',
      },
    },
    (opts.destination ?? destination({ dest: 2, sync: true })) as DestinationStream,
  );
  return {
    info: (msg, data) => logger.info(data ?? {}, msg),
    warn: (msg, data) => logger.warn(data ?? {}, msg),
    error: (msg, data) => logger.error(data ?? {}, msg),
  };
}

/** Keeps every line in memory (tests assert on what was logged, and that no secret was). */
export function createMemoryLog(): AgentLog & { lines: { level: string; msg: string; data?: Record<string, unknown> }[] } {
  const lines: { level: string; msg: string; data?: Record<string, unknown> }[] = [];
  const at = (level: string) => (msg: string, data?: Record<string, unknown>) => {
    lines.push(data ? { level, msg, data } : { level, msg });
  };
  return { lines, info: at('info'), warn: at('warn'), error: at('error') };
}

/** An error's message for logs and report messages (anything thrown, not only Errors). */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

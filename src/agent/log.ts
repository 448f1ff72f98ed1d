// The agent's logs: JSON lines on stderr, in pino's format ({"level":30,"time":...,"service":
// "sluice-agent","msg":...} plus the data's fields), written synchronously. Not pino itself: the
// agent logs a few lines a minute, and pino with its streams costs an idle agent several MB.
// Secrets are never passed to the log, and are redacted by key as a second line of defence.
import { writeSync } from 'node:fs';
import type { AgentLog } from './changes/change-runner.ts';

const LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity } as const;
const SECRET_KEYS = new Set(['token', 'credential', 'authorization']);
const CENSOR = '[redacted]';

/** Top-level secret keys, and secret keys one object down (pino's 'token' and '*.token'). */
function redact(data: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(data)) {
    if (SECRET_KEYS.has(k)) out[k] = CENSOR;
    else if (v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Error)) {
      const inner: Record<string, unknown> = {};
      for (const [ik, iv] of Object.entries(v as Record<string, unknown>)) inner[ik] = SECRET_KEYS.has(ik) ? CENSOR : iv;
      out[k] = inner;
    } else if (v instanceof Error) out[k] = { type: v.name, message: v.message, stack: v.stack };
    else out[k] = v;
  }
  return out;
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  } catch {
    return JSON.stringify({ ...(value as Record<string, unknown>), data: '[unserializable]' });
  }
}

export function createAgentLog(opts: { level?: string; destination?: NodeJS.WritableStream } = {}): AgentLog {
  const name = (opts.level ?? process.env.SLUICE_LOG_LEVEL ?? 'info') as keyof typeof LEVELS;
  const threshold = LEVELS[name] ?? LEVELS.info;
  const write = (line: string) => {
    if (opts.destination) opts.destination.write(line);
    else {
      try {
        writeSync(2, line);
      } catch {
        // stderr gone (EPIPE, closed): logging must never stop the agent.
      }
    }
  };
  const at = (level: 'info' | 'warn' | 'error') => (msg: string, data?: Record<string, unknown>) => {
    if (LEVELS[level] < threshold) return;
    write(`${safeJson({ level: LEVELS[level], time: Date.now(), service: 'sluice-agent', ...(data ? redact(data) : {}), msg })}\n`);
  };
  return { info: at('info'), warn: at('warn'), error: at('error') };
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

// Structured JSON logs (pino). Secrets are redacted by path wherever they could appear.
import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

export function createLogger(opts: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  return pino(
    {
      level: opts.level ?? process.env.SLUICE_LOG_LEVEL ?? 'info',
      base: { service: 'sluice-server' },
      redact: {
        paths: ['token', 'credential', 'secret', 'authorization', 'headers.authorization', '*.token', '*.credential', '*.secret'],
        censor: '[redacted]',
      },
    },
    // pino accepts any writable stream as destination.
    (opts.destination ?? process.stdout) as DestinationStream,
  );
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
